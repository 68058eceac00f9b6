#include "mxegress/loop/service_notifier.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <ctime>

namespace mx {

ServiceNotifier::Settings ServiceNotifier::from_environment() {
  Settings settings;
  const char* socket = std::getenv("NOTIFY_SOCKET");
  settings.enabled = socket != nullptr && *socket != '\0';
  uint64_t usec = 0;
  // > 0 when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process.
  if (settings.enabled && sd_watchdog_enabled(0, &usec) > 0) {
    settings.watchdog = std::chrono::microseconds(usec);
  }
  settings.send = [](const std::string& message) { sd_notify(0, message.c_str()); };
  return settings;
}

ServiceNotifier::ServiceNotifier(Loop& loop, Settings settings)
    : loop_(loop),
      settings_(std::move(settings)),
      back_(std::make_shared<Back>(Back{this})),
      status_timer_(loop),
      watchdog_timer_(loop) {}

ServiceNotifier::~ServiceNotifier() { back_->self = nullptr; }

std::chrono::milliseconds ServiceNotifier::watchdog_period() const {
  if (!settings_.enabled || settings_.watchdog.count() <= 0) return {};
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(settings_.watchdog / 2));
}

std::string ServiceNotifier::status_line(std::string_view text, size_t max) {
  max = std::max<size_t>(max, 4);
  std::string line;
  line.reserve(std::min(text.size(), max));
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    line.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  if (line.size() > max) {
    line.resize(max - 3);
    // Do not leave half of a UTF-8 sequence before the ellipsis.
    size_t lead = line.size();
    while (lead > 0 && (static_cast<unsigned char>(line[lead - 1]) & 0xc0) == 0x80) --lead;
    if (lead > 0) {
      const auto first = static_cast<unsigned char>(line[lead - 1]);
      const size_t length = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
      if (lead - 1 + length > line.size()) line.resize(lead - 1);
    }
    line += "...";
  }
  return line;
}

std::string ServiceNotifier::compose_status(std::string_view note, std::string_view counts) {
  if (note.empty()) return std::string(counts);
  if (counts.empty()) return std::string(note);
  return std::string(note) + "; " + std::string(counts);
}

void ServiceNotifier::send(const std::string& message) {
  if (!settings_.enabled || !settings_.send) return;
  settings_.send(message);
}

std::string ServiceNotifier::status_now() const {
  return status_line(compose_status(note_, counts_));
}

void ServiceNotifier::start(StatusProbe status, WatchdogProbe watchdog) {
  MX_ASSERT_IN_LOOP(loop_);
  if (!settings_.enabled) return;
  status_probe_ = std::move(status);
  watchdog_probe_ = std::move(watchdog);
  if (status_probe_) poll_status();
  if (watchdog_probe_ && watchdog_period().count() > 0) {
    watchdog_timer_.start(watchdog_period(), [this] { poll_watchdog(); });
  }
}

void ServiceNotifier::poll_status() {
  status_timer_.start(settings_.status_period, [this] { poll_status(); });
  if (status_pending_) return;  // a loop has not answered the last one yet
  status_pending_ = true;
  status_probe_([back = back_](std::string counts) {
    if (back->self != nullptr) back->self->on_counts(std::move(counts));
  });
}

void ServiceNotifier::on_counts(std::string counts) {
  status_pending_ = false;
  counts_ = std::move(counts);
  std::string status = status_now();
  if (status == sent_status_) return;
  // An answer that came late (a busy loop) must not make two updates in a
  // row: this one waits for the next period's.
  const auto now = std::chrono::steady_clock::now();
  if (now - status_sent_at_ < settings_.status_period * 9 / 10) return;
  status_sent_at_ = now;
  sent_status_ = status;
  send("STATUS=" + status);
}

std::string ServiceNotifier::with_status(std::string message) {
  sent_status_ = status_now();
  if (!sent_status_.empty()) message += "\nSTATUS=" + sent_status_;
  return message;
}

void ServiceNotifier::poll_watchdog() {
  watchdog_timer_.start(watchdog_period(), [this] { poll_watchdog(); });
  // A loop that has not answered the last probe is stuck (or slow): no
  // ping until it does, so the manager's WatchdogSec runs out on a stuck one.
  if (watchdog_pending_) return;
  watchdog_pending_ = true;
  watchdog_probe_([back = back_] {
    if (back->self == nullptr) return;
    back->self->watchdog_pending_ = false;
    back->self->send("WATCHDOG=1");
  });
}

void ServiceNotifier::ready() {
  if (state_ != State::Starting) return;
  state_ = State::Ready;
  send(with_status("READY=1"));
}

std::function<void(const std::string&)> ServiceNotifier::reloading() {
  auto done = [back = back_](const std::string& refused) {
    if (back->self != nullptr) back->self->reload_done(refused);
  };
  if (state_ != State::Ready && state_ != State::Reloading) return done;
  state_ = State::Reloading;
  note_ = "reloading the configuration";
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t usec =
      static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
  // MONOTONIC_USEC: what systemd 253's Type=notify-reload expects with it.
  send(with_status("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec)));
  return done;
}

void ServiceNotifier::reload_done(const std::string& refused) {
  if (state_ != State::Reloading) return;
  state_ = State::Ready;
  if (refused.empty()) {
    note_.clear();
  } else {
    // Shortened so that the counts still fit behind it.
    note_ = status_line("reload refused: " + refused, kMaxStatus - 100);
  }
  send(with_status("READY=1"));
}

void ServiceNotifier::stopping() {
  if (state_ == State::Stopping) return;
  state_ = State::Stopping;
  note_ = "stopping";
  send(with_status("STOPPING=1"));
}

}  // namespace mx
