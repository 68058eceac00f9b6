#include "mxegress/relay/held_input.h"

namespace mx {

HeldInput::HeldInput(Stream& client, Bytes already, GoneCallback on_gone)
    : client_(client), held_(std::move(already)), on_gone_(std::move(on_gone)) {
  client_.set_reader(this);
  if (held_.size() >= kMaxHeld) {
    client_.pause_reading();
  } else {
    client_.resume_reading();
  }
}

HeldInput::~HeldInput() {
  if (watching_) release();
}

Bytes HeldInput::release(bool keep_reading) {
  if (watching_) {
    watching_ = false;
    if (!keep_reading) client_.pause_reading();
    client_.set_reader(nullptr);
  }
  return std::move(held_);
}

void HeldInput::on_stream_data(ByteView data) {
  held_.insert(held_.end(), data.begin(), data.end());
  if (held_.size() >= kMaxHeld) client_.pause_reading();
}

void HeldInput::on_stream_eof() { gone("closed by the client before the reply"); }

void HeldInput::on_stream_error(const std::string& why) {
  gone("client connection failed before the reply: " + why);
}

void HeldInput::gone(const std::string& why) {
  release();
  auto on_gone = std::move(on_gone_);
  if (on_gone) on_gone(why);  // may destroy this
}

}  // namespace mx
