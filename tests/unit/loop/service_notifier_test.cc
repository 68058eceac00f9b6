// ServiceNotifier: the messages systemd hears, their order and state
// (READY once, RELOADING/READY around a reload, a refused reload's status,
// nothing but STATUS and WATCHDOG after STOPPING), the status sent only when
// it changed, and watchdog pings only once a probe came back. The real
// sd_notify datagrams are checked end to end by
// tests/integration/test_systemd.py.
#include "mxegress/loop/service_notifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "mxegress/loop/timer.h"

namespace mx {
namespace {

using namespace std::chrono_literals;

ServiceNotifier::Settings recording(std::vector<std::string>& sent,
                                    std::chrono::microseconds watchdog = {}) {
  ServiceNotifier::Settings settings;
  settings.enabled = true;
  settings.watchdog = watchdog;
  settings.send = [&sent](const std::string& message) { sent.push_back(message); };
  settings.status_period = 10ms;
  return settings;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

TEST(ServiceNotifierTest, StatusLineIsOneLineAndBounded) {
  EXPECT_EQ(ServiceNotifier::status_line("a\nb\rc\td\x7f"
                                         "e"),
            "a b c d e");
  const std::string shortened = ServiceNotifier::status_line(std::string(1000, 'x'));
  EXPECT_EQ(shortened.size(), ServiceNotifier::kMaxStatus);
  EXPECT_EQ(shortened.substr(shortened.size() - 3), "...");
  // "é" is two bytes: a cut in its middle drops it whole, a cut after it keeps it.
  const std::string e4 = "ab\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
  EXPECT_EQ(ServiceNotifier::status_line(e4, 8), "ab\xc3\xa9...");
  EXPECT_EQ(ServiceNotifier::status_line(e4, 9), "ab\xc3\xa9\xc3\xa9...");
  EXPECT_EQ(ServiceNotifier::status_line(e4, 10), e4);
  EXPECT_EQ(ServiceNotifier::status_line("short", 8), "short");
}

TEST(ServiceNotifierTest, ComposeStatus) {
  EXPECT_EQ(ServiceNotifier::compose_status("", "2 tunnels"), "2 tunnels");
  EXPECT_EQ(ServiceNotifier::compose_status("stopping", ""), "stopping");
  EXPECT_EQ(ServiceNotifier::compose_status("stopping", "2 tunnels"), "stopping; 2 tunnels");
}

TEST(ServiceNotifierTest, DisabledSendsNothingAndStartsNoTimer) {
  Loop loop;
  int probes = 0;
  ServiceNotifier::Settings settings;
  settings.enabled = false;
  settings.watchdog = 20ms;
  settings.send = [](const std::string&) { ADD_FAILURE() << "sent while disabled"; };
  ServiceNotifier notifier(loop, settings);
  notifier.start(
      [&](auto report) {
        ++probes;
        report("x");
      },
      [&](auto alive) {
        ++probes;
        alive();
      });
  notifier.ready();
  notifier.reloading()("");
  notifier.stopping();
  EXPECT_EQ(notifier.watchdog_period(), 0ms);
  EXPECT_EQ(uv_loop_alive(loop.get()), 0) << "no timer keeps the loop running";
  EXPECT_EQ(probes, 0);
}

TEST(ServiceNotifierTest, LifecycleMessages) {
  Loop loop;
  std::vector<std::string> sent;
  ServiceNotifier notifier(loop, recording(sent));
  std::string counts = "0 tunnels, 0 sessions";
  int polls = 0;
  int stop_at = -1;
  notifier.start(
      [&](auto report) {
        report(counts);
        if (++polls == stop_at) loop.stop();
      },
      {});
  ASSERT_EQ(sent, std::vector<std::string>{"STATUS=0 tunnels, 0 sessions"});

  notifier.ready();
  notifier.ready();  // once only
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1], "READY=1\nSTATUS=0 tunnels, 0 sessions");

  auto done = notifier.reloading();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_TRUE(starts_with(sent[2], "RELOADING=1\nMONOTONIC_USEC=")) << sent[2];
  EXPECT_NE(sent[2].find("\nSTATUS=reloading the configuration; 0 tunnels, 0 sessions"),
            std::string::npos)
      << sent[2];
  done("server.toml:3: bad key\nserver.toml:4: worse");
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[3],
            "READY=1\nSTATUS=reload refused: server.toml:3: bad key server.toml:4: worse; "
            "0 tunnels, 0 sessions");
  done("again");  // a reload ends once
  EXPECT_EQ(sent.size(), 4u);

  // The refusal stays in the status while the counts change.
  counts = "1 tunnels, 2 sessions";
  stop_at = polls + 5;  // five periods
  loop.run();
  ASSERT_EQ(sent.size(), 5u) << "one STATUS for one change, however many periods";
  EXPECT_EQ(sent[4],
            "STATUS=reload refused: server.toml:3: bad key server.toml:4: worse; "
            "1 tunnels, 2 sessions");

  notifier.reloading()("");  // a good reload clears it
  ASSERT_EQ(sent.size(), 7u);
  EXPECT_EQ(sent[6], "READY=1\nSTATUS=1 tunnels, 2 sessions");

  notifier.stopping();
  ASSERT_EQ(sent.size(), 8u);
  EXPECT_EQ(sent[7], "STOPPING=1\nSTATUS=stopping; 1 tunnels, 2 sessions");
  notifier.ready();
  notifier.reloading()("");
  notifier.stopping();
  EXPECT_EQ(sent.size(), 8u) << "nothing but STATUS after STOPPING";
}

TEST(ServiceNotifierTest, ReloadEndAfterTheNotifierIsGoneDoesNothing) {
  Loop loop;
  std::vector<std::string> sent;
  std::function<void(const std::string&)> done;
  std::function<void(std::string)> report;
  {
    ServiceNotifier notifier(loop, recording(sent));
    notifier.start([&](auto r) { report = r; }, {});
    notifier.ready();
    done = notifier.reloading();
  }
  const size_t before = sent.size();
  done("");
  report("late");
  EXPECT_EQ(sent.size(), before);
}

TEST(ServiceNotifierTest, StatusProbeNotRepeatedWhileOneIsOut) {
  Loop loop;
  std::vector<std::string> sent;
  ServiceNotifier notifier(loop, recording(sent));
  int probes = 0;
  std::function<void(std::string)> report;
  notifier.start(
      [&](auto r) {
        ++probes;
        report = r;
      },
      {});
  Timer stop(loop);
  uv_update_time(loop.get());
  stop.start(50ms, [&] { loop.stop(); });
  loop.run();
  EXPECT_EQ(probes, 1);
  EXPECT_TRUE(sent.empty());
  report("3 tunnels");
  EXPECT_EQ(sent, std::vector<std::string>{"STATUS=3 tunnels"});
}

TEST(ServiceNotifierTest, WatchdogPingsAtHalfTheIntervalOnlyWhenTheProbeCameBack) {
  Loop loop;
  std::vector<std::string> sent;
  ServiceNotifier notifier(loop, recording(sent, 20ms));
  EXPECT_EQ(notifier.watchdog_period(), 10ms);
  int probes = 0;
  std::function<void()> alive;
  bool answer = true;
  notifier.start({}, [&](auto a) {
    ++probes;
    if (answer) {
      a();
      if (probes == 3) loop.stop();
    } else {
      alive = a;
    }
  });
  loop.run();
  EXPECT_EQ(sent, std::vector<std::string>(3, "WATCHDOG=1"));

  // A stuck loop: the probe does not come back, no ping, no second probe.
  answer = false;
  sent.clear();
  probes = 0;
  Timer stop(loop);
  uv_update_time(loop.get());
  stop.start(60ms, [&] { loop.stop(); });
  loop.run();
  EXPECT_EQ(probes, 1);
  EXPECT_TRUE(sent.empty());
  alive();  // it turned at last
  EXPECT_EQ(sent, std::vector<std::string>{"WATCHDOG=1"});
}

TEST(ServiceNotifierTest, WatchdogPeriodIsHalfOfWatchdogSec) {
  Loop loop;
  std::vector<std::string> sent;
  EXPECT_EQ(ServiceNotifier(loop, recording(sent, 30s)).watchdog_period(), 15000ms);
  EXPECT_EQ(ServiceNotifier(loop, recording(sent)).watchdog_period(), 0ms);
}

TEST(ServiceNotifierTest, FromEnvironment) {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  EXPECT_FALSE(ServiceNotifier::from_environment().enabled);
  ::setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
  ::setenv("WATCHDOG_USEC", "4000000", 1);
  ServiceNotifier::Settings settings = ServiceNotifier::from_environment();
  EXPECT_TRUE(settings.enabled);
  EXPECT_EQ(settings.watchdog, 4s);
  ::setenv("WATCHDOG_PID", "1", 1);  // another process's watchdog
  EXPECT_EQ(ServiceNotifier::from_environment().watchdog, 0s);
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
}

}  // namespace
}  // namespace mx
