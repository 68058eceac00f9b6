// What a person reads about an X.509 certificate (the tunnel's log lines,
// `mxegress-client probe`): its subject, DNS names and fingerprint, and the
// leaf a peer presented even when verification refused it.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

namespace mx {

// The subject in RFC 2253 form: "CN=mx.example.org,O=Example".
std::string certificate_subject(X509* cert);

// The DNS names of its subjectAltName, in order.
std::vector<std::string> certificate_dns_names(X509* cert);

// "AB:CD:...": the SHA-256 of its DER, as `openssl x509 -fingerprint -sha256`
// prints it.
std::string certificate_fingerprint(X509* cert);

// The leaf the peer presented, also when verification rejected it (OpenSSL
// records the verified peer certificate only on success). Null without one.
X509* presented_leaf(const SSL* ssl);

}  // namespace mx
