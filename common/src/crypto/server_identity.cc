#include "mxegress/crypto/server_identity.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <system_error>

#include "mxegress/crypto/private_key_mode.h"
#include "mxegress/crypto/tls_context.h"

namespace mx {

namespace {

struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct X509ExtensionDeleter {
  void operator()(X509_EXTENSION* extension) const { X509_EXTENSION_free(extension); }
};
struct GeneralNamesDeleter {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};
struct GeneralNameDeleter {
  void operator()(GENERAL_NAME* name) const { GENERAL_NAME_free(name); }
};
struct BignumDeleter {
  void operator()(BIGNUM* number) const { BN_free(number); }
};
struct FileCloser {
  void operator()(FILE* file) const { std::fclose(file); }
};

using KeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using CertPtr = std::unique_ptr<X509, X509Deleter>;

constexpr long kValidityDays = 3650;
constexpr long kBackdateSeconds = 3600;      // tolerate clients whose clock is a little behind
constexpr size_t kMaxCommonNameLength = 64;  // ub-common-name, RFC 5280

bool is_ip_literal(const std::string& name) {
  in6_addr address;
  return inet_pton(AF_INET, name.c_str(), &address) == 1 ||
         inet_pton(AF_INET6, name.c_str(), &address) == 1;
}

// A host name or an IP literal; anything else could not be matched by a client anyway.
bool is_valid_common_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxCommonNameLength) return false;
  if (is_ip_literal(name)) return true;
  for (const char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!allowed) return false;
  }
  return true;
}

std::unique_ptr<GENERAL_NAME, GeneralNameDeleter> subject_alt_name_for(const std::string& name) {
  std::unique_ptr<GENERAL_NAME, GeneralNameDeleter> general_name(GENERAL_NAME_new());
  if (!general_name) return nullptr;
  if (is_ip_literal(name)) {
    ASN1_OCTET_STRING* address = a2i_IPADDRESS(name.c_str());
    if (address == nullptr) return nullptr;
    GENERAL_NAME_set0_value(general_name.get(), GEN_IPADD, address);
    return general_name;
  }
  ASN1_IA5STRING* dns_name = ASN1_IA5STRING_new();
  if (dns_name == nullptr ||
      ASN1_STRING_set(dns_name, name.data(), static_cast<int>(name.size())) != 1) {
    ASN1_IA5STRING_free(dns_name);
    return nullptr;
  }
  GENERAL_NAME_set0_value(general_name.get(), GEN_DNS, dns_name);
  return general_name;
}

bool add_subject_alt_name(X509* cert, const std::string& name) {
  std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter> names(sk_GENERAL_NAME_new_null());
  auto general_name = subject_alt_name_for(name);
  if (!names || !general_name || sk_GENERAL_NAME_push(names.get(), general_name.get()) == 0) {
    return false;
  }
  general_name.release();  // now owned by names
  return X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1;
}

bool add_fixed_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, X509ExtensionDeleter> extension(
      X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  return extension && X509_add_ext(cert, extension.get(), -1) == 1;
}

bool set_random_serial(X509* cert) {
  std::unique_ptr<BIGNUM, BignumDeleter> serial(BN_new());
  return serial && BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
         BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) != nullptr;
}

bool set_subject_and_issuer(X509* cert, const std::string& common_name) {
  X509_NAME* name = X509_get_subject_name(cert);
  return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                    -1, 0) == 1 &&
         X509_set_issuer_name(cert, name) == 1;
}

// No keyUsage extension: with digitalSignature alone OpenSSL no longer treats the
// certificate as self-signed, and it could not serve as its own CA file.
CertPtr make_self_signed_certificate(EVP_PKEY* key, const std::string& common_name) {
  CertPtr cert(X509_new());
  const bool built =
      cert && X509_set_version(cert.get(), X509_VERSION_3) == 1 && set_random_serial(cert.get()) &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) != nullptr &&
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), kValidityDays, 0, nullptr) != nullptr &&
      set_subject_and_issuer(cert.get(), common_name) && X509_set_pubkey(cert.get(), key) == 1 &&
      add_fixed_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
      add_fixed_extension(cert.get(), NID_ext_key_usage, "serverAuth") &&
      add_fixed_extension(cert.get(), NID_subject_key_identifier, "hash") &&
      add_subject_alt_name(cert.get(), common_name) && X509_sign(cert.get(), key, EVP_sha256()) > 0;
  return built ? std::move(cert) : nullptr;
}

// O_EXCL: refusing to overwrite is decided atomically by the kernel, and the mode
// applies from the first byte.
bool write_new_file(const std::filesystem::path& path, mode_t mode,
                    const std::function<bool(FILE*)>& write_pem, std::string& err) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    err = "cannot create " + path.string() + ": " + std::strerror(errno);
    return false;
  }
  std::unique_ptr<FILE, FileCloser> file(::fdopen(fd, "w"));
  if (!file) {
    err = "cannot open " + path.string() + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  errno = 0;
  const bool written = write_pem(file.get()) && std::fflush(file.get()) == 0 && ::fsync(fd) == 0 &&
                       std::fclose(file.release()) == 0;
  if (!written) {
    const std::string openssl_reason = take_openssl_error();
    err = "cannot write " + path.string() + ": " +
          (errno != 0 ? std::string(std::strerror(errno)) : openssl_reason);
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
  return written;
}

}  // namespace

std::optional<std::string> write_server_identity(const std::filesystem::path& dir,
                                                 const std::string& common_name, std::string& err) {
  if (!is_valid_common_name(common_name)) {
    err = "invalid common name '" + common_name +
          "': use a host name or IP address of at most 64 characters";
    return std::nullopt;
  }
  const std::filesystem::path key_path = dir / kServerKeyFile;
  const std::filesystem::path cert_path = dir / kServerCertFile;
  if (std::string dir_error = create_key_directory(dir); !dir_error.empty()) {
    err = std::move(dir_error);
    return std::nullopt;
  }
  std::error_code ec;
  for (const auto& path : {key_path, cert_path}) {
    if (std::filesystem::exists(std::filesystem::symlink_status(path))) {
      err = "refusing to overwrite existing " + path.string();
      return std::nullopt;
    }
  }
  KeyPtr key(EVP_EC_gen("P-256"));
  CertPtr cert = key ? make_self_signed_certificate(key.get(), common_name) : nullptr;
  if (!cert) {
    err = "cannot generate the server key and certificate: " + take_openssl_error();
    return std::nullopt;
  }
  const auto write_key = [&](FILE* file) {
    return PEM_write_PrivateKey(file, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  };
  const auto write_cert = [&](FILE* file) { return PEM_write_X509(file, cert.get()) == 1; };
  if (!write_new_file(key_path, 0600, write_key, err)) return std::nullopt;
  if (!write_new_file(cert_path, 0644, write_cert, err)) {
    std::filesystem::remove(key_path, ec);
    return std::nullopt;
  }
  return format_pin(spki_sha256(cert.get()));
}

}  // namespace mx
