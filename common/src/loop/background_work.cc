#include "mxegress/loop/background_work.h"

namespace mx::detail {

void start_background_job(Loop& loop, BackgroundJob* job) {
  job->req.data = job;
  const int rc = uv_queue_work(
      loop.get(), &job->req,
      [](uv_work_t* req) { static_cast<BackgroundJob*>(req->data)->work(); },
      [](uv_work_t* req, int status) {
        std::unique_ptr<BackgroundJob> finished(static_cast<BackgroundJob*>(req->data));
        if (status == 0 && !finished->token.expired()) finished->done();
      });
  if (rc != 0) {
    // The pool refused (it never does for a valid loop): run inline.
    std::unique_ptr<BackgroundJob> inline_job(job);
    inline_job->work();
    if (!inline_job->token.expired()) inline_job->done();
  }
}

}  // namespace mx::detail
