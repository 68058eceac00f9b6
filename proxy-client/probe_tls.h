// The TLS side of `mxegress-client probe`, as an SMTP client does STARTTLS:
// a context that accepts whatever the MX presents but still verifies it
// against the system CA store and the MX host name (the verdict is
// reported, not enforced), optionally with a client certificate; and what
// the handshake showed (version, cipher, the certificate's subject, DNS
// names, SHA-256 fingerprint and verdict). The bytes go through TlsEngine.
#pragma once

#include <openssl/ssl.h>

#include <filesystem>
#include <string>

#include "mxegress/crypto/tls_context.h"
#include "probe_report.h"

namespace mx {

struct ProbeTlsOptions {
  std::filesystem::path cert;  // --cert: a client certificate (chain, leaf first); empty: none
  std::filesystem::path key;   // --key
};

// For the MX host `host` (a name, or an IP literal). Null with `err` set
// when the client certificate or key cannot be loaded.
SslCtxPtr make_probe_tls_context(const std::string& host, const ProbeTlsOptions& options,
                                 std::string& err);

// After the handshake of `ssl`.
ProbeTls describe_probe_tls(const SSL* ssl);

}  // namespace mx
