// What the service manager hears from a program (systemd's Type=notify,
// sd_notify(3); docs/systemd.md): READY=1 once it serves, RELOADING=1 and
// READY=1 around a reload, STOPPING=1 when it drains, a STATUS= line with
// live counts (at most once a second, and only when it changed), and
// WATCHDOG=1 pings at half the manager's WatchdogSec, each sent only once a
// probe proved that the program's loops still turn.
//
// Without NOTIFY_SOCKET (not started by systemd, or by a manager that does
// not listen) it does nothing: no message, no timer.
//
// Everything runs on the loop it was made for (the programs' main loop);
// `report` and `alive` callbacks handed to the probes must be called there
// (the server's probes go round its loop threads and come back with
// Loop::post). They may come after the notifier is gone: they then do nothing.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "mxegress/loop/loop.h"
#include "mxegress/loop/timer.h"

namespace mx {

class ServiceNotifier {
 public:
  using Send = std::function<void(const std::string& message)>;
  struct Settings {
    bool enabled = false;                  // NOTIFY_SOCKET is set
    std::chrono::microseconds watchdog{};  // WatchdogSec (0: the manager wants no pings)
    Send send;                             // one datagram; sd_notify(0, …) by default
    std::chrono::milliseconds status_period{1000};
  };
  // From the environment (sd_notify, sd_watchdog_enabled).
  static Settings from_environment();

  // Asked for a status: calls `report` with the counts text, now or later.
  using StatusProbe = std::function<void(std::function<void(std::string counts)> report)>;
  // Asked whether every loop turns: calls `alive` once each of them did.
  using WatchdogProbe = std::function<void(std::function<void()> alive)>;

  explicit ServiceNotifier(Loop& loop, Settings settings = from_environment());
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  bool enabled() const { return settings_.enabled; }
  std::chrono::milliseconds watchdog_period() const;  // half of WatchdogSec; 0: none

  // Starts the status updates (every status_period, sent when changed) and,
  // when the manager asks for them, the watchdog pings.
  void start(StatusProbe status, WatchdogProbe watchdog);
  // READY=1, once (a reload's end says it again).
  void ready();
  // RELOADING=1. The callback it returns ends the reload: with "" READY=1;
  // with why it was refused READY=1 too (the old configuration serves), and
  // the status says "reload refused: why" until the next successful reload.
  // It may be called after the notifier is gone: it then does nothing.
  std::function<void(const std::string& refused)> reloading();
  void reload_done(const std::string& refused);
  // STOPPING=1; nothing but status and watchdog messages after it.
  void stopping();

  // Pure parts, for tests.
  // One line of at most `max` bytes ("..." at the end when shortened, never
  // inside a UTF-8 sequence): control characters (a newline would start
  // another assignment) become spaces.
  static constexpr size_t kMaxStatus = 400;
  static std::string status_line(std::string_view text, size_t max = kMaxStatus);
  // "NOTE; COUNTS", or either alone.
  static std::string compose_status(std::string_view note, std::string_view counts);

 private:
  enum class State { Starting, Ready, Reloading, Stopping };
  struct Back {  // nulled by the destructor; held by callbacks in flight
    ServiceNotifier* self;
  };

  void send(const std::string& message);
  // MESSAGE, and "\nSTATUS=…" when there is a status (remembered as sent).
  std::string with_status(std::string message);
  std::string status_now() const;
  void poll_status();
  void on_counts(std::string counts);
  void poll_watchdog();

  [[maybe_unused]] Loop& loop_;  // for MX_ASSERT_IN_LOOP (debug builds)
  Settings settings_;
  std::shared_ptr<Back> back_;
  State state_ = State::Starting;
  std::string note_;    // "reload refused: …", "stopping"
  std::string counts_;  // the last probe's answer
  std::string sent_status_;
  std::chrono::steady_clock::time_point status_sent_at_{};  // the last STATUS-only message
  StatusProbe status_probe_;
  WatchdogProbe watchdog_probe_;
  bool status_pending_ = false;
  bool watchdog_pending_ = false;
  Timer status_timer_;
  Timer watchdog_timer_;
};

}  // namespace mx
