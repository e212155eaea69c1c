#ifndef TOKENSERVICE_COPENSSL_SHIM_H
#define TOKENSERVICE_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/decoder.h>

/// Wrappers for OpenSSL macros Swift cannot import.
static inline int ts_EVP_PKEY_CTX_set_rsa_padding(EVP_PKEY_CTX *ctx, int pad) {
    return EVP_PKEY_CTX_set_rsa_padding(ctx, pad);
}
static inline int ts_EVP_PKEY_CTX_set_rsa_pss_saltlen(EVP_PKEY_CTX *ctx, int len) {
    return EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, len);
}
static inline BIO *ts_BIO_new_mem_buf(const void *buf, int len) { return BIO_new_mem_buf(buf, len); }
static inline long ts_BIO_get_mem_data(BIO *bio, char **pp) { return BIO_get_mem_data(bio, pp); }
static inline int ts_EVP_PKEY_PUBLIC_KEY(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int ts_EVP_PKEY_KEYPAIR(void) { return EVP_PKEY_KEYPAIR; }
static inline const int ts_RSA_PKCS1_PADDING(void) { return RSA_PKCS1_PADDING; }
static inline const int ts_RSA_PKCS1_PSS_PADDING(void) { return RSA_PKCS1_PSS_PADDING; }
static inline const int ts_RSA_PSS_SALTLEN_DIGEST(void) { return RSA_PSS_SALTLEN_DIGEST; }

/// OSSL_PARAM names as static C strings: OSSL_PARAM_BLD and OSSL_PARAM keep the key pointer, so a
/// temporary bridged from a Swift String would dangle.
static inline const char *ts_PARAM_RSA_N(void) { return OSSL_PKEY_PARAM_RSA_N; }
static inline const char *ts_PARAM_RSA_E(void) { return OSSL_PKEY_PARAM_RSA_E; }
static inline const char *ts_PARAM_RSA_D(void) { return OSSL_PKEY_PARAM_RSA_D; }
static inline const char *ts_PARAM_GROUP_NAME(void) { return OSSL_PKEY_PARAM_GROUP_NAME; }
static inline const char *ts_PARAM_PUB_KEY(void) { return OSSL_PKEY_PARAM_PUB_KEY; }
static inline const char *ts_PARAM_MAC_DIGEST(void) { return OSSL_MAC_PARAM_DIGEST; }
#endif
