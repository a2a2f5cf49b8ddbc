#include "json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/core/buf.h"

typedef struct {
    const unsigned char *p;
    size_t len;
    size_t pos;
    char *err;
    size_t errlen;
    bool failed;
} parser;

static void fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *ps, const char *fmt, ...)
{
    /* Keep the first error: later ones are consequences of it. */
    if (ps->failed) return;
    ps->failed = true;
    if (!ps->err || !ps->errlen) return;
    int n = snprintf(ps->err, ps->errlen, "offset %zu: ", ps->pos);
    if (n < 0 || (size_t)n >= ps->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void free_value(conf_json *v)
{
    switch (v->type) {
    case CONF_JSON_STRING:
        free(v->u.str.s);
        break;
    case CONF_JSON_ARRAY:
        for (size_t i = 0; i < v->u.arr.count; i++) free_value(&v->u.arr.items[i]);
        free(v->u.arr.items);
        break;
    case CONF_JSON_OBJECT:
        for (size_t i = 0; i < v->u.obj.count; i++) {
            free(v->u.obj.members[i].key);
            free_value(&v->u.obj.members[i].value);
        }
        free(v->u.obj.members);
        break;
    default:
        break;
    }
    v->type = CONF_JSON_NULL;
}

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->len) {
        unsigned char c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        ps->pos++;
    }
}

static bool literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0) {
        fail(ps, "invalid literal");
        return false;
    }
    ps->pos += n;
    return true;
}

static int hex4(parser *ps, uint32_t *out)
{
    if (ps->len - ps->pos < 4) {
        fail(ps, "truncated \\u escape");
        return -1;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = ps->p[ps->pos + (size_t)i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else {
            fail(ps, "bad hex digit in \\u escape");
            return -1;
        }
    }
    ps->pos += 4;
    *out = v;
    return 0;
}

static int put_utf8(etsn_buf *b, uint32_t cp)
{
    uint8_t tmp[4];
    size_t n;
    if (cp < 0x80) {
        tmp[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (uint8_t)(0xC0 | (cp >> 6));
        tmp[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (uint8_t)(0xE0 | (cp >> 12));
        tmp[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        tmp[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        tmp[0] = (uint8_t)(0xF0 | (cp >> 18));
        tmp[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        tmp[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        tmp[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return etsn_buf_append(b, tmp, n);
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    if (cp > 0x10FFFF) return 0;
    return n;
}

/* Parses a string starting at the opening quote into b. */
static int parse_string_raw(parser *ps, etsn_buf *b)
{
    ps->pos++; /* opening quote */
    for (;;) {
        if (ps->pos >= ps->len) {
            fail(ps, "unterminated string");
            return -1;
        }
        unsigned char c = ps->p[ps->pos];
        if (c == '"') {
            ps->pos++;
            /* An empty string still needs a NUL-terminated allocation. */
            if (etsn_buf_append(b, "", 0) < 0) {
                fail(ps, "out of memory");
                return -1;
            }
            return 0;
        }
        if (c < 0x20) {
            fail(ps, "control character in string");
            return -1;
        }
        if (c == '\\') {
            if (ps->pos + 1 >= ps->len) {
                fail(ps, "truncated escape");
                return -1;
            }
            unsigned char e = ps->p[ps->pos + 1];
            ps->pos += 2;
            char out;
            switch (e) {
            case '"':
                out = '"';
                break;
            case '\\':
                out = '\\';
                break;
            case '/':
                out = '/';
                break;
            case 'b':
                out = '\b';
                break;
            case 'f':
                out = '\f';
                break;
            case 'n':
                out = '\n';
                break;
            case 'r':
                out = '\r';
                break;
            case 't':
                out = '\t';
                break;
            case 'u': {
                uint32_t cp;
                if (hex4(ps, &cp) < 0) return -1;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail(ps, "lone low surrogate");
                    return -1;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (ps->len - ps->pos < 2 || ps->p[ps->pos] != '\\' ||
                        ps->p[ps->pos + 1] != 'u') {
                        fail(ps, "lone high surrogate");
                        return -1;
                    }
                    ps->pos += 2;
                    if (hex4(ps, &lo) < 0) return -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        fail(ps, "high surrogate not followed by a low one");
                        return -1;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (put_utf8(b, cp) < 0) {
                    fail(ps, "out of memory");
                    return -1;
                }
                continue;
            }
            default:
                ps->pos -= 2;
                fail(ps, "invalid escape");
                return -1;
            }
            if (etsn_buf_append_byte(b, (uint8_t)out) < 0) {
                fail(ps, "out of memory");
                return -1;
            }
            continue;
        }
        size_t n = utf8_seq(ps->p + ps->pos, ps->len - ps->pos);
        if (!n) {
            fail(ps, "invalid UTF-8 in string");
            return -1;
        }
        if (etsn_buf_append(b, ps->p + ps->pos, n) < 0) {
            fail(ps, "out of memory");
            return -1;
        }
        ps->pos += n;
    }
}

static int parse_number(parser *ps, conf_json *out)
{
    /* Validate the RFC grammar first; strtod alone accepts hex, inf, nan,
     * leading '+' and other things JSON does not. */
    size_t start = ps->pos, i = ps->pos;
    const unsigned char *p = ps->p;
    if (i < ps->len && p[i] == '-') i++;
    if (i >= ps->len) goto bad;
    if (p[i] == '0') {
        i++;
    } else if (p[i] >= '1' && p[i] <= '9') {
        while (i < ps->len && p[i] >= '0' && p[i] <= '9') i++;
    } else
        goto bad;
    if (i < ps->len && p[i] == '.') {
        i++;
        if (i >= ps->len || p[i] < '0' || p[i] > '9') goto bad;
        while (i < ps->len && p[i] >= '0' && p[i] <= '9') i++;
    }
    if (i < ps->len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < ps->len && (p[i] == '+' || p[i] == '-')) i++;
        if (i >= ps->len || p[i] < '0' || p[i] > '9') goto bad;
        while (i < ps->len && p[i] >= '0' && p[i] <= '9') i++;
    }
    size_t n = i - start;
    if (n > 64) {
        fail(ps, "number too long");
        return -1;
    }
    char tmp[65];
    memcpy(tmp, p + start, n);
    tmp[n] = 0;
    errno = 0;
    double d = strtod(tmp, NULL);
    /* Overflow to infinity is rejected; underflow to 0 is harmless. */
    if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
        fail(ps, "number out of range");
        return -1;
    }
    out->type = CONF_JSON_NUMBER;
    out->u.number = d;
    ps->pos = i;
    return 0;
bad:
    fail(ps, "invalid number");
    return -1;
}

static int parse_value(parser *ps, conf_json *out, int depth);

static int parse_array(parser *ps, conf_json *out, int depth)
{
    out->type = CONF_JSON_ARRAY;
    out->u.arr.items = NULL;
    out->u.arr.count = 0;
    size_t cap = 0;
    ps->pos++;
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
        ps->pos++;
        return 0;
    }
    for (;;) {
        if (out->u.arr.count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            conf_json *n = realloc(out->u.arr.items, ncap * sizeof *n);
            if (!n) {
                fail(ps, "out of memory");
                return -1;
            }
            out->u.arr.items = n;
            cap = ncap;
        }
        conf_json *item = &out->u.arr.items[out->u.arr.count];
        item->type = CONF_JSON_NULL;
        if (parse_value(ps, item, depth + 1) < 0) {
            free_value(item);
            return -1;
        }
        out->u.arr.count++;
        skip_ws(ps);
        if (ps->pos >= ps->len) {
            fail(ps, "unterminated array");
            return -1;
        }
        if (ps->p[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->p[ps->pos] == ']') {
            ps->pos++;
            return 0;
        }
        fail(ps, "expected ',' or ']'");
        return -1;
    }
}

static int parse_object(parser *ps, conf_json *out, int depth)
{
    out->type = CONF_JSON_OBJECT;
    out->u.obj.members = NULL;
    out->u.obj.count = 0;
    size_t cap = 0;
    ps->pos++;
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
        ps->pos++;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->pos >= ps->len || ps->p[ps->pos] != '"') {
            fail(ps, "expected a string key");
            return -1;
        }
        if (out->u.obj.count >= CONF_JSON_MAX_MEMBERS) {
            fail(ps, "too many members in one object");
            return -1;
        }
        etsn_buf key = ETSN_BUF_INIT;
        size_t key_pos = ps->pos;
        if (parse_string_raw(ps, &key) < 0) {
            etsn_buf_free(&key);
            return -1;
        }
        for (size_t i = 0; i < out->u.obj.count; i++) {
            const conf_json_member *m = &out->u.obj.members[i];
            if (m->key_len == key.len && memcmp(m->key, key.data, key.len) == 0) {
                ps->pos = key_pos;
                fail(ps, "duplicate key");
                etsn_buf_free(&key);
                return -1;
            }
        }
        skip_ws(ps);
        if (ps->pos >= ps->len || ps->p[ps->pos] != ':') {
            fail(ps, "expected ':'");
            etsn_buf_free(&key);
            return -1;
        }
        ps->pos++;
        if (out->u.obj.count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            conf_json_member *n = realloc(out->u.obj.members, ncap * sizeof *n);
            if (!n) {
                fail(ps, "out of memory");
                etsn_buf_free(&key);
                return -1;
            }
            out->u.obj.members = n;
            cap = ncap;
        }
        conf_json_member *m = &out->u.obj.members[out->u.obj.count];
        m->key_len = key.len;
        m->key = etsn_buf_steal(&key);
        m->value.type = CONF_JSON_NULL;
        /* Counted before the value is parsed so that free_value releases
         * the key if the value fails. */
        out->u.obj.count++;
        if (parse_value(ps, &m->value, depth + 1) < 0) return -1;
        skip_ws(ps);
        if (ps->pos >= ps->len) {
            fail(ps, "unterminated object");
            return -1;
        }
        if (ps->p[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->p[ps->pos] == '}') {
            ps->pos++;
            return 0;
        }
        fail(ps, "expected ',' or '}'");
        return -1;
    }
}

static int parse_value(parser *ps, conf_json *out, int depth)
{
    if (depth > CONF_JSON_MAX_DEPTH) {
        fail(ps, "nesting deeper than %d", CONF_JSON_MAX_DEPTH);
        return -1;
    }
    skip_ws(ps);
    if (ps->pos >= ps->len) {
        fail(ps, "unexpected end of input");
        return -1;
    }
    switch (ps->p[ps->pos]) {
    case '{':
        return parse_object(ps, out, depth);
    case '[':
        return parse_array(ps, out, depth);
    case '"': {
        etsn_buf b = ETSN_BUF_INIT;
        if (parse_string_raw(ps, &b) < 0) {
            etsn_buf_free(&b);
            return -1;
        }
        out->type = CONF_JSON_STRING;
        out->u.str.len = b.len;
        out->u.str.s = etsn_buf_steal(&b);
        return 0;
    }
    case 't':
        if (!literal(ps, "true")) return -1;
        out->type = CONF_JSON_BOOL;
        out->u.boolean = true;
        return 0;
    case 'f':
        if (!literal(ps, "false")) return -1;
        out->type = CONF_JSON_BOOL;
        out->u.boolean = false;
        return 0;
    case 'n':
        if (!literal(ps, "null")) return -1;
        out->type = CONF_JSON_NULL;
        return 0;
    default:
        return parse_number(ps, out);
    }
}

conf_json *conf_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    parser ps = {(const unsigned char *)text, len, 0, err, errlen, false};
    if (!text) {
        fail(&ps, "no input");
        return NULL;
    }
    if (len > CONF_JSON_MAX_INPUT) {
        fail(&ps, "input larger than %u bytes", CONF_JSON_MAX_INPUT);
        return NULL;
    }
    conf_json *v = calloc(1, sizeof *v);
    if (!v) {
        fail(&ps, "out of memory");
        return NULL;
    }
    if (parse_value(&ps, v, 0) == 0) {
        skip_ws(&ps);
        if (ps.pos != ps.len) fail(&ps, "trailing data after the value");
    }
    if (ps.failed) {
        conf_json_free(v);
        return NULL;
    }
    return v;
}

void conf_json_free(conf_json *v)
{
    if (!v) return;
    free_value(v);
    free(v);
}

const conf_json *conf_json_get(const conf_json *obj, const char *key)
{
    if (!obj || obj->type != CONF_JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->u.obj.count; i++) {
        const conf_json_member *m = &obj->u.obj.members[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0) return &m->value;
    }
    return NULL;
}

size_t conf_json_count(const conf_json *arr)
{
    return arr && arr->type == CONF_JSON_ARRAY ? arr->u.arr.count : 0;
}

const conf_json *conf_json_at(const conf_json *arr, size_t i)
{
    if (!arr || arr->type != CONF_JSON_ARRAY || i >= arr->u.arr.count) return NULL;
    return &arr->u.arr.items[i];
}

const char *conf_json_str(const conf_json *v)
{
    return v && v->type == CONF_JSON_STRING ? v->u.str.s : NULL;
}

bool conf_json_is_bool(const conf_json *v)
{
    return v && v->type == CONF_JSON_BOOL;
}
