#include "textdiff.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past this many DP cells (after trimming the common head and tail) the
 * diff would cost too much memory; a first-difference report is enough. */
#define MAX_CELLS (4u * 1024u * 1024u)
#define CONTEXT 3

static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    /* Overlongs and surrogates: reject so the JUnit XML stays valid. */
    if (n == 3 && c == 0xE0 && p[1] < 0xA0) return 0;
    if (n == 3 && c == 0xED && p[1] >= 0xA0) return 0;
    if (n == 4 && c == 0xF0 && p[1] < 0x90) return 0;
    if (n == 4 && c == 0xF4 && p[1] >= 0x90) return 0;
    return n;
}

int conf_render(etsn_buf *out, const char *s, size_t len, bool mark_trailing)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t trail = len;
    if (mark_trailing)
        while (trail > 0 && (p[trail - 1] == ' ' || p[trail - 1] == '\t')) trail--;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        int rc;
        if (mark_trailing && i >= trail) {
            rc = etsn_buf_append_str(out, c == ' ' ? "\xC2\xB7" : "\xE2\x86\x92");
            i++;
        } else if (c == '\t' || c == '\n') {
            rc = etsn_buf_append_byte(out, c);
            i++;
        } else if (c == '\r') {
            rc = etsn_buf_append_str(out, "\\r");
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            rc = etsn_buf_printf(out, "\\x%02X", c);
            i++;
        } else if (c < 0x80) {
            rc = etsn_buf_append_byte(out, c);
            i++;
        } else {
            size_t n = utf8_len(p + i, len - i);
            if (n) {
                rc = etsn_buf_append(out, p + i, n);
                i += n;
            } else {
                rc = etsn_buf_printf(out, "\\x%02X", c);
                i++;
            }
        }
        if (rc < 0) return -1;
    }
    return 0;
}

typedef struct {
    const char *s;
    size_t len; /* without the newline */
    bool nl;    /* ended with a newline */
} line;

static line *split_lines(const char *s, size_t len, size_t *count)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n') n++;
    if (len && s[len - 1] != '\n') n++;
    line *v = calloc(n ? n : 1, sizeof *v);
    if (!v) return NULL;
    size_t k = 0, pos = 0;
    while (pos < len) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t stop = nl ? (size_t)(nl - s) : len;
        v[k].s = s + pos;
        v[k].len = stop - pos;
        v[k].nl = nl != NULL;
        k++;
        pos = stop + 1;
    }
    *count = n;
    return v;
}

static bool line_eq(const line *a, const line *b)
{
    return a->len == b->len && a->nl == b->nl && memcmp(a->s, b->s, a->len) == 0;
}

typedef struct {
    char op; /* ' ', '-', '+' */
    size_t ai, bi;
} edit;

typedef struct {
    etsn_buf *out;
    const char *indent;
    size_t lines, max;
    bool truncated;
} emitter;

static int emit_raw(emitter *em, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int emit_raw(emitter *em, const char *fmt, ...)
{
    if (em->truncated) return 0;
    if (em->lines >= em->max) {
        em->truncated = true;
        return etsn_buf_printf(em->out, "%s... (diff truncated)\n", em->indent);
    }
    em->lines++;
    if (etsn_buf_append_str(em->out, em->indent) < 0) return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = etsn_buf_vprintf(em->out, fmt, ap);
    va_end(ap);
    return rc;
}

static int emit_line(emitter *em, char op, const line *l)
{
    if (em->truncated) return 0;
    if (emit_raw(em, "%c", op) < 0) return -1;
    if (em->truncated) return 0;
    if (conf_render(em->out, l->s, l->len, op != ' ') < 0) return -1;
    if (etsn_buf_append_byte(em->out, '\n') < 0) return -1;
    if (!l->nl) return emit_raw(em, "\\ No newline at end of file\n");
    return 0;
}

int conf_diff(etsn_buf *out, const char *expected, size_t elen, const char *actual, size_t alen,
              const char *indent, size_t max_lines)
{
    size_t na = 0, nb = 0;
    line *a = split_lines(expected, elen, &na);
    line *b = split_lines(actual, alen, &nb);
    edit *ed = NULL;
    uint32_t *dp = NULL;
    int rc = -1;
    if (!a || !b) goto done;
    emitter em = {out, indent, 0, max_lines ? max_lines : 1, false};

    size_t pre = 0;
    while (pre < na && pre < nb && line_eq(&a[pre], &b[pre])) pre++;
    size_t suf = 0;
    while (suf < na - pre && suf < nb - pre && line_eq(&a[na - 1 - suf], &b[nb - 1 - suf])) suf++;
    size_t ma = na - pre - suf, mb = nb - pre - suf;

    if (ma && mb && (ma > MAX_CELLS / mb)) {
        /* Too big for the table: show where they part ways. */
        rc = etsn_buf_printf(out, "%s(too large to diff) first difference at line %zu:\n", indent,
                             pre + 1);
        if (rc < 0) goto done;
        if (pre < na && emit_line(&em, '-', &a[pre]) < 0) goto done;
        if (pre < nb && emit_line(&em, '+', &b[pre]) < 0) goto done;
        rc = 0;
        goto done;
    }

    /* LCS over the middle part; dp[i][j] = LCS of a[pre+i..] and b[pre+j..]. */
    size_t w = mb + 1;
    dp = calloc((ma + 1) * w, sizeof *dp);
    ed = calloc(na + nb + 1, sizeof *ed);
    if (!dp || !ed) goto done;
    for (size_t i = ma; i-- > 0;)
        for (size_t j = mb; j-- > 0;) {
            if (line_eq(&a[pre + i], &b[pre + j]))
                dp[i * w + j] = dp[(i + 1) * w + j + 1] + 1;
            else {
                uint32_t x = dp[(i + 1) * w + j], y = dp[i * w + j + 1];
                dp[i * w + j] = x > y ? x : y;
            }
        }
    size_t ne = 0;
    for (size_t k = 0; k < pre; k++) ed[ne++] = (edit){' ', k, k};
    size_t i = 0, j = 0;
    while (i < ma || j < mb) {
        if (i < ma && j < mb && line_eq(&a[pre + i], &b[pre + j])) {
            ed[ne++] = (edit){' ', pre + i, pre + j};
            i++;
            j++;
        } else if (i < ma && (j == mb || dp[(i + 1) * w + j] >= dp[i * w + j + 1])) {
            /* Deletions first on a tie: the unified-diff convention. */
            ed[ne++] = (edit){'-', pre + i, pre + j};
            i++;
        } else {
            ed[ne++] = (edit){'+', pre + i, pre + j};
            j++;
        }
    }
    for (size_t k = 0; k < suf; k++) ed[ne++] = (edit){' ', na - suf + k, nb - suf + k};

    if (emit_raw(&em, "--- expected\n") < 0 || emit_raw(&em, "+++ actual\n") < 0) goto done;
    size_t k = 0;
    while (k < ne && !em.truncated) {
        while (k < ne && ed[k].op == ' ') k++;
        if (k >= ne) break;
        /* A hunk: from CONTEXT before this change to CONTEXT after the last
         * change that is within 2*CONTEXT of the previous one. */
        size_t start = k > CONTEXT ? k - CONTEXT : 0;
        size_t end = k, last = k;
        while (end < ne) {
            if (ed[end].op != ' ')
                last = end;
            else if (end - last > 2 * CONTEXT)
                break;
            end++;
        }
        end = last + CONTEXT + 1 < ne ? last + CONTEXT + 1 : ne;
        size_t acount = 0, bcount = 0;
        for (size_t t = start; t < end; t++) {
            if (ed[t].op != '+') acount++;
            if (ed[t].op != '-') bcount++;
        }
        size_t astart = ed[start].ai + (acount ? 1 : 0);
        size_t bstart = ed[start].bi + (bcount ? 1 : 0);
        if (emit_raw(&em, "@@ -%zu,%zu +%zu,%zu @@\n", astart, acount, bstart, bcount) < 0)
            goto done;
        for (size_t t = start; t < end; t++) {
            const line *l = ed[t].op == '+' ? &b[ed[t].bi] : &a[ed[t].ai];
            if (emit_line(&em, ed[t].op, l) < 0) goto done;
        }
        k = end;
    }
    rc = 0;
done:
    free(a);
    free(b);
    free(dp);
    free(ed);
    return rc;
}

int conf_tail(etsn_buf *out, const char *s, size_t len, size_t max_lines, const char *indent)
{
    size_t start = len, seen = 0;
    /* Ignore one final newline so it does not count as an empty line. */
    size_t end = len && s[len - 1] == '\n' ? len - 1 : len;
    start = end;
    while (start > 0) {
        if (s[start - 1] == '\n' && ++seen >= max_lines) break;
        start--;
    }
    if (start > 0 && etsn_buf_printf(out, "%s...\n", indent) < 0) return -1;
    size_t pos = start;
    while (pos < end) {
        const char *nl = memchr(s + pos, '\n', end - pos);
        size_t stop = nl ? (size_t)(nl - s) : end;
        if (etsn_buf_append_str(out, indent) < 0 ||
            conf_render(out, s + pos, stop - pos, false) < 0 || etsn_buf_append_byte(out, '\n') < 0)
            return -1;
        pos = stop + 1;
    }
    return 0;
}
