// The MX records of a mail domain, looked up on the loop as an MTA does
// before it connects (RFC 5321 section 5.1): the hosts in order of
// preference, or the domain itself when it has no MX records ("implicit
// MX"), or why the lookup failed. One lookup per MxLookup, on its own
// c-ares channel (ares_channel.h) made with the [resolver] settings.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/timer.h"
#include "mxegress/net/resolver_settings.h"
#include "mxegress/util/bytes.h"

namespace mx {

class AresChannel;

struct MxHost {
  uint16_t preference = 0;
  std::string host;
  bool operator==(const MxHost&) const = default;
};

struct MxResult {
  enum class Status {
    Ok,       // hosts has at least one MX record
    NoMx,     // the name has no MX records (or does not exist): use it as the host
    Timeout,  // no answer within [resolver] timeout
    Failed,   // the servers failed, or the answer could not be read
  };
  Status status = Status::Failed;
  std::vector<MxHost> hosts;  // by preference, lowest first; ties in answer order
  std::string error;          // why not, when not Ok
};

// What MxResult says for ares_query's outcome: the c-ares status and, on
// success, the answer's bytes (parsed with ares_parse_mx_reply).
MxResult mx_result(int ares_status, ByteView answer);

class MxLookup {
 public:
  using Callback = std::function<void(MxResult)>;
  // Starts at once; `done` runs once, from the loop, unless this is destroyed first.
  // A channel that cannot be made is a Failed answer, also from the loop.
  MxLookup(Loop& loop, const ResolverSettings& settings, const std::string& domain, Callback done);
  ~MxLookup();
  MxLookup(const MxLookup&) = delete;
  MxLookup& operator=(const MxLookup&) = delete;

 private:
  static void on_answer(void* arg, int status, int timeouts, unsigned char* abuf, int alen);
  void answer(MxResult result);

  Callback done_;
  DeferredCall later_;
  Timer deadline_;
  std::unique_ptr<AresChannel> channel_;
};

}  // namespace mx
