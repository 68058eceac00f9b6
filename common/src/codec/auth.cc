#include "mxegress/codec/auth.h"

namespace mx::auth {

Bytes request(const ClientIdentity& identity, Exporter exporter, uint32_t window) {
  frame::AuthMessage msg;
  msg.public_key = identity.public_key;
  msg.signature = sign_auth(identity, exporter);
  msg.window = window;
  Bytes out;
  frame::encode_auth(out, msg);
  return out;
}

Answer read_answer(const frame::Frame& f) {
  Answer answer;
  if (f.type != frame::Type::AuthResult) {
    answer.error =
        std::string("protocol error: expected AUTH_RESULT, got ") + frame::type_name(f.type);
    return answer;
  }
  const auto result = frame::parse_auth_result(f.payload);
  if (!result) {
    answer.error = "protocol error: a malformed AUTH_RESULT";
  } else if (result->status != frame::AuthStatus::Ok) {
    answer.refusal = result->status;
    answer.error =
        std::string("the server refused our key: ") + frame::auth_status_name(result->status);
  } else if (result->window == 0) {
    answer.error = "protocol error: the server granted a session window of 0";
  } else {
    answer.window = result->window;
  }
  return answer;
}

Verdict check_request(const frame::Frame& f, Exporter exporter,
                      const std::function<bool(const PublicKey&)>& known) {
  Verdict verdict;
  if (f.type != frame::Type::Auth) {
    verdict.detail = std::string("expected AUTH, got ") + frame::type_name(f.type);
    return verdict;
  }
  auto msg = frame::parse_auth(f.payload);
  if (!msg) {
    verdict.detail = "malformed AUTH frame";
    return verdict;
  }
  if (msg->version != frame::kProtocolVersion) {
    verdict.status = frame::AuthStatus::UnsupportedVersion;
    verdict.detail = "protocol version " + std::to_string(msg->version) + " not supported";
    return verdict;
  }
  verdict.key = msg->public_key;
  if (!known(verdict.key)) {
    verdict.status = frame::AuthStatus::UnknownKey;
    verdict.detail = "unknown key " + encode_key(verdict.key);
    return verdict;
  }
  if (!verify_auth(verdict.key, exporter, msg->signature)) {
    verdict.status = frame::AuthStatus::BadSignature;
    verdict.detail = "bad signature for key " + encode_key(verdict.key);
    return verdict;
  }
  if (msg->window == 0) {
    verdict.detail = "a session window of 0";
    return verdict;
  }
  verdict.status = frame::AuthStatus::Ok;
  verdict.window = msg->window;
  return verdict;
}

Bytes answer(frame::AuthStatus status, uint32_t window) {
  Bytes out;
  frame::encode_auth_result(
      out, {status, frame::auth_status_name(status), status == frame::AuthStatus::Ok ? window : 0});
  return out;
}

}  // namespace mx::auth
