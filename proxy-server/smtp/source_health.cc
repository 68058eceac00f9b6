#include "smtp/source_health.h"

namespace mx {
namespace {

// How long the test session after a cooldown has to bring its banner
// before another session may test the address.
constexpr std::chrono::minutes kTestTimeout{1};

}  // namespace

SourceHealth::Settings SourceHealth::settings_of(const SmtpConfig& config) {
  return {config.window, config.suspect_min_sessions, config.suspect_percent, config.cooldown};
}

void SourceHealth::prune(Pair& pair, Clock::time_point now, std::chrono::milliseconds window) {
  while (!pair.samples.empty() &&
         (pair.samples.front().first + window < now || pair.samples.size() > kMaxSamples)) {
    if (pair.samples.front().second) --pair.refused;
    pair.samples.pop_front();
  }
}

SourceHealth::Verdict SourceHealth::record(const std::string& source, const std::string& provider,
                                           int code, const std::string& text,
                                           Clock::time_point now, const Settings& settings) {
  std::lock_guard lock(mutex_);
  auto it = pairs_.find({source, provider});
  if (it == pairs_.end()) {
    if (pairs_.size() >= kMaxPairs) return {};
    it = pairs_.try_emplace({source, provider}).first;
  }
  Pair& pair = it->second;
  const bool refused = is_refusing_banner(code);
  Verdict verdict;
  if (pair.suspect && !refused && now >= pair.avoid_until) {
    // The session after the cooldown was welcome: start afresh.
    pair.samples.clear();
    pair.refused = 0;
  }
  pair.samples.emplace_back(now, refused);
  if (refused) {
    ++pair.refused;
    pair.example = std::to_string(code) + (text.empty() ? "" : " " + text);
  }
  prune(pair, now, settings.window);
  const auto sessions = static_cast<uint32_t>(pair.samples.size());
  verdict.sessions = sessions;
  verdict.refused = pair.refused;
  const bool over = sessions >= settings.min_sessions &&
                    uint64_t{pair.refused} * 100 >= uint64_t{settings.percent} * sessions;
  if (pair.suspect) {
    if (pair.test_started && refused) {
      // The test session was refused too: another cooldown.
      pair.avoid_until = now + settings.cooldown;
    }
    pair.test_started.reset();
    if (!over) {
      pair.suspect = false;
      verdict.change = Change::Recovered;
    }
  } else if (over) {
    pair.suspect = true;
    pair.was_suspect = true;
    pair.avoid_until = now + settings.cooldown;
    pair.test_started.reset();
    pair.since = std::chrono::system_clock::now();
    verdict.change = Change::BecameSuspect;
  }
  return verdict;
}

bool SourceHealth::avoid(const std::string& source, const std::string& provider,
                         Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  auto it = pairs_.find({source, provider});
  if (it == pairs_.end() || !it->second.suspect) return false;
  const Pair& pair = it->second;
  if (now < pair.avoid_until) return true;
  return pair.test_started && now < *pair.test_started + kTestTimeout;
}

void SourceHealth::leaving_from(const std::string& source, const std::string& provider,
                                Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = pairs_.find({source, provider});
  if (it == pairs_.end() || !it->second.suspect || now < it->second.avoid_until) return;
  Pair& pair = it->second;
  if (!pair.test_started || now >= *pair.test_started + kTestTimeout) pair.test_started = now;
}

std::vector<SourceHealth::Entry> SourceHealth::entries() const {
  std::lock_guard lock(mutex_);
  std::vector<Entry> out;
  for (const auto& [key, pair] : pairs_) {
    if (!pair.was_suspect) continue;
    out.push_back({key.first, key.second, pair.suspect,
                   static_cast<uint32_t>(pair.samples.size()), pair.refused, pair.example,
                   pair.since});
  }
  return out;
}

size_t SourceHealth::suspects() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [key, pair] : pairs_) n += pair.suspect ? 1 : 0;
  return n;
}

}  // namespace mx
