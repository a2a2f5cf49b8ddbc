#include "../core/error.h"
#include "ntlm_unseal.h"

#include <ctype.h>
#include <locale.h>
#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "../core/base64.h"
#include "../core/bytes.h"
#include "../core/psrp_crypto.h"
#include "winrm_crypt.h"

/* NegotiateFlags (MS-NLMP 2.2.2.5), the ones key derivation and sealing read. */
#define NTLMSSP_NEGOTIATE_UNICODE 0x00000001u
#define NTLMSSP_NEGOTIATE_ESS 0x00080000u /* extended session security */
#define NTLMSSP_NEGOTIATE_128 0x20000000u
#define NTLMSSP_NEGOTIATE_KEY_EXCH 0x40000000u
#define NTLMSSP_NEGOTIATE_56 0x80000000u

#define NTLM_SIGNATURE "NTLMSSP" /* 8 bytes with its NUL */
#define NTLMV2_MIN_RESPONSE 44   /* NTProofStr + the fixed part of the temp */
static const uint8_t SPNEGO_OID[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}; /* 1.3.6.1.5.5.2 */

/* One direction's sealing state (MS-NLMP 3.4.4.2 with ESS). */
typedef struct {
    uint8_t sign_key[16], seal_key[16];
    EVP_CIPHER_CTX *rc4;
    uint32_t seq;
} ntlm_dir;

struct etsn_ntlm_unseal {
    OSSL_LIB_CTX *lib;
    OSSL_PROVIDER *legacy, *deflt;
    EVP_MD *md4, *md5;
    EVP_MAC *hmac;
    EVP_CIPHER *rc4;
    locale_t utf8; /* for towupper_l: the user name is upper-cased for NTOWFv2 */
    etsn_buf challenge, authenticate, mech_types, mic[2];
    etsn_buf user, domain; /* UTF-8, from the AUTHENTICATE */
    uint32_t flags;
    bool keyed;
    bool mic_done[2];    /* the direction's mechListMIC is accounted for */
    unsigned generation; /* AUTHENTICATE messages taken */
    bool other_mech;     /* SPNEGO carried a mechanism other than NTLM */
    ntlm_dir dir[2];     /* [1] client to server, [0] server to client */
};

etsn_ntlm_unseal *etsn_ntlm_unseal_new(char *err, size_t errlen)
{
    etsn_ntlm_unseal *u = calloc(1, sizeof(*u));
    if (!u) {
        etsn_errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    /* A private library context: loading the legacy provider globally would
     * re-enable MD4 and RC4 for every other user of OpenSSL in the process. */
    u->lib = OSSL_LIB_CTX_new();
    if (u->lib) u->legacy = OSSL_PROVIDER_load(u->lib, "legacy");
    if (u->lib) u->deflt = OSSL_PROVIDER_load(u->lib, "default");
    if (u->legacy && u->deflt) {
        u->md4 = EVP_MD_fetch(u->lib, "MD4", NULL);
        u->md5 = EVP_MD_fetch(u->lib, "MD5", NULL);
        u->hmac = EVP_MAC_fetch(u->lib, "HMAC", NULL);
        u->rc4 = EVP_CIPHER_fetch(u->lib, "RC4", NULL);
    }
    u->dir[0].rc4 = EVP_CIPHER_CTX_new();
    u->dir[1].rc4 = EVP_CIPHER_CTX_new();
    u->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!u->md4 || !u->md5 || !u->hmac || !u->rc4 || !u->dir[0].rc4 || !u->dir[1].rc4) {
        etsn_errbuf_set(err, errlen, "NTLM: OpenSSL's legacy provider (MD4, RC4) is not available");
        ERR_clear_error();
        etsn_ntlm_unseal_free(u);
        return NULL;
    }
    return u;
}

void etsn_ntlm_unseal_free(etsn_ntlm_unseal *u)
{
    if (!u) return;
    etsn_buf_free(&u->challenge);
    etsn_buf_free_secure(&u->authenticate);
    etsn_buf_free(&u->mech_types);
    etsn_buf_free(&u->mic[0]);
    etsn_buf_free(&u->mic[1]);
    etsn_buf_free(&u->user);
    etsn_buf_free(&u->domain);
    for (int i = 0; i < 2; i++) EVP_CIPHER_CTX_free(u->dir[i].rc4);
    etsn_secure_zero(u->dir, sizeof(u->dir));
    if (u->utf8) freelocale(u->utf8);
    EVP_MD_free(u->md4);
    EVP_MD_free(u->md5);
    EVP_MAC_free(u->hmac);
    EVP_CIPHER_free(u->rc4);
    if (u->legacy) OSSL_PROVIDER_unload(u->legacy);
    if (u->deflt) OSSL_PROVIDER_unload(u->deflt);
    OSSL_LIB_CTX_free(u->lib);
    free(u);
}

/* ---- primitives ---- */

typedef struct {
    const void *p;
    size_t n;
} span;

static int hmac_md5(etsn_ntlm_unseal *u, const uint8_t *key, size_t keylen, const span *parts,
                    size_t nparts, uint8_t out[16])
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(u->hmac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "MD5", 0),
                           OSSL_PARAM_construct_end()};
    size_t outl = 0;
    int ok = c && EVP_MAC_init(c, key, keylen, params);
    for (size_t i = 0; ok && i < nparts; i++) ok = EVP_MAC_update(c, parts[i].p, parts[i].n);
    ok = ok && EVP_MAC_final(c, out, &outl, 16) && outl == 16;
    EVP_MAC_CTX_free(c);
    return ok ? 0 : -1;
}

static int digest(const EVP_MD *md, const span *parts, size_t nparts, uint8_t out[16])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned outl = 0;
    int ok = c && EVP_DigestInit_ex2(c, md, NULL);
    for (size_t i = 0; ok && i < nparts; i++) ok = EVP_DigestUpdate(c, parts[i].p, parts[i].n);
    ok = ok && EVP_DigestFinal_ex(c, out, &outl) && outl == 16;
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

static int rc4_init(etsn_ntlm_unseal *u, EVP_CIPHER_CTX *c, const uint8_t key[16])
{
    return EVP_CipherInit_ex2(c, u->rc4, key, NULL, 0, NULL) ? 0 : -1;
}

/* RC4 in place or out of place, in slices an int can count. */
static int rc4_apply(EVP_CIPHER_CTX *c, const uint8_t *in, size_t len, uint8_t *out)
{
    while (len > 0) {
        int n = len > (1u << 30) ? 1 << 30 : (int)len, outl = 0;
        if (!EVP_CipherUpdate(c, out, &outl, in, n) || outl != n) return -1;
        in += n;
        out += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- NTOWFv2 and the key schedule ---- */

/* UTF-16LE code units upper-cased one by one, as Windows' RtlUpcaseUnicodeString
 * does for NTOWFv2 (MS-NLMP 3.3.2: Uppercase(User)). */
static int upcase_utf16(const etsn_ntlm_unseal *u, const uint8_t *s, size_t len, etsn_buf *out)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        unsigned c = (unsigned)s[i] | (unsigned)s[i + 1] << 8;
        if (c >= 0xd800 && c <= 0xdfff)
            ;
        else if (u->utf8)
            c = (unsigned)towupper_l((wint_t)c, u->utf8) & 0xffffu;
        else if (c < 0x80)
            c = (unsigned)toupper((int)c);
        uint8_t b[2] = {(uint8_t)c, (uint8_t)(c >> 8)};
        if (etsn_buf_append(out, b, 2) < 0) return -1;
    }
    return 0;
}

static int ntowfv2_utf16(etsn_ntlm_unseal *u, const etsn_buf *pw16, const uint8_t *user16,
                         size_t user_len, const uint8_t *dom16, size_t dom_len, uint8_t out[16])
{
    uint8_t nt_hash[16];
    etsn_buf up = ETSN_BUF_INIT;
    span pw = {pw16->data ? (const void *)pw16->data : "", pw16->len};
    int rc = -1;
    if (digest(u->md4, &pw, 1, nt_hash) < 0 || upcase_utf16(u, user16, user_len, &up) < 0) goto out;
    span parts[] = {{up.data ? (const void *)up.data : "", up.len}, {dom16, dom_len}};
    rc = hmac_md5(u, nt_hash, 16, parts, 2, out);
out:
    etsn_secure_zero(nt_hash, sizeof nt_hash);
    etsn_buf_free(&up);
    return rc;
}

int etsn_ntlm_ntowfv2(etsn_ntlm_unseal *u, const char *password, const char *user,
                      const char *domain, uint8_t out[16], char *err, size_t errlen)
{
    etsn_buf pw = ETSN_BUF_INIT, us = ETSN_BUF_INIT, dom = ETSN_BUF_INIT;
    int rc = -1;
    if (etsn_utf8_to_utf16le(password, strlen(password), &pw) < 0 ||
        etsn_utf8_to_utf16le(user, strlen(user), &us) < 0 ||
        etsn_utf8_to_utf16le(domain, strlen(domain), &dom) < 0) {
        etsn_errbuf_set(err, errlen, "NTLM: the password, user or domain is not valid UTF-8");
        goto out;
    }
    if (ntowfv2_utf16(u, &pw, us.data, us.len, dom.data ? dom.data : (const uint8_t *)"", dom.len,
                      out) < 0) {
        etsn_errbuf_set(err, errlen, "NTLM: NTOWFv2 failed");
        goto out;
    }
    rc = 0;
out:
    etsn_buf_free_secure(&pw);
    etsn_buf_free(&us);
    etsn_buf_free(&dom);
    return rc;
}

/* SIGNKEY and SEALKEY (MS-NLMP 3.4.5.2, 3.4.5.3), extended session security. */
static int derive_dir(etsn_ntlm_unseal *u, uint32_t flags, const uint8_t key[16], bool client)
{
    static const char sign_c[] = "session key to client-to-server signing key magic constant";
    static const char sign_s[] = "session key to server-to-client signing key magic constant";
    static const char seal_c[] = "session key to client-to-server sealing key magic constant";
    static const char seal_s[] = "session key to server-to-client sealing key magic constant";
    ntlm_dir *d = &u->dir[client ? 1 : 0];
    size_t seal_len = (flags & NTLMSSP_NEGOTIATE_128) ? 16 : (flags & NTLMSSP_NEGOTIATE_56) ? 7 : 5;
    /* The magic constants include their terminating NUL. */
    span sign[] = {{key, 16}, {client ? sign_c : sign_s, sizeof sign_c}};
    span seal[] = {{key, seal_len}, {client ? seal_c : seal_s, sizeof seal_c}};
    if (digest(u->md5, sign, 2, d->sign_key) < 0 || digest(u->md5, seal, 2, d->seal_key) < 0)
        return -1;
    d->seq = 0;
    return rc4_init(u, d->rc4, d->seal_key);
}

int etsn_ntlm_unseal_set_session_key(etsn_ntlm_unseal *u, uint32_t flags, const uint8_t key[16],
                                     char *err, size_t errlen)
{
    if (!(flags & NTLMSSP_NEGOTIATE_ESS)) {
        etsn_errbuf_set(
            err, errlen,
            "NTLM: the session does not use extended session security (NTLMv1 sealing is "
            "not supported)");
        return ETSN_NTLM_ERROR;
    }
    u->flags = flags;
    if (derive_dir(u, flags, key, true) < 0 || derive_dir(u, flags, key, false) < 0) {
        u->keyed = false;
        etsn_errbuf_set(err, errlen, "NTLM: key derivation failed");
        return ETSN_NTLM_ERROR;
    }
    u->keyed = true;
    return 0;
}

/* ---- signatures and sealing (MS-NLMP 3.4.4.2) ---- */

/* Checks a 16-byte signature over data (already plaintext), advancing the
 * direction's RC4 state over the checksum and its sequence number. */
static int verify_sig(etsn_ntlm_unseal *u, ntlm_dir *d, const uint8_t *sig, const uint8_t *data,
                      size_t len, char *err, size_t errlen)
{
    uint8_t checksum[8], expect[16], seq_le[4];
    memcpy(checksum, sig + 4, 8);
    if ((u->flags & NTLMSSP_NEGOTIATE_KEY_EXCH) && rc4_apply(d->rc4, checksum, 8, checksum) < 0) {
        etsn_errbuf_set(err, errlen, "NTLM: RC4 failed");
        return ETSN_NTLM_ERROR;
    }
    etsn_put_le32(seq_le, d->seq);
    span parts[] = {{seq_le, 4}, {data ? (const void *)data : "", len}};
    if (hmac_md5(u, d->sign_key, 16, parts, 2, expect) < 0) {
        etsn_errbuf_set(err, errlen, "NTLM: HMAC-MD5 failed");
        return ETSN_NTLM_ERROR;
    }
    uint32_t got_seq = etsn_get_le32(sig + 12);
    if (etsn_get_le32(sig) != 1 || got_seq != d->seq || CRYPTO_memcmp(expect, checksum, 8) != 0) {
        etsn_errbuf_set(
            err, errlen,
            "NTLM: the message signature does not verify (sequence number %u, expected %u)",
            got_seq, d->seq);
        d->seq++;
        return ETSN_NTLM_BAD_MAC;
    }
    d->seq++;
    return 0;
}

/* A mechListMIC (MS-SPNG 3.3.5.1) is a signature with the direction's next
 * sequence number; afterwards both peers reset that direction's RC4 state.
 * Accounted for before the direction's first sealed message: the acceptor's
 * MIC arrives with the response to the AUTHENTICATE, after the keys may
 * already have opened that request's body. */
static int account_mic(etsn_ntlm_unseal *u, bool client, char *err, size_t errlen)
{
    const etsn_buf *mic = &u->mic[client ? 1 : 0];
    if (u->mic_done[client ? 1 : 0]) return 0;
    u->mic_done[client ? 1 : 0] = true;
    if (mic->len == 0) return 0;
    if (mic->len != 16) {
        etsn_errbuf_set(err, errlen, "SPNEGO: mechListMIC of %zu bytes", mic->len);
        return ETSN_NTLM_ERROR;
    }
    ntlm_dir *d = &u->dir[client ? 1 : 0];
    if (u->mech_types.len > 0) {
        int rc = verify_sig(u, d, mic->data, u->mech_types.data, u->mech_types.len, err, errlen);
        if (rc < 0) return rc;
    } else {
        /* mechTypes not captured: skip the check but keep the state in step. */
        uint8_t skip[8];
        if (rc4_apply(d->rc4, mic->data + 4, 8, skip) < 0) return ETSN_NTLM_ERROR;
        d->seq++;
    }
    return rc4_init(u, d->rc4, d->seal_key) < 0 ? ETSN_NTLM_ERROR : 0;
}

int etsn_ntlm_unseal_message(etsn_ntlm_unseal *u, bool from_client, const uint8_t *sig,
                             size_t sig_len, const uint8_t *sealed, size_t sealed_len,
                             etsn_buf *plain, char *err, size_t errlen)
{
    if (!u->keyed) {
        etsn_errbuf_set(err, errlen, "NTLM: no session key yet (the handshake was not seen)");
        return ETSN_NTLM_ERROR;
    }
    if (sig_len != 16) {
        etsn_errbuf_set(err, errlen, "NTLM: the signature has %zu bytes, not 16", sig_len);
        return ETSN_NTLM_ERROR;
    }
    if (etsn_buf_reserve(plain, sealed_len) < 0) {
        etsn_errbuf_set(err, errlen, "out of memory");
        return ETSN_NTLM_ERROR;
    }
    ntlm_dir *d = &u->dir[from_client ? 1 : 0];
    int rc = account_mic(u, from_client, err, errlen);
    if (rc < 0) return rc;
    uint8_t *out = plain->data + plain->len;
    if (rc4_apply(d->rc4, sealed, sealed_len, out) < 0) {
        etsn_errbuf_set(err, errlen, "NTLM: RC4 failed");
        return ETSN_NTLM_ERROR;
    }
    rc = verify_sig(u, d, sig, out, sealed_len, err, errlen);
    if (rc < 0) {
        etsn_secure_zero(out, sealed_len);
        return rc;
    }
    plain->len += sealed_len;
    plain->data[plain->len] = 0;
    return 0;
}

int etsn_ntlm_unseal_body(etsn_ntlm_unseal *u, bool from_client, const uint8_t *body, size_t len,
                          etsn_buf *plain, char *err, size_t errlen)
{
    etsn_winrm_parts parts;
    if (etsn_winrm_split(body, len, &parts, err, errlen) < 0) return ETSN_NTLM_ERROR;
    if (parts.kerberos) {
        etsn_errbuf_set(err, errlen,
                        "encrypted body: Kerberos-sealed, cannot be opened with a password");
        return ETSN_NTLM_ERROR;
    }
    /* NTLM seals byte for byte (MS-WSMV 2.2.9.1.1: Length is the plaintext's). */
    if (parts.declared != parts.sealed_len) {
        etsn_errbuf_set(err, errlen, "encrypted body: declared Length %zu, sealed part has %zu",
                        parts.declared, parts.sealed_len);
        return ETSN_NTLM_ERROR;
    }
    return etsn_ntlm_unseal_message(u, from_client, parts.header, parts.header_len, parts.sealed,
                                    parts.sealed_len, plain, err, errlen);
}

/* ---- NTLM messages (MS-NLMP 2.2.1) ---- */

/* A payload field: Len (2), MaxLen (2), BufferOffset (4) at off. */
static bool field(const etsn_buf *m, size_t off, const uint8_t **p, size_t *len)
{
    if (m->len < off + 8) return false;
    size_t n = (size_t)m->data[off] | (size_t)m->data[off + 1] << 8;
    size_t at = etsn_get_le32(m->data + off + 4);
    if (at > m->len || n > m->len - at) return false;
    *p = m->data + at;
    *len = n;
    return true;
}

static int name_to_utf8(bool unicode, const uint8_t *s, size_t len, etsn_buf *out)
{
    etsn_buf_reset(out);
    if (unicode) return etsn_utf16le_to_utf8(s, len, out);
    /* OEM names: ASCII in practice; anything else becomes U+FFFD. */
    for (size_t i = 0; i < len; i++) {
        int rc = s[i] > 0 && s[i] < 0x80 ? etsn_buf_append_byte(out, s[i])
                                         : etsn_buf_append_str(out, "\xEF\xBF\xBD");
        if (rc < 0) return -1;
    }
    return 0;
}

static int take_authenticate(etsn_ntlm_unseal *u, const uint8_t *m, size_t len, char *err,
                             size_t errlen)
{
    etsn_buf_reset(&u->authenticate);
    if (etsn_buf_append(&u->authenticate, m, len) < 0) goto oom;
    u->generation++;
    const uint8_t *p;
    size_t n;
    if (len < 64) {
        etsn_errbuf_set(err, errlen, "NTLM AUTHENTICATE: truncated (%zu bytes)", len);
        return ETSN_NTLM_ERROR;
    }
    bool unicode = etsn_get_le32(m + 60) & NTLMSSP_NEGOTIATE_UNICODE;
    if (!field(&u->authenticate, 36, &p, &n) || (unicode && n % 2) ||
        name_to_utf8(unicode, p, n, &u->user) < 0 || !field(&u->authenticate, 28, &p, &n) ||
        (unicode && n % 2) || name_to_utf8(unicode, p, n, &u->domain) < 0) {
        etsn_errbuf_set(err, errlen, "NTLM AUTHENTICATE: bad user or domain field");
        etsn_buf_reset(&u->authenticate);
        return ETSN_NTLM_ERROR;
    }
    return 0;
oom:
    etsn_errbuf_set(err, errlen, "out of memory");
    return ETSN_NTLM_ERROR;
}

static int take_ntlm(etsn_ntlm_unseal *u, const uint8_t *m, size_t len, char *err, size_t errlen)
{
    if (len < 12 || memcmp(m, NTLM_SIGNATURE, 8) != 0) {
        etsn_errbuf_set(err, errlen, "NTLM: not an NTLMSSP message");
        return ETSN_NTLM_ERROR;
    }
    switch (etsn_get_le32(m + 8)) {
    case 1: /* NEGOTIATE: a new handshake starts; forget the last one. */
        etsn_buf_reset(&u->challenge);
        etsn_buf_reset(&u->authenticate);
        etsn_buf_reset(&u->mic[0]);
        etsn_buf_reset(&u->mic[1]);
        etsn_buf_reset(&u->user);
        etsn_buf_reset(&u->domain);
        return 0;
    case 2:
        if (len < 32) {
            etsn_errbuf_set(err, errlen, "NTLM CHALLENGE: truncated (%zu bytes)", len);
            return ETSN_NTLM_ERROR;
        }
        etsn_buf_reset(&u->challenge);
        return etsn_buf_append(&u->challenge, m, len) < 0 ? ETSN_NTLM_ERROR : 0;
    case 3:
        return take_authenticate(u, m, len, err, errlen);
    default:
        etsn_errbuf_set(err, errlen, "NTLM: unknown message type %u", etsn_get_le32(m + 8));
        return ETSN_NTLM_ERROR;
    }
}

/* ---- SPNEGO (RFC 4178), read with OpenSSL's DER decoder ---- */

typedef struct {
    int tag, cls;
    const uint8_t *tlv, *content; /* the whole element, its contents */
    long tlv_len, len;
} der_elem;

/* Reads the next definite-length element from [*p, *p + *left). */
static bool der_next(const uint8_t **p, long *left, der_elem *e)
{
    if (*left <= 0) return false;
    const unsigned char *q = *p;
    int r = ASN1_get_object(&q, &e->len, &e->tag, &e->cls, *left);
    if ((r & 0x80) || (r & 0x01)) { /* error, length beyond the input, or indefinite */
        ERR_clear_error();
        return false;
    }
    e->tlv = *p;
    e->content = q;
    e->tlv_len = (long)(q - *p) + e->len;
    *p += e->tlv_len;
    *left -= e->tlv_len;
    return true;
}

/* The OCTET STRING inside an explicit [n] tag. */
static bool octets_in(const der_elem *tagged, der_elem *os)
{
    const uint8_t *p = tagged->content;
    long left = tagged->len;
    return der_next(&p, &left, os) && os->cls == V_ASN1_UNIVERSAL && os->tag == V_ASN1_OCTET_STRING;
}

static int set_buf(etsn_buf *b, const uint8_t *p, size_t n)
{
    etsn_buf_reset(b);
    return etsn_buf_append(b, p, n);
}

/* NegTokenInit or NegTokenResp: a SEQUENCE of context-tagged fields. The
 * mechanism token is handed to take_ntlm; mechTypes (the DER the
 * mechListMIC covers) and the mechListMIC are kept. */
static int take_neg_token(etsn_ntlm_unseal *u, bool from_client, bool init, const der_elem *seq,
                          char *err, size_t errlen)
{
    const uint8_t *p = seq->content;
    long left = seq->len;
    der_elem f, in;
    const uint8_t *mech = NULL, *mic = NULL;
    size_t mech_len = 0, mic_len = 0;
    while (left > 0) {
        if (!der_next(&p, &left, &f) || f.cls != V_ASN1_CONTEXT_SPECIFIC) goto bad;
        if (init && f.tag == 0) { /* mechTypes: SEQUENCE OF OID */
            const uint8_t *q = f.content;
            long l = f.len;
            if (!der_next(&q, &l, &in) || in.tag != V_ASN1_SEQUENCE ||
                set_buf(&u->mech_types, in.tlv, (size_t)in.tlv_len) < 0)
                goto bad;
        } else if (f.tag == 2) { /* mechToken / responseToken */
            if (!octets_in(&f, &in)) goto bad;
            mech = in.content;
            mech_len = (size_t)in.len;
        } else if (f.tag == 3) { /* mechListMIC */
            if (!octets_in(&f, &in)) goto bad;
            mic = in.content;
            mic_len = (size_t)in.len;
        }
    }
    if (mech && mech_len > 0) {
        /* Another mechanism (Kerberos): an optimistic first token may still be
         * followed by NTLM once the acceptor picks it, so only remember it. */
        if (mech_len < 8 || memcmp(mech, NTLM_SIGNATURE, 8) != 0) {
            u->other_mech = true;
            return 0;
        }
        int rc = take_ntlm(u, mech, mech_len, err, errlen);
        if (rc < 0) return rc;
    }
    if (mic && set_buf(&u->mic[from_client ? 1 : 0], mic, mic_len) < 0) goto bad;
    return 0;
bad:
    etsn_errbuf_set(err, errlen, "SPNEGO: malformed %s", init ? "NegTokenInit" : "NegTokenResp");
    return ETSN_NTLM_ERROR;
}

int etsn_ntlm_unseal_add_token(etsn_ntlm_unseal *u, bool from_client, const uint8_t *tok,
                               size_t len, char *err, size_t errlen)
{
    if (len == 0) return 0;
    if (len > ETSN_NTLM_MAX_TOKEN) {
        etsn_errbuf_set(err, errlen, "NTLM: token of %zu bytes is too large", len);
        return ETSN_NTLM_ERROR;
    }
    if (len >= 8 && memcmp(tok, NTLM_SIGNATURE, 8) == 0) return take_ntlm(u, tok, len, err, errlen);
    const uint8_t *p = tok;
    long left = (long)len;
    der_elem outer, e;
    if (!der_next(&p, &left, &outer)) goto bad;
    if (outer.cls == V_ASN1_APPLICATION && outer.tag == 0) {
        /* InitialContextToken (RFC 2743 3.1): the SPNEGO OID, then [0] NegTokenInit. */
        const uint8_t *q = outer.content;
        long l = outer.len;
        if (!der_next(&q, &l, &e) || e.tag != V_ASN1_OBJECT || e.len != sizeof SPNEGO_OID ||
            memcmp(e.content, SPNEGO_OID, sizeof SPNEGO_OID) != 0) {
            etsn_errbuf_set(err, errlen, "SPNEGO: the initial token is not SPNEGO");
            return ETSN_NTLM_ERROR;
        }
        if (!der_next(&q, &l, &outer)) goto bad;
    }
    if (outer.cls != V_ASN1_CONTEXT_SPECIFIC || (outer.tag != 0 && outer.tag != 1)) goto bad;
    const uint8_t *q = outer.content;
    long l = outer.len;
    if (!der_next(&q, &l, &e) || e.cls != V_ASN1_UNIVERSAL || e.tag != V_ASN1_SEQUENCE) goto bad;
    return take_neg_token(u, from_client, outer.tag == 0, &e, err, errlen);
bad:
    etsn_errbuf_set(err, errlen, "NTLM: the token is neither NTLMSSP nor SPNEGO");
    return ETSN_NTLM_ERROR;
}

int etsn_ntlm_unseal_add_header(etsn_ntlm_unseal *u, bool from_client, const char *value,
                                size_t len, char *err, size_t errlen)
{
    size_t i = 0, s;
    while (i < len && (value[i] == ' ' || value[i] == '\t')) i++;
    s = i;
    while (i < len && value[i] != ' ' && value[i] != '\t' && value[i] != ',') i++;
    size_t scheme_len = i - s;
    if (!((scheme_len == 9 && strncasecmp(value + s, "Negotiate", 9) == 0) ||
          (scheme_len == 4 && strncasecmp(value + s, "NTLM", 4) == 0)))
        return 0;
    while (i < len && (value[i] == ' ' || value[i] == '\t')) i++;
    size_t end = len;
    while (end > i && (value[end - 1] == ' ' || value[end - 1] == '\t')) end--;
    /* A bare scheme, or a list of challenges ("Negotiate, Basic realm=..."). */
    if (end == i || memchr(value + i, ',', end - i) || memchr(value + i, ' ', end - i)) return 0;
    if (end - i > ETSN_NTLM_MAX_TOKEN / 3 * 4 + 4) {
        etsn_errbuf_set(err, errlen, "NTLM: token of %zu base64 characters is too large", end - i);
        return ETSN_NTLM_ERROR;
    }
    etsn_buf tok = ETSN_BUF_INIT;
    if (etsn_base64_decode(value + i, end - i, &tok) < 0) {
        etsn_buf_free(&tok);
        etsn_errbuf_set(err, errlen, "NTLM: the %s token is not valid base64",
                        from_client ? "Authorization" : "WWW-Authenticate");
        return ETSN_NTLM_ERROR;
    }
    int rc = etsn_ntlm_unseal_add_token(u, from_client, tok.data, tok.len, err, errlen);
    etsn_buf_free_secure(&tok);
    return rc;
}

bool etsn_ntlm_unseal_has_handshake(const etsn_ntlm_unseal *u)
{
    return u->challenge.len > 0 && u->authenticate.len > 0;
}

const char *etsn_ntlm_unseal_user(const etsn_ntlm_unseal *u)
{
    return u->user.data ? (const char *)u->user.data : "";
}

bool etsn_ntlm_unseal_other_mech(const etsn_ntlm_unseal *u)
{
    return u->other_mech;
}

unsigned etsn_ntlm_unseal_generation(const etsn_ntlm_unseal *u)
{
    return u->generation;
}

const char *etsn_ntlm_unseal_domain(const etsn_ntlm_unseal *u)
{
    return u->domain.data ? (const char *)u->domain.data : "";
}

/* ---- NTLMv2 key derivation (MS-NLMP 3.3.2) ---- */

/* The ExportedSessionKey from the NTLMv2 response: NTProofStr check, then
 * SessionBaseKey = KeyExchangeKey, then the key exchange. */
static int exported_key(etsn_ntlm_unseal *u, const uint8_t resp_key[16], uint8_t out[16],
                        uint32_t *flags, char *err, size_t errlen)
{
    const etsn_buf *a = &u->authenticate;
    const uint8_t *nt, *enc;
    size_t nt_len, enc_len;
    if (!field(a, 20, &nt, &nt_len) || !field(a, 52, &enc, &enc_len)) {
        etsn_errbuf_set(err, errlen, "NTLM AUTHENTICATE: bad response fields");
        return ETSN_NTLM_ERROR;
    }
    if (nt_len < NTLMV2_MIN_RESPONSE) {
        etsn_errbuf_set(err, errlen,
                        "NTLM: the client sent an %s response; only NTLMv2 can be unsealed",
                        nt_len == 0 ? "anonymous" : "NTLMv1");
        return ETSN_NTLM_ERROR;
    }
    *flags = etsn_get_le32(a->data + 60);
    uint8_t proof[16], base_key[16];
    span parts[] = {{u->challenge.data + 24, 8}, {nt + 16, nt_len - 16}};
    if (hmac_md5(u, resp_key, 16, parts, 2, proof) < 0) goto crypto;
    if (CRYPTO_memcmp(proof, nt, 16) != 0) {
        etsn_errbuf_set(err, errlen,
                        "The password does not match the captured NTLM exchange of %s\\%s",
                        etsn_ntlm_unseal_domain(u), etsn_ntlm_unseal_user(u));
        return ETSN_NTLM_BAD_PASSWORD;
    }
    span p2 = {proof, 16};
    if (hmac_md5(u, resp_key, 16, &p2, 1, base_key) < 0) goto crypto;
    if (*flags & NTLMSSP_NEGOTIATE_KEY_EXCH) {
        if (enc_len != 16) {
            etsn_errbuf_set(err, errlen,
                            "NTLM AUTHENTICATE: EncryptedRandomSessionKey has %zu bytes", enc_len);
            return ETSN_NTLM_ERROR;
        }
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int bad = !c || rc4_init(u, c, base_key) < 0 || rc4_apply(c, enc, 16, out) < 0;
        EVP_CIPHER_CTX_free(c);
        etsn_secure_zero(base_key, 16);
        if (bad) goto crypto;
    } else {
        memcpy(out, base_key, 16);
        etsn_secure_zero(base_key, 16);
    }
    return 0;
crypto:
    etsn_errbuf_set(err, errlen, "NTLM: key derivation failed");
    return ETSN_NTLM_ERROR;
}

int etsn_ntlm_unseal_derive(etsn_ntlm_unseal *u, const char *password, char *err, size_t errlen)
{
    if (!etsn_ntlm_unseal_has_handshake(u)) {
        etsn_errbuf_set(err, errlen, "%s",
                        u->other_mech
                            ? "SPNEGO negotiated Kerberos, not NTLM: a Kerberos session cannot "
                              "be unsealed with a password"
                            : "NTLM: the capture holds no complete NTLM handshake");
        return ETSN_NTLM_ERROR;
    }
    const etsn_buf *a = &u->authenticate;
    bool unicode = etsn_get_le32(a->data + 60) & NTLMSSP_NEGOTIATE_UNICODE;
    const uint8_t *user = NULL, *dom = NULL;
    size_t user_len = 0, dom_len = 0;
    etsn_buf pw = ETSN_BUF_INIT, user16 = ETSN_BUF_INIT, dom16 = ETSN_BUF_INIT;
    uint8_t resp_key[16], key[16];
    uint32_t flags = 0;
    int rc = ETSN_NTLM_ERROR;
    field(a, 36, &user, &user_len);
    field(a, 28, &dom, &dom_len);
    if (!unicode) { /* OEM names: NTOWFv2 still hashes UTF-16. */
        if (etsn_utf8_to_utf16le((const char *)u->user.data, u->user.len, &user16) < 0 ||
            etsn_utf8_to_utf16le((const char *)u->domain.data, u->domain.len, &dom16) < 0)
            goto out;
        user = user16.data;
        user_len = user16.len;
        dom = dom16.data;
        dom_len = dom16.len;
    }
    if (etsn_utf8_to_utf16le(password, strlen(password), &pw) < 0) {
        etsn_errbuf_set(err, errlen, "NTLM: the password is not valid UTF-8");
        goto out;
    }
    if (ntowfv2_utf16(u, &pw, user ? user : (const uint8_t *)"", user_len,
                      dom ? dom : (const uint8_t *)"", dom_len, resp_key) < 0) {
        etsn_errbuf_set(err, errlen, "NTLM: NTOWFv2 failed");
        goto out;
    }
    rc = exported_key(u, resp_key, key, &flags, err, errlen);
    if (rc == 0) rc = etsn_ntlm_unseal_set_session_key(u, flags, key, err, errlen);
    u->mic_done[0] = u->mic_done[1] = false;
    if (rc < 0) u->keyed = false;
out:
    etsn_secure_zero(resp_key, sizeof resp_key);
    etsn_secure_zero(key, sizeof key);
    etsn_buf_free_secure(&pw);
    etsn_buf_free(&user16);
    etsn_buf_free(&dom16);
    return rc;
}
