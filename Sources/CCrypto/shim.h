// OpenSSL's libcrypto SHA-256 (hardware SHA extensions where the CPU has them), through three
// inline wrappers so that the plain-struct context can be a Swift value and OpenSSL 3's
// deprecation of the one-shot context API does not reach Swift.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

static inline int ke_sha256_init(SHA256_CTX *c) { return SHA256_Init(c); }
static inline int ke_sha256_update(SHA256_CTX *c, const void *data, size_t len) { return SHA256_Update(c, data, len); }
static inline int ke_sha256_final(unsigned char *md, SHA256_CTX *c) { return SHA256_Final(md, c); }
