#include "tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int ossl_fail(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char detail[256] = "";
    if (e) ERR_error_string_n(e, detail, sizeof detail);
    ERR_clear_error();
    snprintf(err, errlen, "%s%s%s", what, *detail ? ": " : "", detail);
    return -1;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (!ext) return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* Opens path for writing with mode (when created), truncating it. */
static FILE *open_out(const char *path, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) close(fd);
    return f;
}

int conf_tls_make_cert(const char *cn, const char *san, const char *cert_path, const char *key_path,
                       char *err, size_t errlen)
{
    int rc = -1;
    X509 *x = NULL;
    BIGNUM *serial = NULL;
    FILE *f = NULL;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!key) return ossl_fail(err, errlen, "EC key generation");
    x = X509_new();
    serial = BN_new();
    if (!x || !serial) {
        ossl_fail(err, errlen, "out of memory");
        goto out;
    }
    /* 64 random bits, positive: RFC 5280 wants serials unique per issuer. */
    if (!BN_rand(serial, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        !X509_set_version(x, X509_VERSION_3) || !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 24L * 3600) || !X509_set_pubkey(x, key)) {
        ossl_fail(err, errlen, "certificate fields");
        goto out;
    }
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_issuer_name(x, name)) {
        ossl_fail(err, errlen, "certificate name");
        goto out;
    }
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    /* What `openssl req -x509` gives a self-signed certificate: it vouches
     * for itself, so it is also the issuer and may be a trust anchor. */
    if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
        add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0 ||
        add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
        add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") < 0 ||
        (san && add_ext(x, &ctx, NID_subject_alt_name, san) < 0)) {
        ossl_fail(err, errlen, "certificate extensions");
        goto out;
    }
    if (!X509_sign(x, key, EVP_sha256())) {
        ossl_fail(err, errlen, "signing the certificate");
        goto out;
    }
    f = open_out(key_path, 0600);
    if (!f) {
        snprintf(err, errlen, "%s: %s", key_path, strerror(errno));
        goto out;
    }
    if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)) {
        ossl_fail(err, errlen, "writing the key");
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        snprintf(err, errlen, "%s: %s", key_path, strerror(errno));
        goto out;
    }
    f = open_out(cert_path, 0644);
    if (!f) {
        snprintf(err, errlen, "%s: %s", cert_path, strerror(errno));
        goto out;
    }
    if (!PEM_write_X509(f, x)) {
        ossl_fail(err, errlen, "writing the certificate");
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        snprintf(err, errlen, "%s: %s", cert_path, strerror(errno));
        goto out;
    }
    f = NULL;
    rc = 0;
out:
    if (f) fclose(f);
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}
