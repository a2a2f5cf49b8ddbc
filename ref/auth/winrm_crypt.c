#include "../core/error.h"
#include "winrm_crypt.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../core/bytes.h"

/* Byte layout as Windows, pywinrm and pypsrp produce it; every separator is
 * CRLF and the part headers are indented with a TAB. */
#define BOUNDARY "--Encrypted Boundary\r\n"
#define END_BOUNDARY "--Encrypted Boundary--\r\n"
#define PROTO_SPNEGO "application/HTTP-SPNEGO-session-encrypted"
#define PROTO_KERBEROS "application/HTTP-Kerberos-session-encrypted"
#define OCTET_STREAM "\tContent-Type: application/octet-stream\r\n"
#define DEFAULT_TYPE "application/soap+xml;charset=UTF-8"

static const char *protocol(etsn_mech mech)
{
    return mech == ETSN_MECH_KERBEROS ? PROTO_KERBEROS : PROTO_SPNEGO;
}

const char *etsn_winrm_crypt_content_type(etsn_mech mech)
{
    return mech == ETSN_MECH_KERBEROS ? "multipart/encrypted;protocol=\"" PROTO_KERBEROS
                                        "\";boundary=\"Encrypted Boundary\""
                                      : "multipart/encrypted;protocol=\"" PROTO_SPNEGO
                                        "\";boundary=\"Encrypted Boundary\"";
}

int etsn_winrm_encrypt(etsn_gss *g, etsn_mech mech, const char *content_type, const uint8_t *plain,
                       size_t len, etsn_buf *body, char *err, size_t errlen)
{
    if (!content_type) content_type = DEFAULT_TYPE;
    if (strpbrk(content_type, "\r\n")) {
        etsn_errbuf_set(err, errlen, "winrm encrypt: content type contains a line break");
        return -1;
    }
    etsn_buf header = ETSN_BUF_INIT, sealed = ETSN_BUF_INIT;
    int rc = -1;
    if (etsn_gss_wrap(g, plain, len, &header, &sealed, err, errlen) < 0) goto out;
    if (header.len > UINT32_MAX || sealed.len < len) {
        etsn_errbuf_set(err, errlen, "winrm encrypt: unexpected wrap output");
        goto out;
    }
    /* Length counts the padding a Kerberos cipher may add (pypsrp does the
     * same); with NTLM and AES it is the plaintext length. */
    size_t declared = sealed.len;
    uint32_t hl = (uint32_t)header.len;
    uint8_t hl_le[4] = {(uint8_t)hl, (uint8_t)(hl >> 8), (uint8_t)(hl >> 16), (uint8_t)(hl >> 24)};
    etsn_buf_reset(body);
    if (etsn_buf_printf(body,
                        BOUNDARY "\tContent-Type: %s\r\n"
                                 "\tOriginalContent: type=%s;Length=%zu\r\n" BOUNDARY OCTET_STREAM,
                        protocol(mech), content_type, declared) < 0 ||
        etsn_buf_append(body, hl_le, 4) < 0 || etsn_buf_append(body, header.data, header.len) < 0 ||
        etsn_buf_append(body, sealed.data, sealed.len) < 0 ||
        etsn_buf_append_str(body, END_BOUNDARY) < 0) {
        etsn_errbuf_set(err, errlen, "out of memory");
        goto out;
    }
    rc = 0;
out:
    etsn_buf_free(&header);
    etsn_buf_free(&sealed);
    return rc;
}

static bool is_kerberos(const etsn_gss *g)
{
    const char *m = etsn_gss_mech_name(g);
    return m && strcmp(m, "kerberos") == 0;
}

/* A cursor over the body: every read checks the remaining length first. */
typedef struct {
    const uint8_t *p;
    size_t left;
} cursor;

static bool eat(cursor *c, const char *lit)
{
    size_t n = strlen(lit);
    if (c->left < n || memcmp(c->p, lit, n) != 0) return false;
    c->p += n;
    c->left -= n;
    return true;
}

/* The rest of the current line, without its CRLF; false when there is no
 * CRLF before the end. */
static bool line(cursor *c, const uint8_t **start, size_t *len)
{
    for (size_t i = 0; i + 1 < c->left; i++) {
        if (c->p[i] == '\r' && c->p[i + 1] == '\n') {
            *start = c->p;
            *len = i;
            c->p += i + 2;
            c->left -= i + 2;
            return true;
        }
        if (c->p[i] == '\n' || c->p[i] == '\r' || c->p[i] == 0) return false;
    }
    return false;
}

/* Finds ";Length=<digits>" closing the OriginalContent line. */
static bool parse_length(const uint8_t *s, size_t n, size_t *out)
{
    static const char key[] = "Length=";
    const size_t klen = sizeof(key) - 1;
    size_t digits = 0;
    while (digits < n && isdigit(s[n - 1 - digits])) digits++;
    if (digits == 0 || digits > 12 || n < digits + klen + 1) return false;
    const uint8_t *k = s + n - digits - klen;
    if (strncasecmp((const char *)k, key, klen) != 0 || k[-1] != ';') return false;
    size_t v = 0;
    for (size_t i = n - digits; i < n; i++) v = v * 10 + (size_t)(s[i] - '0');
    *out = v;
    return true;
}

int etsn_winrm_split(const uint8_t *body, size_t len, etsn_winrm_parts *out, char *err,
                     size_t errlen)
{
    cursor c = {body, len};
    const uint8_t *ln;
    size_t ll;
    const size_t endlen = sizeof(END_BOUNDARY) - 1;

    memset(out, 0, sizeof(*out));
    if (!body || !eat(&c, BOUNDARY)) {
        etsn_errbuf_set(err, errlen, "encrypted body: missing opening boundary");
        return -1;
    }
    if (!eat(&c, "\tContent-Type: ") || !line(&c, &ln, &ll)) goto bad_protocol;
    if (ll == strlen(PROTO_KERBEROS) && strncasecmp((const char *)ln, PROTO_KERBEROS, ll) == 0)
        out->kerberos = true;
    else if (!(ll == strlen(PROTO_SPNEGO) && strncasecmp((const char *)ln, PROTO_SPNEGO, ll) == 0))
        goto bad_protocol;
    if (!eat(&c, "\tOriginalContent: type=") || !line(&c, &ln, &ll) ||
        !parse_length(ln, ll, &out->declared)) {
        etsn_errbuf_set(err, errlen, "encrypted body: bad OriginalContent header");
        return -1;
    }
    if (!eat(&c, BOUNDARY) || !eat(&c, OCTET_STREAM)) {
        etsn_errbuf_set(err, errlen, "encrypted body: missing data part");
        return -1;
    }
    if (c.left < 4 + endlen) {
        etsn_errbuf_set(err, errlen, "encrypted body: truncated");
        return -1;
    }
    uint32_t hl = etsn_get_le32(c.p);
    c.p += 4;
    c.left -= 4;
    if (memcmp(c.p + c.left - endlen, END_BOUNDARY, endlen) != 0) {
        etsn_errbuf_set(err, errlen, "encrypted body: missing closing boundary");
        return -1;
    }
    size_t payload = c.left - endlen;
    if (hl > payload) {
        etsn_errbuf_set(err, errlen, "encrypted body: header length %u exceeds the payload", hl);
        return -1;
    }
    out->header = c.p;
    out->header_len = hl;
    out->sealed = c.p + hl;
    out->sealed_len = payload - hl;
    return 0;
bad_protocol:
    etsn_errbuf_set(err, errlen, "encrypted body: missing or unsupported protocol part header");
    return -1;
}

int etsn_winrm_decrypt(etsn_gss *g, const uint8_t *body, size_t len, etsn_buf *plain, char *err,
                       size_t errlen)
{
    etsn_winrm_parts parts;
    if (etsn_winrm_split(body, len, &parts, err, errlen) < 0) return -1;
    size_t declared = parts.declared, sealed_len = parts.sealed_len;
    /* NTLM seals byte for byte, so Length must match the sealed part; a
     * Kerberos sender may count its cipher padding or not. Checked before
     * unwrapping because a failed NTLM unwrap still advances the RC4 state. */
    bool krb = is_kerberos(g);
    if (declared > sealed_len || (!krb && declared != sealed_len)) {
        etsn_errbuf_set(err, errlen, "encrypted body: declared Length %zu, sealed part has %zu",
                        declared, sealed_len);
        return -1;
    }

    size_t before = plain->len;
    if (etsn_gss_unwrap(g, parts.header, parts.header_len, parts.sealed, sealed_len, plain, err,
                        errlen) < 0)
        return -1;
    size_t got = plain->len - before;
    if (got != declared && !(krb && declared == sealed_len && got <= declared)) {
        etsn_secure_zero(plain->data + before, got);
        plain->len = before;
        plain->data[before] = 0;
        etsn_errbuf_set(err, errlen, "encrypted body: declared Length %zu, decrypted %zu", declared,
                        got);
        return -1;
    }
    return 0;
}

int etsn_winrm_is_encrypted(const char *content_type)
{
    if (!content_type) return 0;
    while (*content_type == ' ' || *content_type == '\t') content_type++;
    static const char *const types[] = {"multipart/encrypted", "multipart/x-multi-encrypted"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i]);
        if (strncasecmp(content_type, types[i], n) == 0) {
            char next = content_type[n];
            if (next == 0 || next == ';' || next == ' ' || next == '\t') return 1;
        }
    }
    return 0;
}
