#include "mxegress/metrics/session_result.h"

namespace mx {

std::string_view session_result_label(SessionResult result) {
  switch (result) {
    case SessionResult::Closed:
      return "closed";
    case SessionResult::Reset:
      return "reset";
    case SessionResult::IdleTimeout:
      return "idle_timeout";
    case SessionResult::TunnelLost:
      return "tunnel_lost";
    case SessionResult::Aborted:
      return "aborted";
    case SessionResult::Cancelled:
      return "cancelled";
    case SessionResult::GeneralFailure:
      return "general_failure";
    case SessionResult::NotAllowed:
      return "not_allowed";
    case SessionResult::NetworkUnreachable:
      return "network_unreachable";
    case SessionResult::HostUnreachable:
      return "host_unreachable";
    case SessionResult::ConnectionRefused:
      return "connection_refused";
    case SessionResult::TtlExpired:
      return "ttl_expired";
    case SessionResult::CommandNotSupported:
      return "command_not_supported";
    case SessionResult::AddressTypeNotSupported:
      return "address_type_not_supported";
    case SessionResult::NoTunnel:
      return "no_tunnel";
  }
  return "aborted";
}

SessionResult session_result_of(socks5::Reply reply) {
  switch (reply) {
    case socks5::Reply::NotAllowed:
      return SessionResult::NotAllowed;
    case socks5::Reply::NetworkUnreachable:
      return SessionResult::NetworkUnreachable;
    case socks5::Reply::HostUnreachable:
      return SessionResult::HostUnreachable;
    case socks5::Reply::ConnectionRefused:
      return SessionResult::ConnectionRefused;
    case socks5::Reply::TtlExpired:
      return SessionResult::TtlExpired;
    case socks5::Reply::CommandNotSupported:
      return SessionResult::CommandNotSupported;
    case socks5::Reply::AddressTypeNotSupported:
      return SessionResult::AddressTypeNotSupported;
    case socks5::Reply::Succeeded:  // not a failure: never asked
    case socks5::Reply::GeneralFailure:
      break;
  }
  return SessionResult::GeneralFailure;
}

SessionResult session_result_of(const RelayOutcome& outcome) {
  if (outcome.clean) return SessionResult::Closed;
  const std::string_view end = outcome.end;
  if (end.starts_with("tunnel lost")) return SessionResult::TunnelLost;
  if (end == "idle timeout") return SessionResult::IdleTimeout;
  if (end.find("reset") != std::string_view::npos) return SessionResult::Reset;
  return SessionResult::Aborted;
}

}  // namespace mx
