#include "verify.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>

#include "errors.h"
#include "json.h"

namespace paddle_native {

namespace {

const char* const kSignatureFile = "signature.json";

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsSafeFileName(const std::string& s) {
  if (s.empty() || s == "." || s == ".." || s.size() > 255) return false;
  for (char c : s) {
    if (c == '/' || c == '\\' || c == '\n' || c == '\0') return false;
  }
  return true;
}

}  // namespace

std::string Sha256Hex(const uint8_t* data, size_t size) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data, size, md, &len, EVP_sha256(), nullptr) != 1) {
    throw PaddleError(ErrorCode::kVerification, "SHA-256 computation failed in OpenSSL");
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

bool IsSupportedAlgorithm(const std::string& a) {
  return a == "RSA-PKCS1v15-SHA256" || a == "ECDSA-P256-SHA256" || a == "Ed25519";
}

std::vector<uint8_t> DecodeBase64(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.empty() || text.size() % 4 != 0) {
    throw VerificationError(std::string(kSignatureFile) + ": signature is not valid base64 (length " +
                            std::to_string(text.size()) + " is not a positive multiple of 4)");
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0 || (v[k] = value(c)) < 0) {
        throw VerificationError(std::string(kSignatureFile) + ": signature is not valid base64 (bad character at " +
                                std::to_string(i + k) + ")");
      }
    }
    uint32_t triple = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<uint8_t>(triple >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(triple >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(triple));
  }
  return out;
}

SignatureFile ParseSignatureFile(const uint8_t* data, size_t size) {
  JsonValue doc;
  try {
    doc = ParseJson(data, size, kSignatureFile);
  } catch (const PaddleError& e) {
    throw VerificationError(std::string("signature.json is not valid JSON: ") + e.what());
  }
  auto bad = [](const std::string& what) { return VerificationError(std::string(kSignatureFile) + ": " + what); };
  if (!doc.IsObject()) throw bad("expected a JSON object");
  SignatureFile sig;
  const JsonValue* version = doc.Find("version");
  if (!version || !version->is_integer || version->integer != 1) throw bad("\"version\" must be 1");
  sig.version = 1;
  const JsonValue* algorithm = doc.Find("algorithm");
  if (!algorithm || !algorithm->IsString()) throw bad("\"algorithm\" must be a string");
  sig.algorithm = algorithm->text;
  if (!IsSupportedAlgorithm(sig.algorithm)) {
    throw bad("unknown algorithm \"" + sig.algorithm +
              "\" (supported: RSA-PKCS1v15-SHA256, ECDSA-P256-SHA256, Ed25519)");
  }
  const JsonValue* key_id = doc.Find("keyId");
  if (key_id) {
    if (!key_id->IsString()) throw bad("\"keyId\" must be a string");
    sig.key_id = key_id->text;
  }
  const JsonValue* files = doc.Find("files");
  if (!files || !files->IsObject() || files->members.empty()) throw bad("\"files\" must be a non-empty object");
  for (const auto& m : files->members) {
    if (!IsSafeFileName(m.first)) throw bad("file name \"" + m.first + "\" is not a plain file name");
    if (!m.second.IsString() || !IsLowerHex64(m.second.text)) {
      throw bad("digest of \"" + m.first + "\" must be 64 lower-case hex characters");
    }
    if (!sig.files.emplace(m.first, m.second.text).second) throw bad("file \"" + m.first + "\" listed twice");
  }
  const JsonValue* signature = doc.Find("signature");
  if (!signature || !signature->IsString()) throw bad("\"signature\" must be a base64 string");
  sig.signature = DecodeBase64(signature->text);
  return sig;
}

std::string BuildManifest(const std::map<std::string, std::string>& files) {
  std::string out;
  for (const auto& f : files) {
    out += f.second;
    out += "  ";
    out += f.first;
    out += '\n';
  }
  return out;
}

void VerifyManifestSignature(const std::string& algorithm, const std::string& public_key_pem,
                             const std::string& manifest, const std::vector<uint8_t>& signature) {
  if (!IsSupportedAlgorithm(algorithm)) throw VerificationError("unknown signature algorithm \"" + algorithm + "\"");
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  if (!bio) throw VerificationError("OpenSSL could not allocate a BIO for the public key");
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) throw VerificationError("public key is not a PEM SubjectPublicKeyInfo (\"-----BEGIN PUBLIC KEY-----\")");
  int id = EVP_PKEY_get_base_id(key.get());
  const EVP_MD* md = EVP_sha256();
  if (algorithm == "RSA-PKCS1v15-SHA256") {
    if (id != EVP_PKEY_RSA) throw VerificationError("wrong key: algorithm RSA-PKCS1v15-SHA256 needs an RSA public key");
  } else if (algorithm == "ECDSA-P256-SHA256") {
    if (id != EVP_PKEY_EC) throw VerificationError("wrong key: algorithm ECDSA-P256-SHA256 needs an EC P-256 public key");
    char group[64] = {0};
    size_t glen = 0;
    if (EVP_PKEY_get_utf8_string_param(key.get(), "group", group, sizeof(group), &glen) != 1 ||
        std::string(group) != "prime256v1") {
      ERR_clear_error();
      throw VerificationError("wrong key: algorithm ECDSA-P256-SHA256 needs a P-256 (prime256v1) key");
    }
  } else {
    if (id != EVP_PKEY_ED25519) throw VerificationError("wrong key: algorithm Ed25519 needs an Ed25519 public key");
    md = nullptr;  // Ed25519 signs the message itself
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx) throw VerificationError("OpenSSL could not allocate a digest context");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1) {
    ERR_clear_error();
    throw VerificationError("OpenSSL refused to initialise " + algorithm + " verification with this key");
  }
  if (algorithm == "RSA-PKCS1v15-SHA256") {
    EVP_PKEY_CTX* pctx = EVP_MD_CTX_get_pkey_ctx(ctx.get());
    if (!pctx || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
      ERR_clear_error();
      throw VerificationError("OpenSSL refused PKCS#1 v1.5 padding");
    }
  }
  int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                            reinterpret_cast<const unsigned char*>(manifest.data()), manifest.size());
  ERR_clear_error();
  if (rc != 1) {
    throw VerificationError("bad signature: the " + algorithm +
                            " signature in signature.json does not verify over the manifest with the given public key");
  }
}

}  // namespace paddle_native
