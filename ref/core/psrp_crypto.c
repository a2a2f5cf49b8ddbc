/* PSRP session key exchange and SecureString encryption (psrp_crypto.h).
 *
 * Wire layouts (all integers little endian), as PowerShell writes them in
 * PSCryptoNativeConverter.ToCapiPublicKeyBlob / ToCapiSimpleKeyBlob
 * (src/System.Management.Automation/security/SecureStringHelper.cs) and as
 * pypsrp builds and reads them (powershell.py exchange_keys and
 * _process_encrypted_session_key); MS-PSRP 2.2.2.3 (PUBLIC_KEY, whose
 * diagram fixes every header byte, bitlen included), 2.2.2.4
 * (ENCRYPTED_SESSION_KEY, header bytes fixed likewise), 3.1.5.4.4 /
 * 3.2.5.4.4:
 *
 * PUBLICKEYBLOB, 20 + bitlen/8 bytes:
 *   0  u8  bType     0x06 PUBLICKEYBLOB
 *   1  u8  bVersion  0x02
 *   2  u16 reserved  0
 *   4  u32 aiKeyAlg  0x0000A400 CALG_RSA_KEYX
 *   8  u32 magic     0x31415352 "RSA1"
 *   12 u32 bitlen    2048 (the spec's fixed 0x00000800)
 *   16 u32 pubexp    65537
 *   20 modulus, bitlen/8 bytes, least significant byte first
 *
 * SIMPLEBLOB, 12 + modulus-length bytes:
 *   0  u8  bType     0x01 SIMPLEBLOB
 *   1  u8  bVersion  0x02
 *   2  u16 reserved  0
 *   4  u32 aiKeyAlg  0x00006610 CALG_AES_256
 *   8  u32 algid     0x0000A400 CALG_RSA_KEYX (the key that encrypts it)
 *   12 RSA PKCS#1 v1.5 encryption of the 32-byte key, byte-reversed
 *
 * SecureString: AES-256-CBC, IV of 16 zero bytes ("iv should be 0" in
 * PSRSACryptoServiceProvider; pypsrp "PSRP doesn't use an IV"), PKCS#7
 * padding (.NET Aes default; pypsrp pads with PKCS7), over UTF-16LE text.
 *
 * Checks beyond what PowerShell does (it reads only bType, bVersion, reserved
 * and magic, and skips the SIMPLEBLOB header unread): the public blob's
 * aiKeyAlg, bitlen exactly 2048 as MS-PSRP 2.2.2.3 fixes it, a blob length
 * and a modulus that match it, an odd exponent >= 3; the SIMPLEBLOB's whole
 * header and exact length.
 *
 * RSA decryption uses OpenSSL's default for PKCS#1 v1.5: from OpenSSL 3.2 on
 * that is implicit rejection, where a bad padding yields a pseudo-random
 * message rather than an error, so a tampered ciphertext may then be caught
 * only by the 32-byte length check or not at all (a wrong key). */
#include "psrp_crypto.h"

#include "bytes.h"

#include "base64.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#define SESSION_KEY_LEN 32
#define AES_BLOCK 16
#define PUBLICKEYBLOB_HDR 20
#define SIMPLEBLOB_HDR 12
#define CALG_RSA_KEYX 0x0000A400u
#define CALG_AES_256 0x00006610u
#define RSA1_MAGIC 0x31415352u
#define KEY_BITS 2048u
#define MAX_BITS 16384u /* what public_blob will export at most */
#define MAX_B64 65536u

struct etsn_psrp_keys {
    EVP_PKEY *rsa; /* client: own key pair; server: the client's public key */
    bool has_private;
    bool has_session;
    uint8_t session[SESSION_KEY_LEN];
};

static const uint8_t simpleblob_header[SIMPLEBLOB_HDR] = {
    0x01, 0x02, 0x00, 0x00, /* SIMPLEBLOB, version 2, reserved */
    0x10, 0x66, 0x00, 0x00, /* CALG_AES_256 */
    0x00, 0xA4, 0x00, 0x00, /* CALG_RSA_KEYX */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    ERR_clear_error();
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void reverse_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        uint8_t t = p[i];
        p[i] = p[n - 1 - i];
        p[n - 1 - i] = t;
    }
}

/* Decodes b64 into out (replaced), with a reason for the caller's error. */
static int b64_decode(const char *b64, etsn_buf *out, const char **why)
{
    size_t len = strlen(b64);
    etsn_buf_reset(out);
    *why = len > MAX_B64 ? "base64 text too long" : "not valid base64";
    return len > MAX_B64 ? -1 : etsn_base64_decode(b64, len, out);
}

/* ---- key set ---- */

static etsn_psrp_keys *keys_alloc(void)
{
    return calloc(1, sizeof(etsn_psrp_keys));
}

void etsn_psrp_keys_free(etsn_psrp_keys *k)
{
    if (!k) return;
    EVP_PKEY_free(k->rsa); /* OpenSSL clears the private numbers */
    etsn_secure_zero(k, sizeof *k);
    free(k);
}

bool etsn_psrp_keys_ready(const etsn_psrp_keys *k)
{
    return k && k->has_session;
}

etsn_psrp_keys *etsn_psrp_keys_from_session_key(const uint8_t key[32])
{
    etsn_psrp_keys *k = keys_alloc();
    if (!k) return NULL;
    memcpy(k->session, key, SESSION_KEY_LEN);
    k->has_session = true;
    return k;
}

etsn_psrp_keys *etsn_psrp_keys_client_new(char *err, size_t errlen)
{
    etsn_psrp_keys *k = keys_alloc();
    if (!k) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    /* Public exponent: OpenSSL's default, 65537. */
    k->rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (!k->rsa) {
        set_err(err, errlen, "RSA key generation failed");
        free(k);
        return NULL;
    }
    k->has_private = true;
    return k;
}

int etsn_psrp_keys_public_blob(const etsn_psrp_keys *k, etsn_buf *b64_out)
{
    if (!k || !k->rsa || !b64_out) return -1;
    BIGNUM *n = NULL, *e = NULL;
    uint8_t *blob = NULL;
    int rc = -1;
    if (!EVP_PKEY_get_bn_param(k->rsa, OSSL_PKEY_PARAM_RSA_N, &n) ||
        !EVP_PKEY_get_bn_param(k->rsa, OSSL_PKEY_PARAM_RSA_E, &e))
        goto out;
    if (BN_num_bits(e) > 32) goto out;
    size_t modlen = (size_t)BN_num_bytes(n);
    if (modlen == 0 || modlen > MAX_BITS / 8) goto out;
    size_t total = PUBLICKEYBLOB_HDR + modlen;
    blob = calloc(1, total);
    if (!blob) goto out;
    blob[0] = 0x06;
    blob[1] = 0x02;
    etsn_put_le32(blob + 4, CALG_RSA_KEYX);
    etsn_put_le32(blob + 8, RSA1_MAGIC);
    etsn_put_le32(blob + 12, (uint32_t)(modlen * 8));
    etsn_put_le32(blob + 16, (uint32_t)BN_get_word(e));
    if (BN_bn2lebinpad(n, blob + PUBLICKEYBLOB_HDR, (int)modlen) != (int)modlen) goto out;
    rc = etsn_base64_encode(blob, total, b64_out);
out:
    free(blob);
    BN_free(n);
    BN_free(e);
    if (rc < 0) ERR_clear_error();
    return rc;
}

/* An RSA public key from n and e. */
static EVP_PKEY *rsa_from_public(const BIGNUM *n, const BIGNUM *e)
{
    EVP_PKEY *pk = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pk;
}

etsn_psrp_keys *etsn_psrp_keys_server_new(const char *public_b64, char *err, size_t errlen)
{
    etsn_buf blob = ETSN_BUF_INIT;
    BIGNUM *n = NULL, *e = NULL;
    etsn_psrp_keys *k = NULL;
    const char *why;
    if (!public_b64) {
        set_err(err, errlen, "PublicKey: missing");
        return NULL;
    }
    if (b64_decode(public_b64, &blob, &why) < 0) {
        set_err(err, errlen, "PublicKey: %s", why);
        goto fail;
    }
    const uint8_t *b = blob.data;
    if (blob.len < PUBLICKEYBLOB_HDR) {
        set_err(err, errlen, "PublicKey: blob of %zu bytes is too short", blob.len);
        goto fail;
    }
    if (b[0] != 0x06 || b[1] != 0x02 || b[2] != 0 || b[3] != 0) {
        set_err(err, errlen, "PublicKey: not a version 2 PUBLICKEYBLOB (%02x %02x %02x %02x)", b[0],
                b[1], b[2], b[3]);
        goto fail;
    }
    if (etsn_get_le32(b + 4) != CALG_RSA_KEYX) {
        set_err(err, errlen, "PublicKey: key algorithm 0x%08x is not CALG_RSA_KEYX",
                (unsigned)etsn_get_le32(b + 4));
        goto fail;
    }
    if (etsn_get_le32(b + 8) != RSA1_MAGIC) {
        set_err(err, errlen, "PublicKey: magic 0x%08x is not RSA1", (unsigned)etsn_get_le32(b + 8));
        goto fail;
    }
    uint32_t bitlen = etsn_get_le32(b + 12);
    if (bitlen != KEY_BITS) {
        set_err(err, errlen, "PublicKey: bit length %u, not 2048", (unsigned)bitlen);
        goto fail;
    }
    size_t modlen = bitlen / 8;
    if (blob.len != PUBLICKEYBLOB_HDR + modlen) {
        set_err(err, errlen, "PublicKey: %zu bytes for a %u-bit key (want %zu)", blob.len,
                (unsigned)bitlen, PUBLICKEYBLOB_HDR + modlen);
        goto fail;
    }
    uint32_t pubexp = etsn_get_le32(b + 16);
    if (pubexp < 3 || pubexp % 2 == 0) {
        set_err(err, errlen, "PublicKey: bad public exponent %u", (unsigned)pubexp);
        goto fail;
    }
    n = BN_lebin2bn(b + PUBLICKEYBLOB_HDR, (int)modlen, NULL);
    e = BN_new();
    if (!n || !e || !BN_set_word(e, pubexp)) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    if ((uint32_t)BN_num_bits(n) != bitlen || !BN_is_odd(n)) {
        set_err(err, errlen, "PublicKey: modulus does not match its %u-bit length or is even",
                (unsigned)bitlen);
        goto fail;
    }
    k = keys_alloc();
    if (!k) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    k->rsa = rsa_from_public(n, e);
    if (!k->rsa) {
        set_err(err, errlen, "PublicKey: OpenSSL refused the RSA key");
        goto fail;
    }
    if (RAND_bytes(k->session, SESSION_KEY_LEN) != 1) {
        set_err(err, errlen, "no random bytes for the session key");
        goto fail;
    }
    k->has_session = true;
    BN_free(n);
    BN_free(e);
    etsn_buf_free(&blob);
    return k;
fail:
    etsn_psrp_keys_free(k);
    BN_free(n);
    BN_free(e);
    etsn_buf_free(&blob);
    return NULL;
}

int etsn_psrp_keys_session_key_blob(const etsn_psrp_keys *k, etsn_buf *b64_out)
{
    if (!k || !k->rsa || k->has_private || !k->has_session || !b64_out) return -1;
    int rc = -1;
    uint8_t *blob = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->rsa, NULL);
    size_t ctlen = 0;
    if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_encrypt(ctx, NULL, &ctlen, k->session, SESSION_KEY_LEN) <= 0 || ctlen == 0)
        goto out;
    blob = malloc(SIMPLEBLOB_HDR + ctlen);
    if (!blob) goto out;
    memcpy(blob, simpleblob_header, SIMPLEBLOB_HDR);
    if (EVP_PKEY_encrypt(ctx, blob + SIMPLEBLOB_HDR, &ctlen, k->session, SESSION_KEY_LEN) <= 0)
        goto out;
    reverse_bytes(blob + SIMPLEBLOB_HDR, ctlen);
    rc = etsn_base64_encode(blob, SIMPLEBLOB_HDR + ctlen, b64_out);
out:
    free(blob);
    EVP_PKEY_CTX_free(ctx);
    if (rc < 0) ERR_clear_error();
    return rc;
}

int etsn_psrp_keys_accept_session_key(etsn_psrp_keys *k, const char *b64, char *err, size_t errlen)
{
    if (!k || !k->rsa || !k->has_private) {
        set_err(err, errlen, "EncryptedSessionKey: no client key pair to decrypt it with");
        return -1;
    }
    if (!b64) {
        set_err(err, errlen, "EncryptedSessionKey: missing");
        return -1;
    }
    etsn_buf blob = ETSN_BUF_INIT;
    uint8_t *plain = NULL;
    size_t plain_cap = 0;
    EVP_PKEY_CTX *ctx = NULL;
    const char *why;
    int rc = -1;
    if (b64_decode(b64, &blob, &why) < 0) {
        set_err(err, errlen, "EncryptedSessionKey: %s", why);
        goto out;
    }
    size_t modlen = (size_t)EVP_PKEY_get_size(k->rsa);
    if (blob.len < SIMPLEBLOB_HDR) {
        set_err(err, errlen, "EncryptedSessionKey: blob of %zu bytes is too short", blob.len);
        goto out;
    }
    if (memcmp(blob.data, simpleblob_header, SIMPLEBLOB_HDR) != 0) {
        set_err(err, errlen,
                "EncryptedSessionKey: not a SIMPLEBLOB of a CALG_AES_256 key under "
                "CALG_RSA_KEYX");
        goto out;
    }
    if (blob.len != SIMPLEBLOB_HDR + modlen) {
        set_err(err, errlen, "EncryptedSessionKey: %zu bytes of ciphertext for a %zu-byte key",
                blob.len - SIMPLEBLOB_HDR, modlen);
        goto out;
    }
    uint8_t *ct = blob.data + SIMPLEBLOB_HDR;
    reverse_bytes(ct, modlen); /* CAPI order -> big endian */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->rsa, NULL);
    if (!ctx || EVP_PKEY_decrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_decrypt(ctx, NULL, &plain_cap, ct, modlen) <= 0 || plain_cap == 0) {
        set_err(err, errlen, "EncryptedSessionKey: RSA decryption not available");
        goto out;
    }
    plain = malloc(plain_cap);
    if (!plain) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    size_t plain_len = plain_cap;
    if (EVP_PKEY_decrypt(ctx, plain, &plain_len, ct, modlen) <= 0) {
        set_err(err, errlen, "EncryptedSessionKey: RSA decryption failed");
        goto out;
    }
    if (plain_len != SESSION_KEY_LEN) {
        set_err(err, errlen, "EncryptedSessionKey: decrypted key is %zu bytes, not 32", plain_len);
        goto out;
    }
    memcpy(k->session, plain, SESSION_KEY_LEN);
    k->has_session = true;
    rc = 0;
out:
    if (plain) {
        etsn_secure_zero(plain, plain_cap);
        free(plain);
    }
    EVP_PKEY_CTX_free(ctx);
    etsn_buf_free(&blob);
    return rc;
}

/* ---- SecureString ---- */

static const uint8_t zero_iv[AES_BLOCK];

int etsn_secure_string_encrypt(const etsn_psrp_keys *k, const uint8_t *plain, size_t len,
                               etsn_buf *cipher)
{
    if (!k || !k->has_session || !cipher || (len && !plain)) return -1;
    if (len > (size_t)INT_MAX - 2 * AES_BLOCK) return -1;
    size_t start = cipher->len;
    if (etsn_buf_reserve(cipher, len + AES_BLOCK) < 0) return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, rc = -1;
    uint8_t *dst = cipher->data + start;
    if (ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k->session, zero_iv) == 1 &&
        (len == 0 || EVP_EncryptUpdate(ctx, dst, &n, plain, (int)len) == 1) &&
        EVP_EncryptFinal_ex(ctx, dst + n, &fin) == 1) {
        cipher->len = start + (size_t)n + (size_t)fin;
        cipher->data[cipher->len] = 0;
        rc = 0;
    } else {
        ERR_clear_error();
    }
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    return rc;
}

int etsn_secure_string_decrypt(const etsn_psrp_keys *k, const uint8_t *cipher, size_t len,
                               etsn_buf *plain)
{
    if (!k || !k->has_session || !plain || !cipher) return -1;
    if (len == 0 || len % AES_BLOCK != 0 || len > (size_t)INT_MAX - 2 * AES_BLOCK) return -1;
    size_t start = plain->len;
    if (etsn_buf_reserve(plain, len + AES_BLOCK) < 0) return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, rc = -1;
    uint8_t *dst = plain->data + start;
    if (ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k->session, zero_iv) == 1 &&
        EVP_DecryptUpdate(ctx, dst, &n, cipher, (int)len) == 1 &&
        EVP_DecryptFinal_ex(ctx, dst + n, &fin) == 1) {
        plain->len = start + (size_t)n + (size_t)fin;
        rc = 0;
    } else {
        ERR_clear_error();
    }
    /* Whatever lies past the result (the padding, or everything on failure)
     * was plaintext too. */
    size_t end = start + len + AES_BLOCK + 1;
    etsn_secure_zero(plain->data + plain->len, end - plain->len);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* ---- UTF-8 <-> UTF-16LE ---- */

static void put_u16(uint8_t *p, uint32_t u)
{
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
}

int etsn_utf8_to_utf16le(const char *s, size_t len, etsn_buf *out)
{
    if (!out || (len && !s)) return -1;
    if (len > (SIZE_MAX - 1) / 2) return -1;
    size_t start = out->len;
    /* Every UTF-8 byte yields at most two UTF-16 bytes; reserving once keeps
     * the text from being copied around by realloc. */
    if (etsn_buf_reserve(out, 2 * len) < 0) return -1;
    const uint8_t *p = (const uint8_t *)s;
    uint8_t *o = out->data + start;
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        uint8_t c = p[i];
        uint32_t cp;
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0x80) {
            cp = c;
            need = 0;
        } else if (c >= 0xC2 && c <= 0xDF) {
            cp = c & 0x1F;
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            cp = c & 0x0F;
            need = 2;
            if (c == 0xE0) lo = 0xA0; /* overlong */
            if (c == 0xED) hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            cp = c & 0x07;
            need = 3;
            if (c == 0xF0) lo = 0x90; /* overlong */
            if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
        } else {
            goto bad;
        }
        if (need > len - i - 1) goto bad;
        for (size_t j = 1; j <= need; j++) {
            uint8_t cc = p[i + j];
            if (j == 1 ? (cc < lo || cc > hi) : (cc & 0xC0) != 0x80) goto bad;
            cp = cp << 6 | (cc & 0x3F);
        }
        i += need + 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_u16(o + w, 0xD800 | cp >> 10);
            put_u16(o + w + 2, 0xDC00 | (cp & 0x3FF));
            w += 4;
        } else {
            put_u16(o + w, cp);
            w += 2;
        }
    }
    out->len = start + w;
    out->data[out->len] = 0;
    return 0;
bad:
    etsn_secure_zero(o, w);
    return -1;
}

int etsn_utf16le_to_utf8(const uint8_t *s, size_t len, etsn_buf *out)
{
    if (!out || (len && !s) || len % 2 != 0) return -1;
    if (len / 2 > (SIZE_MAX - 1) / 3) return -1;
    size_t start = out->len;
    /* A unit yields at most three bytes, a surrogate pair (two units) four. */
    if (etsn_buf_reserve(out, len / 2 * 3) < 0) return -1;
    uint8_t *o = out->data + start;
    size_t w = 0;
    for (size_t i = 0; i < len; i += 2) {
        uint32_t cp = (uint32_t)s[i] | (uint32_t)s[i + 1] << 8;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 3 < len) {
            uint32_t lo = (uint32_t)s[i + 2] | (uint32_t)s[i + 3] << 8;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* unpaired */
        if (cp < 0x80) {
            o[w++] = (uint8_t)cp;
        } else if (cp < 0x800) {
            o[w++] = (uint8_t)(0xC0 | cp >> 6);
            o[w++] = (uint8_t)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            o[w++] = (uint8_t)(0xE0 | cp >> 12);
            o[w++] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
            o[w++] = (uint8_t)(0x80 | (cp & 0x3F));
        } else {
            o[w++] = (uint8_t)(0xF0 | cp >> 18);
            o[w++] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
            o[w++] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
            o[w++] = (uint8_t)(0x80 | (cp & 0x3F));
        }
    }
    out->len = start + w;
    out->data[out->len] = 0;
    return 0;
}
