// Providers of MX hosts: the operator's and the built-in rollup, then the
// registrable domain from the Public Suffix List (libpsl).
#include "smtp/provider_map.h"

#include <libpsl.h>

#include <algorithm>
#include <array>
#include <memory>
#include <utility>

namespace mx {
namespace {

struct Rollup {
  std::string_view domain;
  std::string_view provider;
};

// The big receivers whose MX hosts (or the host names their greetings
// announce) live under more than one registrable domain, or under a domain
// other than their users' addresses. Each entry is the domain of the MX
// records those receivers publish (as `dig MX <domain>` shows them), named
// in the comment; keep it to domains that are certain. Operators add or
// override entries with [smtp.providers].
constexpr std::array kBuiltinRollup{
    // Microsoft 365 (<tenant>.mail.protection.outlook.com), Outlook.com,
    // Hotmail, Live, MSN (hotmail-com.olc.protection.outlook.com); their
    // greetings name hosts under *.prod.outlook.com or outlook.office365.com.
    Rollup{"outlook.com", "microsoft"},
    Rollup{"office365.com", "microsoft"},
    // Microsoft 365 GCC High (<tenant>.mail.protection.office365.us).
    Rollup{"office365.us", "microsoft"},
    // Gmail and Google Workspace: gmail-smtp-in.l.google.com,
    // aspmx.l.google.com; older Workspace domains alt1.aspmx.l.googlemail.com.
    Rollup{"google.com", "google"},
    Rollup{"googlemail.com", "google"},
    // The PTR names of Google's addresses, MX hosts included
    // (wa-in-f26.1e100.net): what ProviderLearner finds for an address.
    Rollup{"1e100.net", "google"},
    // Yahoo and AOL: mta5.am0.yahoodns.net, mx-aol.mail.gm0.yahoodns.net;
    // the greetings of some name hosts under yahoo.com.
    Rollup{"yahoodns.net", "yahoo"},
    Rollup{"yahoo.com", "yahoo"},
    // GMX and Web.de (1&1 Mail & Media): mx00.gmx.net, mx-ha03.web.de,
    // mx00.gmx.com, mx00.mail.com.
    Rollup{"gmx.net", "gmx"},
    Rollup{"gmx.com", "gmx"},
    Rollup{"web.de", "gmx"},
    Rollup{"mail.com", "gmx"},
    // T-Online: mx00.t-online.de.
    Rollup{"t-online.de", "t-online"},
    // iCloud, me.com, mac.com: mx01.mail.icloud.com.
    Rollup{"icloud.com", "icloud"},
    Rollup{"me.com", "icloud"},
    Rollup{"mac.com", "icloud"},
    // Yandex: mx.yandex.ru, mx.yandex.net.
    Rollup{"yandex.ru", "yandex"},
    Rollup{"yandex.net", "yandex"},
    // Mail.ru: mxs.mail.ru.
    Rollup{"mail.ru", "mailru"},
    // Orange (orange.fr, wanadoo.fr): smtp-in.orange.fr.
    Rollup{"orange.fr", "orange"},
    // Comcast (comcast.net): mx1a1.comcast.net.
    Rollup{"comcast.net", "comcast"},
    // Proton Mail: mail.protonmail.ch, mailsec.protonmail.ch.
    Rollup{"protonmail.ch", "proton"},
    // Zoho Mail: mx.zoho.com, mx.zoho.eu, mx.zoho.in.
    Rollup{"zoho.com", "zoho"},
    Rollup{"zoho.eu", "zoho"},
    Rollup{"zoho.in", "zoho"},
    // Mimecast: eu-smtp-inbound-1.mimecast.com, us-smtp-inbound-1.mimecast.com.
    Rollup{"mimecast.com", "mimecast"},
    // Proofpoint: mx0a-<id>.pphosted.com; Proofpoint Essentials:
    // mx1-us1.ppe-hosted.com.
    Rollup{"pphosted.com", "proofpoint"},
    Rollup{"ppe-hosted.com", "proofpoint"},
    // Tencent (QQ Mail, Exmail): mx1.qq.com, mxbiz1.qq.com.
    Rollup{"qq.com", "tencent"},
    // NetEase (163.com, 126.com): 163mx01.mxmail.netease.com.
    Rollup{"netease.com", "netease"},
    Rollup{"163.com", "netease"},
    Rollup{"126.com", "netease"},
};

// The longest host name DNS can carry in text form (RFC 1035 §2.3.4).
constexpr std::size_t kMaxHostLength = 253;

// A host name, lower case, without its trailing dot, NUL-terminated for
// libpsl, in a buffer on the stack: no allocation per lookup.
class NormalHost {
 public:
  // Empty when `host` is not a syntactically valid host name (RFC 1123
  // letters, digits and hyphens, labels of 1-63, the last not all digits so
  // that an IPv4 address is not taken for one).
  explicit NormalHost(std::string_view host) {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (host.empty() || host.size() > kMaxHostLength) return;
    std::size_t label_start = 0;
    bool label_all_digits = true;
    for (std::size_t i = 0; i <= host.size(); ++i) {
      if (i == host.size() || host[i] == '.') {
        std::size_t label_length = i - label_start;
        if (label_length == 0 || label_length > 63) return;
        if (host[label_start] == '-' || host[i - 1] == '-') return;
        if (i == host.size() && label_all_digits) return;
        if (i < host.size()) {
          buffer_[i] = '.';
          dots_ = true;
        }
        label_start = i + 1;
        label_all_digits = true;
        continue;
      }
      char c = host[i];
      bool digit = c >= '0' && c <= '9';
      bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!digit && !letter && c != '-') return;
      if (!digit) label_all_digits = false;
      buffer_[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    buffer_[host.size()] = '\0';
    size_ = host.size();
  }

  bool valid() const { return size_ > 0; }
  bool has_dot() const { return dots_; }
  std::string_view view() const { return {buffer_.data(), size_}; }
  const char* c_str() const { return buffer_.data(); }

 private:
  std::array<char, kMaxHostLength + 1> buffer_{};
  std::size_t size_ = 0;
  bool dots_ = false;
};

// The Public Suffix List, loaded once per process: the system's current list
// (Debian's `publicsuffix` package) when it is newer than the copy built
// into libpsl, else the built-in one. A psl_ctx_t is only read after it is
// loaded, so every thread shares this one; loading reads and checks a file,
// which is not worth doing again per ProviderMap (a reload builds a new map).
// Freed at exit so leak checkers see nothing; the loop threads that call
// provider_of have ended by then.
const psl_ctx_t* public_suffix_list() {
  static const std::unique_ptr<psl_ctx_t, decltype(&psl_free)> list = [] {
    psl_ctx_t* latest = psl_latest(nullptr);
    // psl_builtin's context is static: psl_free leaves it alone.
    return std::unique_ptr<psl_ctx_t, decltype(&psl_free)>(
        latest != nullptr ? latest : const_cast<psl_ctx_t*>(psl_builtin()), psl_free);
  }();
  return list.get();
}

// `host` itself, then each domain it is under ("a.b.c", "b.c", "c"), until
// `match` returns a provider.
template <typename Match>
std::optional<std::string_view> longest_match(std::string_view host, Match match) {
  for (std::string_view domain = host;;) {
    if (auto provider = match(domain)) return provider;
    std::size_t dot = domain.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    domain.remove_prefix(dot + 1);
  }
}

}  // namespace

ProviderMap::ProviderMap(std::map<std::string, std::string> extra) {
  for (auto& [domain, provider] : extra) {
    NormalHost normal(domain);
    // A key that is no host name could never match a host: it is dropped.
    if (normal.valid()) extra_.insert_or_assign(std::string(normal.view()), std::move(provider));
  }
}

std::string ProviderMap::provider_of(std::string_view host) const {
  NormalHost normal(host);
  if (!normal.valid()) return {};
  auto operator_entry = longest_match(normal.view(), [&](std::string_view domain) {
    auto it = extra_.find(domain);
    return it == extra_.end() ? std::nullopt : std::optional<std::string_view>(it->second);
  });
  if (operator_entry) return std::string(*operator_entry);
  auto builtin_entry = longest_match(normal.view(), [](std::string_view domain) {
    auto it = std::find_if(kBuiltinRollup.begin(), kBuiltinRollup.end(),
                           [&](const Rollup& r) { return r.domain == domain; });
    return it == kBuiltinRollup.end() ? std::nullopt : std::optional(it->provider);
  });
  if (builtin_entry) return std::string(*builtin_entry);
  // Null when the host is a public suffix itself ("co.uk", "localhost").
  const char* registrable = psl_registrable_domain(public_suffix_list(), normal.c_str());
  return registrable != nullptr ? std::string(registrable) : std::string();
}

std::optional<std::string> ProviderMap::banner_host(std::string_view banner_text) {
  constexpr std::string_view kSpace = " \t\r\n";
  std::size_t start = banner_text.find_first_not_of(kSpace);
  if (start == std::string_view::npos) return std::nullopt;
  std::string_view word = banner_text.substr(start);
  word = word.substr(0, word.find_first_of(kSpace));
  NormalHost normal(word);
  if (!normal.valid() || !normal.has_dot()) return std::nullopt;
  return std::string(normal.view());
}

}  // namespace mx
