// Runs a blocking function on libuv's thread pool and its result handler
// back on the loop thread. For work that must not stall the loop, such as an
// argon2id password check (tens of milliseconds and 64 MiB by design).
#pragma once

#include <functional>
#include <memory>

#include "mxegress/loop/loop.h"

namespace mx {

// `work` runs on a pool thread and must touch nothing the loop thread uses.
// `done` runs on the loop thread unless the returned token was destroyed
// first (then it is skipped; `work` still runs to completion).
template <typename Result>
std::shared_ptr<void> run_in_background(Loop& loop, std::function<Result()> work,
                                        std::function<void(Result)> done);

namespace detail {
struct BackgroundJob {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void()> done;
  std::weak_ptr<void> token;
};
void start_background_job(Loop& loop, BackgroundJob* job);
}  // namespace detail

template <typename Result>
std::shared_ptr<void> run_in_background(Loop& loop, std::function<Result()> work,
                                        std::function<void(Result)> done) {
  auto token = std::make_shared<int>(0);
  auto result = std::make_shared<Result>();
  auto* job = new detail::BackgroundJob;
  job->work = [work = std::move(work), result] { *result = work(); };
  job->done = [done = std::move(done), result] { done(std::move(*result)); };
  job->token = token;
  detail::start_background_job(loop, job);
  return token;
}

}  // namespace mx
