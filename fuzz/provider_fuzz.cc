// The provider of an MX host (proxy-server/smtp/provider_map.h) over
// arbitrary bytes: as a host name and as the text of a greeting a remote MX
// sends. Besides not crashing: a provider is "" or a rollup name or the
// registrable domain, which is a whole-label suffix of the host in lower case;
// a greeting's host is a valid name with a dot, lower case, that
// banner_host gives back unchanged and whose provider is computed the same
// way whatever its case and trailing dot.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/provider_map.h"

namespace {

void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "provider invariant broken: %s\n", what);
  std::abort();
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A provider that is not a rollup name is the host or one of its domains.
void check_provider(std::string_view host, const std::string& provider) {
  if (provider.empty() || provider.find('.') == std::string::npos) return;  // "" or a rollup name
  std::string normal = lower(host);
  if (!normal.empty() && normal.back() == '.') normal.pop_back();
  require(normal.size() >= provider.size(), "provider longer than the host");
  require(normal.compare(normal.size() - provider.size(), provider.size(), provider) == 0,
          "provider is not a suffix of the host");
  require(normal.size() == provider.size() || normal[normal.size() - provider.size() - 1] == '.',
          "provider does not start at a label");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const mx::ProviderMap map({{"fuzz.example", "fuzz"}});
  std::string_view text(reinterpret_cast<const char*>(data), size);

  check_provider(text, map.provider_of(text));

  if (auto host = mx::ProviderMap::banner_host(text)) {
    require(!host->empty() && host->size() <= 253, "host length");
    require(host->find('.') != std::string::npos, "host without a dot");
    require(*host == lower(*host), "host not in lower case");
    require(mx::ProviderMap::banner_host(*host) == host, "host does not read back as itself");
    std::string provider = map.provider_of(*host);
    check_provider(*host, provider);
    std::string upper_dotted = *host + ".";
    for (char& c : upper_dotted) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    require(map.provider_of(upper_dotted) == provider, "case or trailing dot changed the provider");
  }
  return 0;
}
