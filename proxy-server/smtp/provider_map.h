// The destination "provider" of an MX host: the unit the server counts SMTP
// answers by (docs/smtp-health.md, "Providers"). A provider is the host's
// registrable domain by the Public Suffix List (libpsl), or, for the big
// receivers whose MX hosts live under several domains, one name for all of
// them (a small built-in rollup the operator extends with [smtp.providers]).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mx {

class ProviderMap {
 public:
  // `extra`: the operator's "domain" = "provider" entries (lower case, no
  // trailing dot; others are normalised the same way); they win over the
  // built-in rollup.
  explicit ProviderMap(std::map<std::string, std::string> extra = {});

  // The provider of an MX host name: the rollup's name when the host is the
  // domain or under it (longest matching domain wins, operator entries
  // first), else the host's registrable domain (lower case, no trailing dot),
  // else (an IP literal, a public suffix itself, an invalid name) "".
  // Safe to call from several threads at once.
  std::string provider_of(std::string_view host) const;

  // The host name an SMTP greeting announces: the first word of the banner's
  // text ("mx.example.net ESMTP ready" -> "mx.example.net"), lower case,
  // when it is a syntactically valid host name with at least one dot (not an
  // address literal "[192.0.2.1]", not "ESMTP"); else nullopt.
  static std::optional<std::string> banner_host(std::string_view banner_text);

 private:
  // Searched with a string_view suffix of the host, without a copy.
  std::map<std::string, std::string, std::less<>> extra_;
};

}  // namespace mx
