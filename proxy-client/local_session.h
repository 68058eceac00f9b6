// What the client's listeners own: one accepted local connection, whatever
// front accepted it (SOCKS5, transparent, forward).
#pragma once

#include <functional>

namespace mx {

class LocalSession {
 public:
  using FinishedCallback = std::function<void(LocalSession*)>;
  virtual ~LocalSession() = default;
  virtual void start() = 0;
};

}  // namespace mx
