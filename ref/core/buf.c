#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int etsn_buf_reserve(etsn_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1) return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int etsn_buf_append(etsn_buf *b, const void *data, size_t len)
{
    if (etsn_buf_reserve(b, len) < 0) return -1;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
    return 0;
}

int etsn_buf_append_str(etsn_buf *b, const char *s)
{
    return etsn_buf_append(b, s, strlen(s));
}

int etsn_buf_append_byte(etsn_buf *b, uint8_t byte)
{
    return etsn_buf_append(b, &byte, 1);
}

int etsn_buf_vprintf(etsn_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0 || etsn_buf_reserve(b, (size_t)n) < 0) return -1;
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int etsn_buf_printf(etsn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = etsn_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int etsn_buf_append_xml_escaped(etsn_buf *b, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        default:
            continue;
        }
        if (etsn_buf_append(b, s + start, i - start) < 0 || etsn_buf_append_str(b, rep) < 0)
            return -1;
        start = i + 1;
    }
    return etsn_buf_append(b, s + start, len - start);
}

void etsn_buf_consume(etsn_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) b->data[b->len] = 0;
}

void etsn_buf_reset(etsn_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

char *etsn_buf_steal(etsn_buf *b)
{
    if (!b->data && etsn_buf_reserve(b, 0) < 0) return NULL;
    char *s = (char *)b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void etsn_buf_free(etsn_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void etsn_secure_zero(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
}

void etsn_buf_free_secure(etsn_buf *b)
{
    if (b->data) etsn_secure_zero(b->data, b->cap);
    etsn_buf_free(b);
}
