#include "base64.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

#include <openssl/evp.h>

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static bool xml_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int etsn_base64_encode(const uint8_t *data, size_t len, etsn_buf *out)
{
    /* EVP_EncodeBlock takes an int length: encode in chunks that are a
     * multiple of 3 so that no padding appears mid-stream. */
    const size_t chunk = 3u * 1024 * 1024;
    size_t before = out->len;
    if (etsn_buf_reserve(out, 0) < 0) return -1;
    out->data[out->len] = 0; /* empty input still leaves a terminated string */
    while (len > 0) {
        size_t n = len < chunk ? len : chunk;
        if (etsn_buf_reserve(out, (n + 2) / 3 * 4) < 0) {
            out->len = before;
            out->data[out->len] = 0;
            return -1;
        }
        int w = EVP_EncodeBlock(out->data + out->len, data, (int)n);
        out->len += (size_t)w;
        out->data[out->len] = 0;
        data += n;
        len -= n;
    }
    return 0;
}

int etsn_base64_decode(const char *text, size_t len, etsn_buf *out)
{
    if (len > INT_MAX) return -1;
    char *clean = malloc(len + 1);
    if (!clean) return -1;
    size_t m = 0, pad = 0;
    int rc = -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (xml_space(c)) continue;
        if (c == '=')
            pad++;
        else if (!b64_char(c) || pad) /* data after padding */
            goto done;
        clean[m++] = (char)c;
    }
    if (m % 4 != 0 || pad > 2) goto done;
    if (etsn_buf_reserve(out, m / 4 * 3) < 0) goto done;
    if (m > 0) {
        int got = EVP_DecodeBlock(out->data + out->len, (const unsigned char *)clean, (int)m);
        if (got < 0 || (size_t)got != m / 4 * 3) goto done;
        out->len += (size_t)got - pad;
    }
    out->data[out->len] = 0;
    rc = 0;
done:
    /* The text may be a secret's (a 2.4 SecureString is plain base64). */
    etsn_secure_zero(clean, len + 1);
    free(clean);
    return rc;
}
