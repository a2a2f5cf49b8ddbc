#include "answers.h"

#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "../ref/core/psrp_msgs.h"
#include "../ref/core/bytes.h"
#include "../ref/core/clixml.h"

static bool secure_text(const mock_answer_ctx *ctx, const etsn_value *v, etsn_buf *out)
{
    etsn_buf plain = ETSN_BUF_INIT;
    bool ok;
    if (ctx->pwsh) {
        ok = !etsn_utf16le_to_utf8((const uint8_t *)v->str, v->str_len, out);
    } else if (ctx->keys && etsn_psrp_keys_ready(ctx->keys)) {
        ok = !etsn_secure_string_decrypt(ctx->keys, (const uint8_t *)v->str, v->str_len, &plain) &&
             !etsn_utf16le_to_utf8(plain.data ? plain.data : (const uint8_t *)"", plain.len, out);
        if (!ok)
            etsn_buf_append_str(out, "(a SecureString that does not decrypt with the session key)");
    } else {
        etsn_buf_append_str(out, "(a SecureString, but no session key was exchanged)");
        ok = false;
    }
    if (plain.data) etsn_secure_zero(plain.data, plain.len);
    etsn_buf_free(&plain);
    return ok;
}

static bool is_list(const etsn_value *v)
{
    return v && v->kind == ETSN_V_OBJ &&
           (v->coll == ETSN_COLL_LST || v->coll == ETSN_COLL_IE || v->coll == ETSN_COLL_STK ||
            v->coll == ETSN_COLL_QUE);
}

/* What a value means, as text a fixture can state: strings as they are,
 * numbers in decimal, a Char as the character, a SecureString decrypted,
 * a list as its items joined with ",", a KeyInfo as its character, a
 * PSCredential as its user name, {T, V} (EncodeObjectWithType) as V, an
 * enum as its number. Returns false when a SecureString cannot be read. */
static bool value_text(const mock_answer_ctx *ctx, const etsn_value *v, etsn_buf *out)
{
    if (!v) return true;
    switch (v->kind) {
    case ETSN_V_NIL:
        return true;
    case ETSN_V_BOOL:
        etsn_buf_append_str(out, v->num.b ? "True" : "False");
        return true;
    case ETSN_V_I8:
    case ETSN_V_I16:
    case ETSN_V_I32:
    case ETSN_V_I64:
        etsn_buf_printf(out, "%" PRId64, v->num.i);
        return true;
    case ETSN_V_U8:
    case ETSN_V_U16:
    case ETSN_V_U32:
    case ETSN_V_U64:
        etsn_buf_printf(out, "%" PRIu64, v->num.u);
        return true;
    case ETSN_V_DOUBLE:
    case ETSN_V_FLOAT:
        etsn_buf_printf(out, "%g", v->num.d);
        return true;
    case ETSN_V_CHAR: {
        uint8_t u16[2] = {(uint8_t)(v->num.i & 0xFF), (uint8_t)((v->num.i >> 8) & 0xFF)};
        return !etsn_utf16le_to_utf8(u16, 2, out);
    }
    case ETSN_V_SECURESTRING:
        return secure_text(ctx, v, out);
    case ETSN_V_BYTES:
        etsn_buf_printf(out, "(%zu bytes)", v->str_len);
        return true;
    case ETSN_V_OBJ: {
        if (v->base) return value_text(ctx, v->base, out);
        const etsn_value *x;
        if ((x = etsn_v_get(v, "character"))) return value_text(ctx, x, out); /* KeyInfo */
        if (etsn_v_get(v, "T") && (x = etsn_v_get(v, "V"))) return value_text(ctx, x, out);
        if ((x = etsn_v_get(v, "UserName"))) return value_text(ctx, x, out); /* PSCredential */
        if (is_list(v)) {
            bool ok = true;
            for (size_t i = 0; i < v->n_items; i++) {
                if (i) etsn_buf_append_byte(out, ',');
                ok = value_text(ctx, v->items[i], out) && ok;
            }
            return ok;
        }
        if (v->coll == ETSN_COLL_DCT) {
            bool ok = true;
            for (size_t i = 0; i + 1 < v->n_items; i += 2) {
                if (i) etsn_buf_append_str(out, "; ");
                ok = value_text(ctx, v->items[i], out) && ok;
                etsn_buf_append_str(out, "=");
                ok = value_text(ctx, v->items[i + 1], out) && ok;
            }
            return ok;
        }
        if (v->to_string) {
            etsn_buf_append_str(out, v->to_string);
            return true;
        }
        return !etsn_v_display(v, out);
    }
    default:
        if (v->str) etsn_buf_append(out, v->str, v->str_len);
        return true;
    }
}

static char *text_of(const mock_answer_ctx *ctx, const etsn_value *v, bool *ok)
{
    etsn_buf b = ETSN_BUF_INIT;
    bool r = value_text(ctx, v, &b);
    if (ok) *ok = r;
    char *t = b.data ? etsn_buf_steal(&b) : strdup("");
    etsn_buf_free(&b);
    return t;
}

/* Both texts with blanks around commas removed: "0, 2" means "0,2". */
static bool same_list_text(const char *a, const char *b)
{
    for (;;) {
        while (*a == ' ') a++;
        while (*b == ' ') b++;
        if (!*a || !*b) return !*a && !*b;
        if (*a != *b) return false;
        a++;
        b++;
    }
}

/* A dictionary entry by key (case-insensitive, as PowerShell's Prompt
 * results are looked up), unwrapping {T, V}. */
static const etsn_value *dict_value(const etsn_value *d, const char *key)
{
    if (!d || d->kind != ETSN_V_OBJ) return NULL;
    if (d->base) d = d->base;
    for (size_t i = 0; d->coll == ETSN_COLL_DCT && i + 1 < d->n_items; i += 2) {
        const char *k = etsn_v_as_str(d->items[i]);
        if (k && !strcasecmp(k, key)) return d->items[i + 1];
    }
    return NULL;
}

static bool check_field(const mock_answer_ctx *ctx, const fx_expect_field *f, const etsn_value *mr,
                        etsn_buf *why)
{
    const etsn_value *v = dict_value(mr, f->name);
    if (!v) {
        etsn_buf_printf(why, "%sno field '%s' in the answer", why->len ? "; " : "", f->name);
        return false;
    }
    if (v->kind == ETSN_V_OBJ && etsn_v_get(v, "T") && etsn_v_get(v, "V")) v = etsn_v_get(v, "V");
    if (f->is_list) {
        const etsn_value *l = v->kind == ETSN_V_OBJ && v->base ? v->base : v;
        bool ok = is_list(l) && l->n_items == f->n_items;
        for (size_t i = 0; ok && i < f->n_items; i++) {
            char *t = text_of(ctx, l->items[i], NULL);
            ok = t && !strcmp(t, f->items[i]);
            free(t);
        }
        if (!ok) {
            char *t = text_of(ctx, v, NULL);
            etsn_buf_printf(why, "%sfield '%s': expected %zu item(s), got '%s'%s",
                            why->len ? "; " : "", f->name, f->n_items, t ? t : "",
                            is_list(l) ? "" : " (not a list)");
            free(t);
        }
        return ok;
    }
    bool dec;
    char *t = text_of(ctx, v, &dec);
    bool ok = dec && t && !strcmp(t, f->text);
    if (!ok)
        etsn_buf_printf(why, "%sfield '%s': expected '%s', got '%s'", why->len ? "; " : "", f->name,
                        f->text, t ? t : "");
    free(t);
    return ok;
}

/* Whether the answer is what the fixture expects; got receives what
 * arrived (for the report), why the differences. */
bool mock_answer_check(const mock_answer_ctx *ctx, const fx_step *s, const etsn_value *mr,
                       const etsn_value *me, etsn_buf *got, etsn_buf *why)
{
    if (me && me->kind != ETSN_V_NIL) {
        etsn_error_record r;
        etsn_error_record_read(me, &r);
        etsn_buf_printf(got, "an error: %s", r.message ? r.message : "(no message)");
        if (s->expect_error) return true;
        etsn_buf_append_str(why, "the client answered with an error");
        return false;
    }
    if (s->expect_error) {
        etsn_buf_append_str(why, "expected an error answer (me), got none");
        value_text(ctx, mr, got);
        return false;
    }
    bool ok = true;
    if (s->method_id == 24 || s->method_id == 25) {
        const etsn_value *u = mr ? etsn_v_get(mr, "UserName") : NULL;
        const etsn_value *pw = mr ? etsn_v_get(mr, "Password") : NULL;
        char *ut = text_of(ctx, u, NULL);
        bool dec = false;
        char *pt = pw ? text_of(ctx, pw, &dec) : NULL;
        /* The report shows a password only when it is the fixture's own
         * test value; anything else a person typed stays out of it. */
        bool expected = dec && pt && s->expect_password && !strcmp(pt, s->expect_password);
        if (!pw)
            etsn_buf_printf(got, "user '%s', password (none)", ut ? ut : "");
        else if (expected)
            etsn_buf_printf(got, "user '%s', password '%s'", ut ? ut : "", pt);
        else if (dec && pt)
            etsn_buf_printf(got, "user '%s', a password of %zu characters (not shown)",
                            ut ? ut : "", strlen(pt));
        else
            etsn_buf_printf(got, "user '%s', a password that could not be decrypted", ut ? ut : "");
        if (!mr || mr->kind != ETSN_V_OBJ) {
            etsn_buf_append_str(why, "expected a PSCredential");
            ok = false;
        }
        if (s->expect_user && (!ut || strcasecmp(ut, s->expect_user))) {
            etsn_buf_printf(why, "%suser: expected '%s'", why->len ? "; " : "", s->expect_user);
            ok = false;
        }
        if (s->expect_password && (!dec || !pt || strcmp(pt, s->expect_password))) {
            etsn_buf_printf(why, "%spassword differs%s", why->len ? "; " : "",
                            pw && !dec ? " (it could not be decrypted)" : "");
            ok = false;
        }
        if (pt) etsn_secure_zero(pt, strlen(pt));
        free(ut);
        free(pt);
    } else {
        bool dec = value_text(ctx, mr, got);
        if (s->method_id == 12 && mr && mr->kind != ETSN_V_SECURESTRING &&
            !(mr->kind == ETSN_V_OBJ && mr->base && mr->base->kind == ETSN_V_SECURESTRING)) {
            etsn_buf_printf(why, "expected a SecureString");
            ok = false;
        }
        if (!dec) {
            etsn_buf_printf(why, "%sa SecureString could not be read", why->len ? "; " : "");
            ok = false;
        }
    }
    if (s->expect && ok) {
        char *t = text_of(ctx, mr, NULL);
        bool same = t && (is_list(mr) || (mr && mr->kind == ETSN_V_OBJ && is_list(mr->base))
                              ? same_list_text(t, s->expect)
                          : mr && mr->kind == ETSN_V_BOOL ? !strcasecmp(t, s->expect)
                                                          : !strcmp(t, s->expect));
        if (!same) {
            etsn_buf_printf(why, "expected '%s', got '%s'", s->expect, t ? t : "");
            ok = false;
        }
        free(t);
    }
    for (size_t i = 0; i < s->n_fields; i++) ok = check_field(ctx, &s->fields[i], mr, why) && ok;
    return ok;
}
