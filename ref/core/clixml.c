/* CLIXML (MS-PSRP 2.2.5): value model, writer and reader. */
#include "clixml.h"

#include "base64.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <libxml/parser.h>

/* ------------------------------------------------------------------------ */
/* values                                                                   */
/* ------------------------------------------------------------------------ */

static etsn_value *v_new(etsn_vkind kind)
{
    etsn_value *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->refcount = 1;
    v->kind = kind;
    return v;
}

etsn_value *etsn_v_nil(void)
{
    return v_new(ETSN_V_NIL);
}

etsn_value *etsn_v_bool(bool b)
{
    etsn_value *v = v_new(ETSN_V_BOOL);
    if (v) v->num.b = b;
    return v;
}

static bool int_range(etsn_vkind kind, int64_t *lo, int64_t *hi)
{
    switch (kind) {
    case ETSN_V_I8:
        *lo = INT8_MIN, *hi = INT8_MAX;
        return true;
    case ETSN_V_I16:
        *lo = INT16_MIN, *hi = INT16_MAX;
        return true;
    case ETSN_V_I32:
        *lo = INT32_MIN, *hi = INT32_MAX;
        return true;
    case ETSN_V_I64:
        *lo = INT64_MIN, *hi = INT64_MAX;
        return true;
    case ETSN_V_CHAR:
        *lo = 0, *hi = 0xFFFF;
        return true; /* one UTF-16 code unit */
    default:
        return false;
    }
}

static bool uint_range(etsn_vkind kind, uint64_t *hi)
{
    switch (kind) {
    case ETSN_V_U8:
        *hi = UINT8_MAX;
        return true;
    case ETSN_V_U16:
        *hi = UINT16_MAX;
        return true;
    case ETSN_V_U32:
        *hi = UINT32_MAX;
        return true;
    case ETSN_V_U64:
        *hi = UINT64_MAX;
        return true;
    default:
        return false;
    }
}

static bool is_text_kind(etsn_vkind k)
{
    return k >= ETSN_V_STRING && k <= ETSN_V_SCRIPTBLOCK;
}
static bool is_bytes_kind(etsn_vkind k)
{
    return k == ETSN_V_BYTES || k == ETSN_V_SECURESTRING;
}

etsn_value *etsn_v_int(etsn_vkind kind, int64_t i)
{
    int64_t lo, hi;
    if (!int_range(kind, &lo, &hi) || i < lo || i > hi) return NULL;
    etsn_value *v = v_new(kind);
    if (v) v->num.i = i;
    return v;
}

etsn_value *etsn_v_uint(etsn_vkind kind, uint64_t u)
{
    uint64_t hi;
    if (!uint_range(kind, &hi) || u > hi) return NULL;
    etsn_value *v = v_new(kind);
    if (v) v->num.u = u;
    return v;
}

etsn_value *etsn_v_i32(int32_t i)
{
    return etsn_v_int(ETSN_V_I32, i);
}
etsn_value *etsn_v_i64(int64_t i)
{
    return etsn_v_int(ETSN_V_I64, i);
}

etsn_value *etsn_v_double(double d)
{
    etsn_value *v = v_new(ETSN_V_DOUBLE);
    if (v) v->num.d = d;
    return v;
}

static char *mem_dup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = 0;
    return p;
}

etsn_value *etsn_v_text(etsn_vkind kind, const char *s, size_t len)
{
    if (!is_text_kind(kind) && !is_bytes_kind(kind)) return NULL;
    if (!s && len) return NULL;
    etsn_value *v = v_new(kind);
    if (!v) return NULL;
    v->str = mem_dup(s ? s : "", len);
    if (!v->str) {
        free(v);
        return NULL;
    }
    v->str_len = len;
    return v;
}

etsn_value *etsn_v_string_n(const char *s, size_t len)
{
    return s ? etsn_v_text(ETSN_V_STRING, s, len) : etsn_v_nil();
}

etsn_value *etsn_v_string(const char *s)
{
    return s ? etsn_v_string_n(s, strlen(s)) : etsn_v_nil();
}

etsn_value *etsn_v_obj(void)
{
    return v_new(ETSN_V_OBJ);
}

etsn_value *etsn_v_ref(etsn_value *v)
{
    if (v) v->refcount++;
    return v;
}

static void free_list(etsn_value **list, size_t n)
{
    for (size_t i = 0; i < n; i++) etsn_v_free(list[i]);
    free(list);
}

void etsn_v_free(etsn_value *v)
{
    if (!v || --v->refcount > 0) return;
    free(v->name);
    if (v->kind == ETSN_V_SECURESTRING && v->str) etsn_secure_zero(v->str, v->str_len);
    free(v->str);
    for (size_t i = 0; i < v->n_type_names; i++) free(v->type_names[i]);
    free(v->type_names);
    free(v->to_string);
    etsn_v_free(v->base);
    free_list(v->props, v->n_props);
    free_list(v->members, v->n_members);
    free_list(v->items, v->n_items);
    free(v);
}

static int copy_type_names(etsn_value *dst, char *const *names, size_t n)
{
    if (!n) return 0;
    dst->type_names = calloc(n, sizeof *dst->type_names);
    if (!dst->type_names) return -1;
    for (size_t i = 0; i < n; i++) {
        dst->type_names[i] = strdup(names[i]);
        if (!dst->type_names[i]) return -1;
        dst->n_type_names++;
    }
    return 0;
}

static size_t list_cap(size_t n);

static int share_list(etsn_value ***dst, size_t *dst_n, etsn_value *const *src, size_t n)
{
    if (!n) return 0;
    *dst = malloc(list_cap(n) * sizeof **dst);
    if (!*dst) return -1;
    for (size_t i = 0; i < n; i++) (*dst)[i] = etsn_v_ref(src[i]);
    *dst_n = n;
    return 0;
}

/* A value has one name, but a shared object can be the member "A" in one place
 * and "B" in another (a <Ref N="B"> to <Obj N="A">). Such a use gets a new
 * top node whose contents are shared with the original. full=false copies only
 * the header, for a reference to an object that is still being read. */
static etsn_value *shallow_clone(const etsn_value *v, bool full)
{
    etsn_value *c = v_new(v->kind);
    if (!c) return NULL;
    c->num = v->num;
    if (v->str) {
        c->str = mem_dup(v->str, v->str_len);
        if (!c->str) goto fail;
        c->str_len = v->str_len;
    }
    if (v->kind != ETSN_V_OBJ) return c;
    if (copy_type_names(c, v->type_names, v->n_type_names) < 0) goto fail;
    if (v->to_string && !(c->to_string = strdup(v->to_string))) goto fail;
    if (!full) return c;
    c->base = etsn_v_ref(v->base);
    c->coll = v->coll;
    if (share_list(&c->props, &c->n_props, v->props, v->n_props) < 0 ||
        share_list(&c->members, &c->n_members, v->members, v->n_members) < 0 ||
        share_list(&c->items, &c->n_items, v->items, v->n_items) < 0)
        goto fail;
    return c;
fail:
    etsn_v_free(c);
    return NULL;
}

static bool same_name(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Gives v the name, taking ownership of v; NULL (v released) on failure. */
static etsn_value *with_name(etsn_value *v, const char *name)
{
    if (!v) return NULL;
    if (same_name(v->name, name)) return v;
    if (v->refcount > 1) {
        etsn_value *c = shallow_clone(v, true);
        etsn_v_free(v);
        if (!c) return NULL;
        v = c;
    }
    char *copy = NULL;
    if (name && !(copy = strdup(name))) {
        etsn_v_free(v);
        return NULL;
    }
    free(v->name);
    v->name = copy;
    return v;
}

/* List storage grows in powers of two from 4, so the capacity follows from the
 * count alone and the struct needs no capacity field. */
static size_t list_cap(size_t n)
{
    size_t cap = 4;
    while (cap < n) cap <<= 1;
    return cap;
}

static int push(etsn_value ***list, size_t *n, etsn_value *v)
{
    if (*n == 0 || (*n >= 4 && (*n & (*n - 1)) == 0)) {
        size_t ncap = list_cap(*n + 1);
        if (ncap > SIZE_MAX / sizeof **list) return -1;
        etsn_value **p = realloc(*list, ncap * sizeof **list);
        if (!p) return -1;
        *list = p;
    }
    (*list)[(*n)++] = v;
    return 0;
}

int etsn_obj_add_type(etsn_value *obj, const char *type_name)
{
    if (!obj || obj->kind != ETSN_V_OBJ || !type_name) return -1;
    char *s = strdup(type_name);
    if (!s) return -1;
    char **p = realloc(obj->type_names, (obj->n_type_names + 1) * sizeof *p);
    if (!p) {
        free(s);
        return -1;
    }
    obj->type_names = p;
    p[obj->n_type_names++] = s;
    return 0;
}

int etsn_obj_set_tostring(etsn_value *obj, const char *s)
{
    if (!obj || obj->kind != ETSN_V_OBJ) return -1;
    char *copy = NULL;
    if (s && !(copy = strdup(s))) return -1;
    free(obj->to_string);
    obj->to_string = copy;
    return 0;
}

int etsn_obj_set_base(etsn_value *obj, etsn_value *base)
{
    if (!obj || obj->kind != ETSN_V_OBJ || !base) {
        etsn_v_free(base);
        return -1;
    }
    etsn_v_free(obj->base);
    obj->base = base;
    return 0;
}

static int add_named(etsn_value *obj, etsn_value ***list, size_t *n, const char *name,
                     etsn_value *v)
{
    if (!obj || obj->kind != ETSN_V_OBJ || !v) {
        etsn_v_free(v);
        return -1;
    }
    v = with_name(v, name);
    if (!v) return -1;
    if (push(list, n, v) < 0) {
        etsn_v_free(v);
        return -1;
    }
    return 0;
}

int etsn_obj_add_prop(etsn_value *obj, const char *name, etsn_value *v)
{
    return add_named(obj, obj ? &obj->props : NULL, obj ? &obj->n_props : NULL, name, v);
}

int etsn_obj_add_member(etsn_value *obj, const char *name, etsn_value *v)
{
    return add_named(obj, obj ? &obj->members : NULL, obj ? &obj->n_members : NULL, name, v);
}

int etsn_obj_set_coll(etsn_value *obj, etsn_coll coll)
{
    if (!obj || obj->kind != ETSN_V_OBJ || coll < ETSN_COLL_NONE || coll > ETSN_COLL_DCT) return -1;
    /* Items already held must keep their meaning (pairs for DCT). */
    if (obj->n_items && (coll == ETSN_COLL_DCT) != (obj->coll == ETSN_COLL_DCT)) return -1;
    obj->coll = coll;
    return 0;
}

int etsn_obj_push_item(etsn_value *obj, etsn_value *v)
{
    if (!obj || obj->kind != ETSN_V_OBJ || !v || obj->coll == ETSN_COLL_DCT) {
        etsn_v_free(v);
        return -1;
    }
    if (obj->coll == ETSN_COLL_NONE) obj->coll = ETSN_COLL_LST;
    if (push(&obj->items, &obj->n_items, v) < 0) {
        etsn_v_free(v);
        return -1;
    }
    return 0;
}

int etsn_obj_push_entry(etsn_value *obj, etsn_value *key, etsn_value *v)
{
    if (!obj || obj->kind != ETSN_V_OBJ || !key || !v ||
        (obj->coll != ETSN_COLL_NONE && obj->coll != ETSN_COLL_DCT)) {
        etsn_v_free(key);
        etsn_v_free(v);
        return -1;
    }
    obj->coll = ETSN_COLL_DCT;
    if (push(&obj->items, &obj->n_items, key) < 0) {
        etsn_v_free(key);
        etsn_v_free(v);
        return -1;
    }
    if (push(&obj->items, &obj->n_items, v) < 0) {
        obj->n_items--;
        etsn_v_free(key);
        etsn_v_free(v);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* reading values                                                           */
/* ------------------------------------------------------------------------ */

/* PowerShell looks PSObject members up case-insensitively
 * (PSMemberInfoCollection uses StringComparer.OrdinalIgnoreCase): pypsrp sends
 * SET_MAX_RUNSPACES with "CI" and reads "ci". An exact match wins over one
 * that differs only in case. */
static etsn_value *find_named(etsn_value *const *list, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (list[i]->name && strncmp(list[i]->name, name, len) == 0 && !list[i]->name[len])
            return list[i];
    for (size_t i = 0; i < n; i++)
        if (list[i]->name && strncasecmp(list[i]->name, name, len) == 0 && !list[i]->name[len])
            return list[i];
    return NULL;
}

static etsn_value *get_n(const etsn_value *obj, const char *name, size_t len)
{
    if (!obj || obj->kind != ETSN_V_OBJ || !name) return NULL;
    etsn_value *v = find_named(obj->members, obj->n_members, name, len);
    return v ? v : find_named(obj->props, obj->n_props, name, len);
}

etsn_value *etsn_v_get(const etsn_value *obj, const char *name)
{
    return name ? get_n(obj, name, strlen(name)) : NULL;
}

etsn_value *etsn_v_path(const etsn_value *obj, const char *path)
{
    if (!path) return NULL;
    etsn_value *cur = (etsn_value *)obj;
    for (;;) {
        size_t n = strcspn(path, ".");
        cur = get_n(cur, path, n);
        if (!cur || !path[n]) return cur;
        path += n + 1;
    }
}

bool etsn_v_as_i64(const etsn_value *v, int64_t *out)
{
    /* An enum arrives as an object wrapping its number; wrappers can nest. */
    for (int hops = 0; v && v->kind == ETSN_V_OBJ && hops < 64; hops++) v = v->base;
    if (!v) return false;
    switch (v->kind) {
    case ETSN_V_I8:
    case ETSN_V_I16:
    case ETSN_V_I32:
    case ETSN_V_I64:
    case ETSN_V_CHAR:
        *out = v->num.i;
        return true;
    case ETSN_V_U8:
    case ETSN_V_U16:
    case ETSN_V_U32:
    case ETSN_V_U64:
        if (v->num.u > INT64_MAX) return false;
        *out = (int64_t)v->num.u;
        return true;
    case ETSN_V_DOUBLE:
    case ETSN_V_FLOAT:
        /* Only whole numbers that fit: 2^63 itself is out of range. */
        if (!(v->num.d >= -9223372036854775808.0 && v->num.d < 9223372036854775808.0) ||
            v->num.d != trunc(v->num.d))
            return false;
        *out = (int64_t)v->num.d;
        return true;
    default:
        return false;
    }
}

const char *etsn_v_as_str(const etsn_value *v)
{
    for (int hops = 0; v && hops < 64; hops++) {
        if (is_text_kind(v->kind)) return v->str;
        if (v->kind != ETSN_V_OBJ) return NULL;
        if (v->to_string) return v->to_string;
        v = v->base;
    }
    return NULL;
}

bool etsn_v_has_type(const etsn_value *v, const char *type_name)
{
    if (!v || v->kind != ETSN_V_OBJ || !type_name) return false;
    for (size_t i = 0; i < v->n_type_names; i++)
        if (strcmp(v->type_names[i], type_name) == 0) return true;
    return false;
}

etsn_value *etsn_dict_get(const etsn_value *dict, const char *key)
{
    if (!dict || dict->kind != ETSN_V_OBJ || dict->coll != ETSN_COLL_DCT || !key) return NULL;
    /* PowerShell hashtables compare keys ignoring case; an exact match wins. */
    etsn_value *loose = NULL;
    for (size_t i = 0; i + 1 < dict->n_items; i += 2) {
        const char *k = etsn_v_as_str(dict->items[i]);
        if (!k) continue;
        if (strcmp(k, key) == 0) return dict->items[i + 1];
        if (!loose && strcasecmp(k, key) == 0) loose = dict->items[i + 1];
    }
    return loose;
}

static bool list_equal(etsn_value *const *a, etsn_value *const *b, size_t n, bool names);

static bool value_equal(const etsn_value *a, const etsn_value *b)
{
    if (a == b) return true;
    if (!a || !b || a->kind != b->kind) return false;
    switch (a->kind) {
    case ETSN_V_NIL:
        return true;
    case ETSN_V_BOOL:
        return a->num.b == b->num.b;
    case ETSN_V_DOUBLE:
    case ETSN_V_FLOAT:
        if (isnan(a->num.d) && isnan(b->num.d)) return true;
        /* 0.0 and -0.0 travel differently, so they differ here. */
        return a->num.d == b->num.d && signbit(a->num.d) == signbit(b->num.d);
    case ETSN_V_OBJ:
        break;
    default:
        if (a->kind <= ETSN_V_CHAR) return a->num.u == b->num.u;
        return a->str_len == b->str_len && memcmp(a->str, b->str, a->str_len) == 0;
    }
    if (a->n_type_names != b->n_type_names || a->coll != b->coll || a->n_items != b->n_items ||
        a->n_props != b->n_props || a->n_members != b->n_members ||
        !same_name(a->to_string, b->to_string) || !value_equal(a->base, b->base))
        return false;
    for (size_t i = 0; i < a->n_type_names; i++)
        if (strcmp(a->type_names[i], b->type_names[i]) != 0) return false;
    return list_equal(a->items, b->items, a->n_items, false) &&
           list_equal(a->props, b->props, a->n_props, true) &&
           list_equal(a->members, b->members, a->n_members, true);
}

static bool list_equal(etsn_value *const *a, etsn_value *const *b, size_t n, bool names)
{
    for (size_t i = 0; i < n; i++) {
        if (names && !same_name(a[i]->name, b[i]->name)) return false;
        if (!value_equal(a[i], b[i])) return false;
    }
    return true;
}

bool etsn_v_equal(const etsn_value *a, const etsn_value *b)
{
    return value_equal(a, b);
}

/* ------------------------------------------------------------------------ */
/* text helpers                                                             */
/* ------------------------------------------------------------------------ */

static int put_utf8(etsn_buf *out, uint32_t cp)
{
    uint8_t b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | cp >> 6);
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | cp >> 12);
        b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (uint8_t)(0xF0 | cp >> 18);
        b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        b[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return etsn_buf_append(out, b, n);
}

/* One code point from UTF-8; malformed input yields U+FFFD for one byte, as
 * .NET's decoder would, so the writer never emits invalid XML. */
static size_t utf8_next(const uint8_t *s, size_t len, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (n > len) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return n;
}

static int put_escape(etsn_buf *out, uint32_t unit)
{
    return etsn_buf_printf(out, "_x%04X_", unit);
}

enum esc { ESC_NONE, ESC_TEXT, ESC_ATTR };

/* Entities as .NET's XmlWriter writes them, so output matches a Windows
 * server byte for byte: quotes stay literal in text. */
static int append_span(etsn_buf *out, const char *s, size_t n, enum esc mode)
{
    if (mode == ESC_NONE) return etsn_buf_append(out, s, n);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep;
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
            rep = mode == ESC_ATTR ? "&quot;" : NULL;
            break;
        default:
            rep = NULL;
        }
        if (!rep) continue;
        if (etsn_buf_append(out, s + start, i - start) < 0 || etsn_buf_append_str(out, rep) < 0)
            return -1;
        start = i + 1;
    }
    return etsn_buf_append(out, s + start, n - start);
}

/* PowerShell's rule works on UTF-16 units: C0, DEL and C1 controls, surrogates
 * (so every supplementary character becomes a pair) and U+FFFE/U+FFFF, plus
 * the '_' of "_x"/"_X" so that decoding is unambiguous. */
static int encode_text(etsn_buf *out, const char *s, size_t len, enum esc xml)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t start = 0, i = 0;
    while (i < len) {
        if (u[i] >= 0x20 && u[i] < 0x7F && u[i] != '_') {
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = utf8_next(u + i, len - i, &cp);
        bool plain = cp >= 0xA0 && cp < 0x10000 && cp != 0xFFFE && cp != 0xFFFF;
        if (cp == 0xFFFD && n == 1) plain = false;
        if (cp == '_') plain = !(i + 1 < len && (s[i + 1] == 'x' || s[i + 1] == 'X'));
        if (plain) {
            i += n;
            continue;
        }
        if (append_span(out, s + start, i - start, xml) < 0) return -1;
        int rc;
        if (cp == 0xFFFD) {
            rc = etsn_buf_append_str(out, "\xEF\xBF\xBD");
        } else if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            rc = put_escape(out, 0xD800 | v >> 10) < 0 ? -1 : put_escape(out, 0xDC00 | (v & 0x3FF));
        } else {
            rc = put_escape(out, cp);
        }
        if (rc < 0) return -1;
        i += n;
        start = i;
    }
    return append_span(out, s + start, len - start, xml);
}

int etsn_clixml_encode_string(const char *s, size_t len, etsn_buf *out)
{
    return s || !len ? encode_text(out, s ? s : "", len, ESC_NONE) : -1;
}

static int hex_digits(const char *s, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Length of an escape "_xHHHH_" or "_xHHHHHHHH_" at s, or 0. */
static size_t escape_at(const char *s, size_t len, uint32_t *v)
{
    if (len < 7 || s[0] != '_' || (s[1] != 'x' && s[1] != 'X')) return 0;
    if (s[6] == '_' && hex_digits(s + 2, 4, v) == 0) return 7;
    if (len >= 11 && s[10] == '_' && hex_digits(s + 2, 8, v) == 0) return 11;
    return 0;
}

int etsn_clixml_decode_string(const char *s, size_t len, etsn_buf *out)
{
    if (!s && len) return -1;
    size_t start = 0, i = 0;
    while (i < len) {
        const char *us = memchr(s + i, '_', len - i);
        if (!us) break;
        i = (size_t)(us - s);
        uint32_t v;
        size_t n = escape_at(s + i, len - i, &v);
        if (!n) {
            i++;
            continue;
        }
        if (etsn_buf_append(out, s + start, i - start) < 0) return -1;
        i += n;
        if (n == 7 && v >= 0xD800 && v <= 0xDBFF) {
            uint32_t lo;
            size_t m = escape_at(s + i, len - i, &lo);
            if (m == 7 && lo >= 0xDC00 && lo <= 0xDFFF) {
                v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                i += m;
            }
        }
        /* A lone surrogate has no UTF-8 form; .NET's encoder also writes U+FFFD. */
        if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) v = 0xFFFD;
        if (put_utf8(out, v) < 0) return -1;
        start = i;
    }
    return etsn_buf_append(out, s + start, len - start);
}

/* .NET's "R" format: the shortest digits that read back to the same value,
 * fixed notation unless the decimal exponent passes the type's precision
 * (15 for Double, 7 for Single) or the value is below 1E-04, then "1E+20". */
static void format_real(double d, bool single, char *out, size_t outlen)
{
    if (isnan(d)) {
        snprintf(out, outlen, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(out, outlen, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (d == 0) {
        snprintf(out, outlen, signbit(d) ? "-0" : "0");
        return;
    }
    char e[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (single ? strtof(e, NULL) == (float)d : strtod(e, NULL) == d) break;
    }
    char digits[24];
    size_t nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1) digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int exp10 = *p == 'e' ? atoi(p + 1) : 0;
    int scale = exp10 + 1;
    int maxd = single ? 7 : 15;
    char *o = out;
    char *end = out + outlen - 1;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (o < end) *o++ = (c);                                                                   \
    } while (0)
    if (neg) PUT('-');
    if (scale > maxd || scale < -3) {
        PUT(digits[0]);
        if (nd > 1) {
            PUT('.');
            for (size_t i = 1; i < nd; i++) PUT(digits[i]);
        }
        char ex[16];
        snprintf(ex, sizeof ex, "E%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
        for (char *x = ex; *x; x++) PUT(*x);
    } else if (scale <= 0) {
        PUT('0');
        PUT('.');
        for (int i = 0; i < -scale; i++) PUT('0');
        for (size_t i = 0; i < nd; i++) PUT(digits[i]);
    } else {
        for (int i = 0; i < scale; i++) PUT((size_t)i < nd ? digits[i] : '0');
        if ((size_t)scale < nd) {
            PUT('.');
            for (size_t i = (size_t)scale; i < nd; i++) PUT(digits[i]);
        }
    }
#undef PUT
    *o = 0;
}

/* ------------------------------------------------------------------------ */
/* hash map with a random seed, so hostile RefIds cannot force collisions  */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *key; /* NULL: free slot */
    size_t klen;
    uint64_t h;
    size_t id;
    etsn_value *v;
    bool busy;
} hslot;

typedef struct {
    hslot *slots;
    size_t cap, n;
} hmap;

static uint64_t hash_seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
        s = (uint64_t)(uintptr_t)&s ^ (uint64_t)time(NULL) * 0x9E3779B97F4A7C15u;
    hash_seed = s | 1;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = hash_seed ^ mix(n, 0xA0761D6478BD642Fu);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix(h ^ w, 0xE7037ED1A0B428DBu);
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return mix(h ^ w ^ 0x8EBC6AF09C88C6E3u, 0x589965CC75374CC3u);
}

static hslot *hmap_find(const hmap *m, const void *key, size_t klen)
{
    if (!m->cap) return NULL;
    uint64_t h = hash_bytes(key, klen);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        hslot *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->h == h && s->klen == klen && memcmp(s->key, key, klen) == 0) return s;
    }
}

/* Inserts a key known to be absent; returns its slot or NULL on no memory. */
static hslot *hmap_add(hmap *m, const void *key, size_t klen)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 16;
        hslot *ns = calloc(ncap, sizeof *ns);
        if (!ns) return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->slots[i].key) continue;
            size_t j = m->slots[i].h & (ncap - 1);
            while (ns[j].key) j = (j + 1) & (ncap - 1);
            ns[j] = m->slots[i];
        }
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    char *k = malloc(klen ? klen : 1);
    if (!k) return NULL;
    if (klen) memcpy(k, key, klen);
    uint64_t h = hash_bytes(key, klen);
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key) i = (i + 1) & (m->cap - 1);
    hslot *s = &m->slots[i];
    memset(s, 0, sizeof *s);
    s->key = k;
    s->klen = klen;
    s->h = h;
    m->n++;
    return s;
}

static void hmap_free(hmap *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].key);
        etsn_v_free(m->slots[i].v);
    }
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

/* ------------------------------------------------------------------------ */
/* writer                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    etsn_buf *out;
    hmap objs;   /* key: pointer bytes */
    hmap tns;    /* key: the names, each followed by NUL */
    hmap shapes; /* key: header and child pointers of an object, see w_shape */
    size_t next_obj, next_tn;
    etsn_buf key;
} wctx;

static const char *const kind_tag[] = {
    [ETSN_V_NIL] = "Nil",         [ETSN_V_BOOL] = "B",          [ETSN_V_I8] = "SB",
    [ETSN_V_U8] = "By",           [ETSN_V_I16] = "I16",         [ETSN_V_U16] = "U16",
    [ETSN_V_I32] = "I32",         [ETSN_V_U32] = "U32",         [ETSN_V_I64] = "I64",
    [ETSN_V_U64] = "U64",         [ETSN_V_DOUBLE] = "Db",       [ETSN_V_FLOAT] = "Sg",
    [ETSN_V_CHAR] = "C",          [ETSN_V_STRING] = "S",        [ETSN_V_DECIMAL] = "D",
    [ETSN_V_DATETIME] = "DT",     [ETSN_V_TIMESPAN] = "TS",     [ETSN_V_GUID] = "G",
    [ETSN_V_URI] = "URI",         [ETSN_V_VERSION] = "Version", [ETSN_V_XML] = "XD",
    [ETSN_V_SCRIPTBLOCK] = "SBK", [ETSN_V_BYTES] = "BA",        [ETSN_V_SECURESTRING] = "SS",
    [ETSN_V_OBJ] = "Obj",
};

static const char *const coll_tag[] = {
    [ETSN_COLL_NONE] = NULL, [ETSN_COLL_LST] = "LST", [ETSN_COLL_IE] = "IE",
    [ETSN_COLL_STK] = "STK", [ETSN_COLL_QUE] = "QUE", [ETSN_COLL_DCT] = "DCT",
};

static int w_open(wctx *w, const char *tag, const char *name)
{
    if (etsn_buf_printf(w->out, "<%s", tag) < 0) return -1;
    if (!name) return 0;
    if (etsn_buf_append_str(w->out, " N=\"") < 0 ||
        encode_text(w->out, name, strlen(name), ESC_ATTR) < 0)
        return -1;
    return etsn_buf_append_byte(w->out, '"');
}

/* An empty string is "<S></S>" on the wire from Windows; only Nil and empty
 * collections use the short form. */
static int w_text_elem(wctx *w, const char *tag, const char *name, const char *text, size_t len,
                       bool encode)
{
    if (w_open(w, tag, name) < 0 || etsn_buf_append_byte(w->out, '>') < 0) return -1;
    if ((encode ? encode_text(w->out, text, len, ESC_TEXT) : etsn_buf_append(w->out, text, len)) <
        0)
        return -1;
    return etsn_buf_printf(w->out, "</%s>", tag);
}

static int w_base64(wctx *w, const char *tag, const char *name, const uint8_t *p, size_t len)
{
    if (w_open(w, tag, name) < 0 || etsn_buf_append_byte(w->out, '>') < 0 ||
        etsn_base64_encode(p, len, w->out) < 0)
        return -1;
    return etsn_buf_printf(w->out, "</%s>", tag);
}

static int w_value(wctx *w, const etsn_value *v, const char *name);

static int w_type_names(wctx *w, const etsn_value *v)
{
    if (!v->n_type_names) return 0;
    etsn_buf_reset(&w->key);
    for (size_t i = 0; i < v->n_type_names; i++)
        if (etsn_buf_append(&w->key, v->type_names[i], strlen(v->type_names[i]) + 1) < 0) return -1;
    hslot *s = hmap_find(&w->tns, w->key.data, w->key.len);
    if (s) return etsn_buf_printf(w->out, "<TNRef RefId=\"%zu\" />", s->id);
    if (!(s = hmap_add(&w->tns, w->key.data, w->key.len))) return -1;
    s->id = w->next_tn++;
    if (etsn_buf_printf(w->out, "<TN RefId=\"%zu\">", s->id) < 0) return -1;
    for (size_t i = 0; i < v->n_type_names; i++)
        if (w_text_elem(w, "T", NULL, v->type_names[i], strlen(v->type_names[i]), true) < 0)
            return -1;
    return etsn_buf_append_str(w->out, "</TN>");
}

static int w_list(wctx *w, const char *tag, etsn_value *const *list, size_t n, bool named)
{
    if (!n) return 0;
    if (etsn_buf_printf(w->out, "<%s>", tag) < 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (w_value(w, list[i], named ? list[i]->name : NULL) < 0) return -1;
    return etsn_buf_printf(w->out, "</%s>", tag);
}

/* The reader gives a <Ref> whose name differs from its target a new top node
 * that shares every child (a value holds one name). Such a node has the same
 * header and the very same child pointers as the object it copies, so it is
 * the same object and is written as a <Ref> again. Objects without children
 * are left alone: nothing shows they are one. */
static int w_shape(wctx *w, const etsn_value *v)
{
    etsn_buf_reset(&w->key);
    if (!v->base && !v->n_items && !v->n_props && !v->n_members) return 0;
    size_t counts[5] = {v->coll, v->n_type_names, v->n_items, v->n_props, v->n_members};
    if (etsn_buf_append(&w->key, counts, sizeof counts) < 0 ||
        etsn_buf_append(&w->key, &v->base, sizeof v->base) < 0 ||
        (v->n_items && etsn_buf_append(&w->key, v->items, v->n_items * sizeof *v->items) < 0) ||
        (v->n_props && etsn_buf_append(&w->key, v->props, v->n_props * sizeof *v->props) < 0) ||
        (v->n_members &&
         etsn_buf_append(&w->key, v->members, v->n_members * sizeof *v->members) < 0))
        return -1;
    for (size_t i = 0; i < v->n_type_names; i++)
        if (etsn_buf_append(&w->key, v->type_names[i], strlen(v->type_names[i]) + 1) < 0) return -1;
    if (v->to_string && etsn_buf_append(&w->key, v->to_string, strlen(v->to_string) + 1) < 0)
        return -1;
    return 0;
}

static int w_ref(wctx *w, const char *name, size_t id)
{
    if (w_open(w, "Ref", name) < 0) return -1;
    return etsn_buf_printf(w->out, " RefId=\"%zu\" />", id);
}

static int w_obj(wctx *w, const etsn_value *v, const char *name)
{
    hslot *s = hmap_find(&w->objs, &v, sizeof v);
    if (s) return w_ref(w, name, s->id);
    if (w_shape(w, v) < 0) return -1;
    if (w->key.len) {
        hslot *twin = hmap_find(&w->shapes, w->key.data, w->key.len);
        if (twin) return w_ref(w, name, twin->id);
        if (!(twin = hmap_add(&w->shapes, w->key.data, w->key.len))) return -1;
        twin->id = w->next_obj;
    }
    if (!(s = hmap_add(&w->objs, &v, sizeof v))) return -1;
    s->id = w->next_obj++;
    if (w_open(w, "Obj", name) < 0 || etsn_buf_printf(w->out, " RefId=\"%zu\">", s->id) < 0)
        return -1;
    if (w_type_names(w, v) < 0) return -1;
    if (v->to_string &&
        w_text_elem(w, "ToString", NULL, v->to_string, strlen(v->to_string), true) < 0)
        return -1;
    if (v->base && w_value(w, v->base, NULL) < 0) return -1;
    if (v->coll != ETSN_COLL_NONE) {
        const char *tag = coll_tag[v->coll];
        if (!v->n_items) {
            if (etsn_buf_printf(w->out, "<%s />", tag) < 0) return -1;
        } else if (v->coll == ETSN_COLL_DCT) {
            if (etsn_buf_append_str(w->out, "<DCT>") < 0) return -1;
            for (size_t i = 0; i + 1 < v->n_items; i += 2)
                if (etsn_buf_append_str(w->out, "<En>") < 0 || w_value(w, v->items[i], "Key") < 0 ||
                    w_value(w, v->items[i + 1], "Value") < 0 ||
                    etsn_buf_append_str(w->out, "</En>") < 0)
                    return -1;
            if (etsn_buf_append_str(w->out, "</DCT>") < 0) return -1;
        } else if (w_list(w, tag, v->items, v->n_items, false) < 0) {
            return -1;
        }
    }
    if (w_list(w, "Props", v->props, v->n_props, true) < 0 ||
        w_list(w, "MS", v->members, v->n_members, true) < 0)
        return -1;
    return etsn_buf_append_str(w->out, "</Obj>");
}

static int w_value(wctx *w, const etsn_value *v, const char *name)
{
    if (!v || v->kind > ETSN_V_OBJ) return -1;
    const char *tag = kind_tag[v->kind];
    char num[64];
    switch (v->kind) {
    case ETSN_V_NIL:
        if (w_open(w, tag, name) < 0) return -1;
        return etsn_buf_append_str(w->out, " />");
    case ETSN_V_BOOL:
        return w_text_elem(w, tag, name, v->num.b ? "true" : "false", v->num.b ? 4 : 5, false);
    case ETSN_V_I8:
    case ETSN_V_I16:
    case ETSN_V_I32:
    case ETSN_V_I64:
    case ETSN_V_CHAR:
        snprintf(num, sizeof num, "%" PRId64, v->num.i);
        break;
    case ETSN_V_U8:
    case ETSN_V_U16:
    case ETSN_V_U32:
    case ETSN_V_U64:
        snprintf(num, sizeof num, "%" PRIu64, v->num.u);
        break;
    case ETSN_V_DOUBLE:
        format_real(v->num.d, false, num, sizeof num);
        break;
    case ETSN_V_FLOAT:
        format_real(v->num.d, true, num, sizeof num);
        break;
    case ETSN_V_BYTES:
    case ETSN_V_SECURESTRING:
        return w_base64(w, tag, name, (const uint8_t *)v->str, v->str_len);
    case ETSN_V_OBJ:
        return w_obj(w, v, name);
    default:
        return w_text_elem(w, tag, name, v->str ? v->str : "", v->str_len, true);
    }
    return w_text_elem(w, tag, name, num, strlen(num), false);
}

int etsn_clixml_write(const etsn_value *v, etsn_buf *out)
{
    if (!v || !out) return -1;
    pthread_once(&seed_once, seed_init);
    wctx w = {.out = out};
    size_t mark = out->len;
    int rc = w_value(&w, v, v->name);
    hmap_free(&w.objs);
    hmap_free(&w.tns);
    hmap_free(&w.shapes);
    etsn_buf_free(&w.key);
    if (rc < 0 && out->data) {
        /* Leave the caller's buffer as it was, not with half an element. */
        out->len = mark;
        out->data[mark] = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* reader                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    etsn_clixml_limits lim;
    size_t nodes;
    size_t copy_budget; /* bytes a Ref or TNRef may still duplicate */
    char *err;
    size_t errlen;
    bool failed;
    hmap refs; /* RefId -> object; busy while it is being read */
    hmap tns;  /* TN RefId -> an object carrying that list */
    etsn_buf text, decoded;
} pctx;

static void *pfail(pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void *pfail(pctx *c, const char *fmt, ...)
{
    /* The innermost reason is the useful one; callers unwinding keep it. */
    if (!c->failed && c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    c->failed = true;
    return NULL;
}

static const char *tagname(xmlNodePtr n)
{
    return (const char *)n->name;
}

static bool is_tag(xmlNodePtr n, const char *tag)
{
    return strcmp(tagname(n), tag) == 0;
}

static bool count_node(pctx *c)
{
    if (++c->nodes > c->lim.max_nodes) {
        pfail(c, "CLIXML has more than %zu elements", c->lim.max_nodes);
        return false;
    }
    return true;
}

static bool take_budget(pctx *c, size_t bytes)
{
    if (bytes > c->copy_budget) {
        pfail(c, "CLIXML references expand past the size limit");
        return false;
    }
    c->copy_budget -= bytes;
    return true;
}

/* The next child element, skipping comments and whitespace between elements;
 * any other text there is malformed CLIXML. */
static bool next_elem(pctx *c, xmlNodePtr parent, xmlNodePtr *cur)
{
    for (xmlNodePtr n = *cur ? (*cur)->next : parent->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
            *cur = n;
            return true;
        }
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            for (const xmlChar *p = n->content; p && *p; p++)
                if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
                    pfail(c, "unexpected text inside <%s>", tagname(parent));
                    *cur = NULL;
                    return false;
                }
        } else if (n->type != XML_COMMENT_NODE && n->type != XML_PI_NODE) {
            pfail(c, "unexpected XML node inside <%s>", tagname(parent));
            *cur = NULL;
            return false;
        }
    }
    *cur = NULL;
    return false;
}

/* Raw character content of a leaf element, in c->text. */
static bool leaf_text(pctx *c, xmlNodePtr node, const char **s, size_t *len)
{
    etsn_buf_reset(&c->text);
    for (xmlNodePtr n = node->children; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            size_t l = n->content ? strlen((const char *)n->content) : 0;
            if (l > c->lim.max_string || c->text.len + l > c->lim.max_string) {
                pfail(c, "a string in <%s> is longer than %zu bytes", tagname(node),
                      c->lim.max_string);
                return false;
            }
            if (etsn_buf_append(&c->text, n->content, l) < 0) {
                pfail(c, "out of memory");
                return false;
            }
        } else if (n->type == XML_ELEMENT_NODE) {
            pfail(c, "unexpected element <%s> inside <%s>", tagname(n), tagname(node));
            return false;
        } else if (n->type != XML_COMMENT_NODE && n->type != XML_PI_NODE) {
            pfail(c, "unexpected XML node inside <%s>", tagname(node));
            return false;
        }
    }
    *s = c->text.data ? (const char *)c->text.data : "";
    *len = c->text.len;
    return true;
}

/* Decoded text of a leaf element, in c->decoded. */
static bool leaf_string(pctx *c, xmlNodePtr node)
{
    const char *s;
    size_t len;
    if (!leaf_text(c, node, &s, &len)) return false;
    etsn_buf_reset(&c->decoded);
    if (etsn_clixml_decode_string(s, len, &c->decoded) < 0 ||
        etsn_buf_reserve(&c->decoded, 0) < 0) {
        pfail(c, "out of memory");
        return false;
    }
    return true;
}

/* An attribute's value as the tree holds it, valid while the document lives;
 * NULL when absent (or on failure, with c->failed set). */
static const char *attr_raw(pctx *c, xmlNodePtr node, const char *name)
{
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        if (a->ns || strcmp((const char *)a->name, name) != 0) continue;
        xmlNodePtr t = a->children;
        if (!t) return "";
        /* Without a DTD libxml2 leaves an attribute as one text node. */
        if (t->next || t->type != XML_TEXT_NODE || !t->content)
            return pfail(c, "attribute %s of <%s> is not plain text", name, tagname(node));
        if (strlen((const char *)t->content) > c->lim.max_string)
            return pfail(c, "attribute %s of <%s> is longer than %zu bytes", name, tagname(node),
                         c->lim.max_string);
        return (const char *)t->content;
    }
    return NULL;
}

/* The decoded N attribute, malloc'd, or NULL when absent or on failure. */
static char *name_attr(pctx *c, xmlNodePtr node)
{
    const char *raw = attr_raw(c, node, "N");
    if (!raw) return NULL;
    size_t len = strlen(raw);
    char *s;
    if (!strchr(raw, '_')) {
        s = mem_dup(raw, len);
    } else {
        etsn_buf b = ETSN_BUF_INIT;
        s = etsn_clixml_decode_string(raw, len, &b) < 0 ? NULL : etsn_buf_steal(&b);
        etsn_buf_free(&b);
    }
    return s ? s : pfail(c, "out of memory");
}

static void trim_ws(const char **s, size_t *len)
{
    while (*len && strchr(" \t\r\n", **s)) (*s)++, (*len)--;
    while (*len && strchr(" \t\r\n", (*s)[*len - 1])) (*len)--;
}

static etsn_value *parse_number(pctx *c, xmlNodePtr node, etsn_vkind kind)
{
    const char *s;
    size_t len;
    if (!leaf_text(c, node, &s, &len)) return NULL;
    trim_ws(&s, &len);
    char buf[64];
    if (len == 0 || len >= sizeof buf) return pfail(c, "bad number in <%s>", tagname(node));
    memcpy(buf, s, len);
    buf[len] = 0;
    if (kind == ETSN_V_BOOL) {
        if (!strcmp(buf, "true") || !strcmp(buf, "1")) return etsn_v_bool(true);
        if (!strcmp(buf, "false") || !strcmp(buf, "0")) return etsn_v_bool(false);
        return pfail(c, "bad boolean \"%s\" in <B>", buf);
    }
    if (kind == ETSN_V_DOUBLE || kind == ETSN_V_FLOAT) {
        double d;
        const char *t = buf + (buf[0] == '-' || buf[0] == '+');
        /* .NET writes Infinity/NaN, xs:double says INF/NaN; both are accepted. */
        if (!strcmp(t, "Infinity") || !strcmp(t, "INF")) {
            d = buf[0] == '-' ? -INFINITY : INFINITY;
        } else if (!strcmp(buf, "NaN")) {
            d = NAN;
        } else {
            if (strspn(t, "0123456789.eE+-") != strlen(t))
                return pfail(c, "bad number \"%s\" in <%s>", buf, tagname(node));
            char *end;
            errno = 0;
            d = kind == ETSN_V_FLOAT ? strtof(buf, &end) : strtod(buf, &end);
            if (*end || end == buf)
                return pfail(c, "bad number \"%s\" in <%s>", buf, tagname(node));
            if (isinf(d))
                return pfail(c, "number \"%s\" in <%s> is out of range", buf, tagname(node));
        }
        etsn_value *v = v_new(kind);
        if (!v) return pfail(c, "out of memory");
        v->num.d = d;
        return v;
    }
    const char *digits = buf + (buf[0] == '-' || buf[0] == '+');
    if (!*digits || strspn(digits, "0123456789") != strlen(digits))
        return pfail(c, "bad number \"%s\" in <%s>", buf, tagname(node));
    errno = 0;
    etsn_value *v;
    uint64_t hi;
    if (uint_range(kind, &hi)) {
        char *end;
        uint64_t u = buf[0] == '-' ? 0 : strtoull(digits, &end, 10);
        bool zero = strspn(digits, "0") == strlen(digits);
        if (errno || u > hi || (buf[0] == '-' && !zero))
            return pfail(c, "number \"%s\" in <%s> is out of range", buf, tagname(node));
        v = etsn_v_uint(kind, u);
    } else {
        int64_t lo = 0, ihi = 0;
        int_range(kind, &lo, &ihi);
        char *end;
        long long i = strtoll(buf, &end, 10);
        if (errno || i < lo || i > ihi)
            return pfail(c, "number \"%s\" in <%s> is out of range", buf, tagname(node));
        v = etsn_v_int(kind, i);
    }
    return v ? v : pfail(c, "out of memory");
}

static etsn_value *parse_base64(pctx *c, xmlNodePtr node, etsn_vkind kind)
{
    const char *s;
    size_t len;
    if (!leaf_text(c, node, &s, &len)) return NULL;
    etsn_value *v = v_new(kind);
    if (!v) return pfail(c, "out of memory");
    etsn_buf bytes = ETSN_BUF_INIT;
    if (etsn_base64_decode(s, len, &bytes) < 0) {
        etsn_buf_free_secure(&bytes);
        etsn_v_free(v);
        return pfail(c, "bad base64 in <%s>", tagname(node));
    }
    v->str_len = bytes.len;
    v->str = etsn_buf_steal(&bytes);
    if (!v->str) {
        etsn_v_free(v);
        return pfail(c, "out of memory");
    }
    return v;
}

static etsn_value *parse_value(pctx *c, xmlNodePtr node, size_t depth, bool keep_name);

static const struct {
    const char *tag;
    etsn_vkind kind;
} prim_tags[] = {
    {"Nil", ETSN_V_NIL},         {"B", ETSN_V_BOOL},          {"SB", ETSN_V_I8},
    {"By", ETSN_V_U8},           {"I16", ETSN_V_I16},         {"U16", ETSN_V_U16},
    {"I32", ETSN_V_I32},         {"U32", ETSN_V_U32},         {"I64", ETSN_V_I64},
    {"U64", ETSN_V_U64},         {"Db", ETSN_V_DOUBLE},       {"Sg", ETSN_V_FLOAT},
    {"C", ETSN_V_CHAR},          {"S", ETSN_V_STRING},        {"D", ETSN_V_DECIMAL},
    {"DT", ETSN_V_DATETIME},     {"TS", ETSN_V_TIMESPAN},     {"G", ETSN_V_GUID},
    {"URI", ETSN_V_URI},         {"Version", ETSN_V_VERSION}, {"XD", ETSN_V_XML},
    {"SBK", ETSN_V_SCRIPTBLOCK}, {"BA", ETSN_V_BYTES},        {"SS", ETSN_V_SECURESTRING},
    {"Obj", ETSN_V_OBJ},
};

static bool value_tag(xmlNodePtr n)
{
    if (is_tag(n, "Ref")) return true;
    for (size_t i = 0; i < sizeof prim_tags / sizeof prim_tags[0]; i++)
        if (is_tag(n, prim_tags[i].tag)) return true;
    return false;
}

static bool parse_type_names(pctx *c, xmlNodePtr tn, etsn_value *obj)
{
    const char *id = attr_raw(c, tn, "RefId");
    if (c->failed) return false;
    bool has_id = id != NULL, ok = false;
    for (xmlNodePtr t = NULL; next_elem(c, tn, &t);) {
        if (!count_node(c)) goto out;
        if (!is_tag(t, "T")) {
            pfail(c, "unexpected element <%s> inside <TN>", tagname(t));
            goto out;
        }
        if (!leaf_string(c, t)) goto out;
        if (etsn_obj_add_type(obj, (const char *)c->decoded.data) < 0) {
            pfail(c, "out of memory");
            goto out;
        }
    }
    if (c->failed) goto out;
    if (has_id) {
        if (hmap_find(&c->tns, id, strlen(id))) {
            pfail(c, "TN RefId \"%s\" is used twice", id);
            goto out;
        }
        hslot *s = hmap_add(&c->tns, id, strlen(id));
        if (!s) {
            pfail(c, "out of memory");
            goto out;
        }
        s->v = etsn_v_ref(obj);
    }
    ok = true;
out:
    return ok;
}

static bool parse_tnref(pctx *c, xmlNodePtr node, etsn_value *obj)
{
    const char *id = attr_raw(c, node, "RefId");
    if (c->failed) return false;
    if (!id) {
        pfail(c, "<TNRef> without RefId");
        return false;
    }
    hslot *s = hmap_find(&c->tns, id, strlen(id));
    if (!s) {
        pfail(c, "<TNRef> to unknown RefId \"%s\"", id);
        return false;
    }
    const etsn_value *src = s->v;
    size_t bytes = 0;
    for (size_t i = 0; i < src->n_type_names; i++) bytes += strlen(src->type_names[i]) + 16;
    if (!take_budget(c, bytes)) return false;
    if (copy_type_names(obj, src->type_names, src->n_type_names) < 0) {
        pfail(c, "out of memory");
        return false;
    }
    return true;
}

static bool parse_list(pctx *c, xmlNodePtr list, etsn_value ***out, size_t *n, size_t depth,
                       bool named)
{
    for (xmlNodePtr e = NULL; next_elem(c, list, &e);) {
        if (!value_tag(e)) {
            pfail(c, "unknown element <%s> inside <%s>", tagname(e), tagname(list));
            return false;
        }
        etsn_value *v = parse_value(c, e, depth, named);
        if (!v) return false;
        if (push(out, n, v) < 0) {
            etsn_v_free(v);
            pfail(c, "out of memory");
            return false;
        }
    }
    return !c->failed;
}

static bool parse_dct(pctx *c, xmlNodePtr dct, etsn_value *obj, size_t depth)
{
    for (xmlNodePtr en = NULL; next_elem(c, dct, &en);) {
        if (!count_node(c)) return false;
        if (!is_tag(en, "En")) {
            pfail(c, "unexpected element <%s> inside <DCT>", tagname(en));
            return false;
        }
        xmlNodePtr kn = NULL, vn = NULL;
        for (xmlNodePtr e = NULL; next_elem(c, en, &e);) {
            const char *n = attr_raw(c, e, "N");
            if (c->failed) return false;
            xmlNodePtr *slot = !n                    ? NULL
                               : !strcmp(n, "Key")   ? &kn
                               : !strcmp(n, "Value") ? &vn
                                                     : NULL;
            if (!slot || *slot) {
                pfail(c, "<En> needs one element named Key and one named Value");
                return false;
            }
            *slot = e;
        }
        if (c->failed) return false;
        if (!kn || !vn) {
            pfail(c, "<En> needs one element named Key and one named Value");
            return false;
        }
        etsn_value *k = value_tag(kn) ? parse_value(c, kn, depth, false) : NULL;
        etsn_value *v = k && value_tag(vn) ? parse_value(c, vn, depth, false) : NULL;
        if (!k || !v) {
            etsn_v_free(k);
            if (!c->failed) pfail(c, "unknown element inside <En>");
            return false;
        }
        if (etsn_obj_push_entry(obj, k, v) < 0) {
            pfail(c, "out of memory");
            return false;
        }
    }
    return !c->failed;
}

static etsn_value *parse_obj(pctx *c, xmlNodePtr node, size_t depth)
{
    if (depth + 1 > c->lim.max_depth)
        return pfail(c, "CLIXML is nested deeper than %zu levels", c->lim.max_depth);
    depth++;
    etsn_value *v = etsn_v_obj();
    if (!v) return pfail(c, "out of memory");
    hslot *self;
    const char *id = attr_raw(c, node, "RefId");
    bool has_id = id != NULL;
    if (c->failed) goto fail;
    if (has_id) {
        if (hmap_find(&c->refs, id, strlen(id))) {
            pfail(c, "Obj RefId \"%s\" is used twice", id);
            goto fail;
        }
        if (!(self = hmap_add(&c->refs, id, strlen(id)))) {
            pfail(c, "out of memory");
            goto fail;
        }
        self->v = etsn_v_ref(v);
        self->busy = true;
    }
    /* id stays: the table may grow while children are read, so the slot is
     * found again at the end rather than remembered. */
    bool seen_tn = false, seen_props = false, seen_ms = false;
    for (xmlNodePtr e = NULL; next_elem(c, node, &e);) {
        if (!count_node(c)) goto fail;
        if (is_tag(e, "TN") || is_tag(e, "TNRef")) {
            if (seen_tn) {
                pfail(c, "<Obj> has two type name lists");
                goto fail;
            }
            seen_tn = true;
            if (!(is_tag(e, "TN") ? parse_type_names(c, e, v) : parse_tnref(c, e, v))) goto fail;
        } else if (is_tag(e, "ToString")) {
            if (v->to_string) {
                pfail(c, "<Obj> has two <ToString>");
                goto fail;
            }
            if (!leaf_string(c, e)) goto fail;
            if (!(v->to_string = mem_dup((const char *)c->decoded.data, c->decoded.len))) {
                pfail(c, "out of memory");
                goto fail;
            }
        } else if (is_tag(e, "Props") || is_tag(e, "MS")) {
            bool props = is_tag(e, "Props");
            bool *seen = props ? &seen_props : &seen_ms;
            if (*seen) {
                pfail(c, "<Obj> has two <%s>", tagname(e));
                goto fail;
            }
            *seen = true;
            if (!(props ? parse_list(c, e, &v->props, &v->n_props, depth, true)
                        : parse_list(c, e, &v->members, &v->n_members, depth, true)))
                goto fail;
        } else if (is_tag(e, "LST") || is_tag(e, "IE") || is_tag(e, "STK") || is_tag(e, "QUE") ||
                   is_tag(e, "DCT")) {
            if (v->coll != ETSN_COLL_NONE) {
                pfail(c, "<Obj> has two collections");
                goto fail;
            }
            if (depth + 1 > c->lim.max_depth) {
                pfail(c, "CLIXML is nested deeper than %zu levels", c->lim.max_depth);
                goto fail;
            }
            for (etsn_coll k = ETSN_COLL_LST; k <= ETSN_COLL_DCT; k++)
                if (is_tag(e, coll_tag[k])) v->coll = k;
            if (!(v->coll == ETSN_COLL_DCT
                      ? parse_dct(c, e, v, depth + 1)
                      : parse_list(c, e, &v->items, &v->n_items, depth + 1, false)))
                goto fail;
        } else if (value_tag(e)) {
            if (v->base) {
                pfail(c, "<Obj> holds two base values");
                goto fail;
            }
            c->nodes--; /* parse_value counts it */
            if (!(v->base = parse_value(c, e, depth, false))) goto fail;
        } else {
            pfail(c, "unknown element <%s> inside <Obj>", tagname(e));
            goto fail;
        }
    }
    if (c->failed) goto fail;
    if (has_id) hmap_find(&c->refs, id, strlen(id))->busy = false;
    return v;
fail:
    etsn_v_free(v);
    return NULL;
}

static etsn_value *parse_ref(pctx *c, xmlNodePtr node, const char *name, bool keep_name)
{
    const char *id = attr_raw(c, node, "RefId");
    if (c->failed) return NULL;
    if (!id) return pfail(c, "<Ref> without RefId");
    hslot *s = hmap_find(&c->refs, id, strlen(id));
    if (!s) return pfail(c, "<Ref> to unknown RefId \"%s\"", id);
    etsn_value *src = s->v;
    etsn_value *v;
    if (s->busy) {
        /* A cycle back to an enclosing object: sharing it would make the tree
         * own itself, so the reference gets the header PowerShell would show. */
        size_t bytes = 64 + (src->to_string ? strlen(src->to_string) : 0);
        for (size_t i = 0; i < src->n_type_names; i++) bytes += strlen(src->type_names[i]) + 16;
        if (!take_budget(c, bytes)) return NULL;
        v = shallow_clone(src, false);
    } else if (!keep_name || same_name(src->name, name)) {
        return etsn_v_ref(src);
    } else {
        size_t n = src->n_props + src->n_members + src->n_items;
        size_t bytes = 64 + n * sizeof(void *) + (src->to_string ? strlen(src->to_string) : 0);
        for (size_t i = 0; i < src->n_type_names; i++) bytes += strlen(src->type_names[i]) + 16;
        if (!take_budget(c, bytes)) return NULL;
        v = shallow_clone(src, true);
    }
    if (!v) return pfail(c, "out of memory");
    if (name && !(v->name = strdup(name))) {
        etsn_v_free(v);
        return pfail(c, "out of memory");
    }
    return v;
}

static etsn_value *parse_value(pctx *c, xmlNodePtr node, size_t depth, bool keep_name)
{
    if (!count_node(c)) return NULL;
    char *name = NULL;
    if (keep_name) {
        name = name_attr(c, node);
        if (c->failed) return NULL;
    }
    etsn_value *v = NULL;
    if (is_tag(node, "Ref")) {
        v = parse_ref(c, node, name, keep_name);
        free(name);
        return v;
    }
    etsn_vkind kind = ETSN_V_NIL;
    bool known = false;
    for (size_t i = 0; i < sizeof prim_tags / sizeof prim_tags[0]; i++)
        if (is_tag(node, prim_tags[i].tag)) {
            kind = prim_tags[i].kind;
            known = true;
            break;
        }
    if (!known) {
        pfail(c, "unknown CLIXML element <%s>", tagname(node));
    } else if (kind == ETSN_V_OBJ) {
        v = parse_obj(c, node, depth);
    } else if (kind == ETSN_V_NIL) {
        const char *s;
        size_t len;
        if (leaf_text(c, node, &s, &len)) v = etsn_v_nil();
        if (!v && !c->failed) pfail(c, "out of memory");
    } else if (kind <= ETSN_V_CHAR) {
        v = parse_number(c, node, kind);
    } else if (is_bytes_kind(kind)) {
        v = parse_base64(c, node, kind);
    } else if (leaf_string(c, node)) {
        v = etsn_v_text(kind, (const char *)c->decoded.data, c->decoded.len);
        if (!v) pfail(c, "out of memory");
    }
    if (v && name) {
        /* A fresh value is only ours, so naming it never clones. */
        v->name = name;
        name = NULL;
    }
    free(name);
    return v;
}

static void limits_init(pctx *c, const etsn_clixml_limits *lim, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->lim.max_depth = lim && lim->max_depth ? lim->max_depth : 64;
    c->lim.max_nodes = lim && lim->max_nodes ? lim->max_nodes : 1000000;
    c->lim.max_string = lim && lim->max_string ? lim->max_string : 16u << 20;
    c->copy_budget = c->lim.max_string > SIZE_MAX / 4 ? SIZE_MAX : c->lim.max_string * 4;
    c->err = err;
    c->errlen = errlen;
    if (err && errlen) err[0] = 0;
    pthread_once(&seed_once, seed_init);
}

static void pctx_free(pctx *c)
{
    hmap_free(&c->refs);
    hmap_free(&c->tns);
    etsn_buf_free(&c->text);
    etsn_buf_free(&c->decoded);
}

static etsn_value *from_node(pctx *c, xmlNodePtr node)
{
    if (!node || node->type != XML_ELEMENT_NODE) return pfail(c, "not an XML element");
    if (!value_tag(node)) return pfail(c, "unknown CLIXML element <%s>", tagname(node));
    if (is_tag(node, "Ref")) return pfail(c, "<Ref> to unknown RefId");
    return parse_value(c, node, 0, true);
}

etsn_value *etsn_clixml_from_node(xmlNodePtr node, const etsn_clixml_limits *lim, char *err,
                                  size_t errlen)
{
    pctx c;
    limits_init(&c, lim, err, errlen);
    etsn_value *v = from_node(&c, node);
    pctx_free(&c);
    return v;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void)
{
    xmlInitParser();
}

etsn_value *etsn_clixml_parse(const char *xml, size_t len, const etsn_clixml_limits *lim, char *err,
                              size_t errlen)
{
    pctx c;
    limits_init(&c, lim, err, errlen);
    if (!xml) return pfail(&c, "no CLIXML");
    if (len >= 3 && memcmp(xml, "\xEF\xBB\xBF", 3) == 0) xml += 3, len -= 3;
    if (len > INT_MAX) return pfail(&c, "CLIXML document is too large");
    pthread_once(&xml_once, xml_init);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) return pfail(&c, "out of memory");
    /* No NOENT and no DTDLOAD: entities are never expanded from outside, and
     * NOBLANKS is left off so that whitespace-only strings survive. */
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, "UTF-8",
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    etsn_value *v = NULL;
    if (!doc) {
        xmlErrorPtr e = xmlCtxtGetLastError(ctxt);
        char msg[200];
        snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "unknown error");
        msg[strcspn(msg, "\n")] = 0;
        pfail(&c, "malformed CLIXML (line %d): %s", e ? e->line : 0, msg);
    } else if (doc->intSubset || doc->extSubset) {
        /* CLIXML never carries a DTD; refusing it shuts out entity bombs. */
        pfail(&c, "CLIXML must not contain a DTD");
    } else {
        v = from_node(&c, xmlDocGetRootElement(doc));
    }
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    pctx_free(&c);
    return v;
}

/* ------------------------------------------------------------------------ */
/* display                                                                  */
/* ------------------------------------------------------------------------ */

int etsn_v_display(const etsn_value *v, etsn_buf *out)
{
    char num[64];
    for (int hops = 0; v && hops < 64; hops++) {
        switch (v->kind) {
        case ETSN_V_NIL:
            return 0;
        case ETSN_V_BOOL:
            return etsn_buf_append_str(out, v->num.b ? "True" : "False");
        case ETSN_V_I8:
        case ETSN_V_I16:
        case ETSN_V_I32:
        case ETSN_V_I64:
            return etsn_buf_printf(out, "%" PRId64, v->num.i);
        case ETSN_V_U8:
        case ETSN_V_U16:
        case ETSN_V_U32:
        case ETSN_V_U64:
            return etsn_buf_printf(out, "%" PRIu64, v->num.u);
        case ETSN_V_DOUBLE:
        case ETSN_V_FLOAT:
            format_real(v->num.d, v->kind == ETSN_V_FLOAT, num, sizeof num);
            return etsn_buf_append_str(out, num);
        case ETSN_V_CHAR: {
            uint32_t u = (uint32_t)v->num.i;
            return put_utf8(out, u >= 0xD800 && u <= 0xDFFF ? 0xFFFD : u);
        }
        case ETSN_V_BYTES:
            return etsn_buf_append_str(out, "System.Byte[]");
        case ETSN_V_SECURESTRING:
            return etsn_buf_append_str(out, "System.Security.SecureString");
        case ETSN_V_OBJ:
            if (v->to_string) return etsn_buf_append_str(out, v->to_string);
            if (v->base) {
                v = v->base;
                continue;
            }
            return v->n_type_names ? etsn_buf_append_str(out, v->type_names[0]) : 0;
        default:
            return etsn_buf_append(out, v->str ? v->str : "", v->str_len);
        }
    }
    return 0;
}

etsn_value *etsn_v_typed(const char *const *types, etsn_coll coll)
{
    etsn_value *o = etsn_v_obj();
    if (!o) return NULL;
    for (size_t i = 0; types && types[i]; i++)
        if (etsn_obj_add_type(o, types[i]) < 0) {
            etsn_v_free(o);
            return NULL;
        }
    if (coll != ETSN_COLL_NONE && etsn_obj_set_coll(o, coll) < 0) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}
