// Feeds arbitrary text to both configuration parsers, and to the address,
// CIDR, duration and byte size parsers they use. Nothing may crash, and a result is
// either a configuration or at least one error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mxegress/config/byte_size.h"
#include "mxegress/config/client_config.h"
#include "mxegress/config/duration.h"
#include "mxegress/config/server_config.h"
#include "mxegress/net/cidr.h"
#include "mxegress/net/destination_filter.h"

namespace {

template <class Config>
void check(const mx::ConfigResult<Config>& result) {
  if (result.ok() == result.errors.empty()) return;
  std::abort();
}

void parse_fragments(std::string_view text) {
  static const mx::DestinationFilter filter;
  if (auto address = mx::SocketAddress::parse(text)) {
    if (mx::SocketAddress::parse(address->to_string()) != address) std::abort();
    (void)filter.denied_reason(*address);
  }
  if (auto cidr = mx::Cidr::parse(text)) {
    if (mx::Cidr::parse(cidr->to_string()) != cidr) std::abort();
  }
  (void)mx::parse_host_port(text);
  (void)mx::parse_duration(text);
  if (auto bytes = mx::parse_byte_size(text)) {
    if (mx::parse_byte_size(mx::format_byte_size(*bytes)) != bytes) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(mx::parse_client_config(text, "client.toml", "/etc/mxegress"));
  check(mx::parse_server_config(text, "server.toml", "/etc/mxegress"));
  parse_fragments(text);
  return 0;
}
