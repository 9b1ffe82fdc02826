// Model signing facts (DESIGN section 5): SHA-256 of each file, the manifest in `sha256sum`
// format (`<hex>  <name>\n`, sorted by name) and a signature over the manifest bytes with
// RSA-PKCS1v15-SHA256, ECDSA-P256-SHA256 (DER) or Ed25519.
//
// OpenSSL: we include Node's bundled OpenSSL headers and call EVP_* directly; the symbols are
// exported by the node binary, so nothing else is linked (see CMakeLists.txt).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace paddle_native {

std::string Sha256Hex(const uint8_t* data, size_t size);

struct SignatureFile {
  int version = 0;
  std::string algorithm;
  std::string key_id;
  std::map<std::string, std::string> files;  // name -> lower-case hex digest, sorted by name
  std::vector<uint8_t> signature;
};

SignatureFile ParseSignatureFile(const uint8_t* data, size_t size);

// `<hex>  <name>\n` per entry, sorted by name (std::map order is bytewise, like `sort` in C locale).
std::string BuildManifest(const std::map<std::string, std::string>& files);

// Strict standard base64 (RFC 4648, padding required, no whitespace). Throws on bad input.
std::vector<uint8_t> DecodeBase64(const std::string& text);

// Throws ModelVerificationError when the key does not parse, does not match the algorithm, or
// the signature does not verify.
void VerifyManifestSignature(const std::string& algorithm, const std::string& public_key_pem,
                             const std::string& manifest, const std::vector<uint8_t>& signature);

bool IsSupportedAlgorithm(const std::string& algorithm);

}  // namespace paddle_native
