#include "mxegress/loop/mx_lookup.h"

#include <ares.h>

#include <algorithm>

#include "mxegress/loop/ares_channel.h"

namespace mx {
namespace {

constexpr int kTypeMx = 15;  // ns_t_mx

}  // namespace

MxResult mx_result(int ares_status, ByteView answer) {
  MxResult result;
  switch (ares_status) {
    case ARES_SUCCESS:
      break;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
      result.status = MxResult::Status::NoMx;
      result.error = ares_strerror(ares_status);
      return result;
    case ARES_ETIMEOUT:
      result.status = MxResult::Status::Timeout;
      result.error = ares_strerror(ares_status);
      return result;
    default:
      result.status = MxResult::Status::Failed;
      result.error = ares_strerror(ares_status);
      return result;
  }
  ares_mx_reply* replies = nullptr;
  const int rc = ares_parse_mx_reply(answer.data(), static_cast<int>(answer.size()), &replies);
  if (rc == ARES_ENODATA) {
    result.status = MxResult::Status::NoMx;
    result.error = ares_strerror(rc);
    return result;
  }
  if (rc != ARES_SUCCESS) {
    result.status = MxResult::Status::Failed;
    result.error = std::string("unreadable answer: ") + ares_strerror(rc);
    return result;
  }
  for (const ares_mx_reply* r = replies; r != nullptr; r = r->next) {
    result.hosts.push_back(MxHost{r->priority, r->host != nullptr ? r->host : ""});
  }
  ares_free_data(replies);
  std::stable_sort(result.hosts.begin(), result.hosts.end(),
                   [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
  result.status = result.hosts.empty() ? MxResult::Status::NoMx : MxResult::Status::Ok;
  if (result.hosts.empty()) result.error = "no MX records";
  return result;
}

MxLookup::MxLookup(Loop& loop, const ResolverSettings& settings, const std::string& domain,
                   Callback done)
    : done_(std::move(done)), later_(loop), deadline_(loop) {
  std::string err;
  channel_ = AresChannel::create(loop, settings, err);
  if (!channel_) {
    later_.schedule([this, err] { answer(MxResult{MxResult::Status::Failed, {}, err}); });
    return;
  }
  deadline_.start(settings.timeout, [this, timeout = settings.timeout] {
    answer(MxResult{MxResult::Status::Timeout,
                    {},
                    "no answer within " + std::to_string(timeout.count()) + " ms"});
  });
  channel_->query(domain, kTypeMx, &MxLookup::on_answer, this);
}

MxLookup::~MxLookup() {
  done_ = nullptr;  // the channel's end calls on_answer (ARES_EDESTRUCTION): nobody listens
  channel_.reset();
}

void MxLookup::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* self = static_cast<MxLookup*>(arg);
  if (!self->done_) return;
  MxResult result = mx_result(
      status, abuf != nullptr && alen > 0 ? ByteView(abuf, static_cast<size_t>(alen)) : ByteView());
  // Possibly inside ares_query or ares_process: the answer waits for the loop.
  self->later_.schedule(
      [self, result = std::move(result)]() mutable { self->answer(std::move(result)); });
}

void MxLookup::answer(MxResult result) {
  deadline_.stop();
  later_.cancel();
  if (!done_) return;
  Callback done = std::move(done_);
  done_ = nullptr;
  done(std::move(result));
}

}  // namespace mx
