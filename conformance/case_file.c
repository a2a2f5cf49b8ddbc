#include "case_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ref/core/buf.h"
#include "wire_check.h"

/* How a section's lines become a value; see docs/conformance.md. */
typedef enum {
    K_SCALAR, /* trimmed; single-line unless multiline is set */
    K_LINE,   /* first line verbatim, the rest must be blank */
    K_LIST,   /* each non-blank line verbatim */
    K_TEXT,   /* verbatim, every line with its newline, % escapes */
    K_ARGS,   /* shell-like words */
} section_kind;

typedef enum {
    S_ID,
    S_REQUIREMENT,
    S_SOURCE,
    S_FIXTURE,
    S_ARGS,
    S_MOCKD_ARGS,
    S_USER,
    S_PASSWORD,
    S_STDIN,
    S_ENV,
    S_EXPECT_EXIT,
    S_EXPECT_STDOUT,
    S_EXPECT_STDERR,
    S_STDOUT_CONTAINS,
    S_STDERR_CONTAINS,
    S_STDOUT_NOT_CONTAINS,
    S_STDERR_NOT_CONTAINS,
    S_STDOUT_LINES,
    S_EXPECT_REPORT,
    S_TIMEOUT,
    S_TAGS,
    S_REQUIRES,
    S_TERMINAL,
    S_EXPECT_WIRE,
    S_COUNT
} section_id;

static const struct {
    const char *name;
    section_kind kind;
    bool required;
    bool multiline; /* K_SCALAR only */
} sections[S_COUNT] = {
    [S_ID] = {"id", K_SCALAR, true, false},
    [S_REQUIREMENT] = {"requirement", K_SCALAR, true, true},
    [S_SOURCE] = {"source", K_SCALAR, false, true},
    [S_FIXTURE] = {"fixture", K_SCALAR, true, false},
    [S_ARGS] = {"args", K_ARGS, true, false},
    [S_MOCKD_ARGS] = {"mockd-args", K_ARGS, false, false},
    [S_USER] = {"user", K_LINE, false, false},
    [S_PASSWORD] = {"password", K_LINE, false, false},
    [S_STDIN] = {"stdin", K_TEXT, false, false},
    [S_ENV] = {"env", K_LIST, false, false},
    [S_EXPECT_EXIT] = {"expect-exit", K_SCALAR, false, false},
    [S_EXPECT_STDOUT] = {"expect-stdout", K_TEXT, false, false},
    [S_EXPECT_STDERR] = {"expect-stderr", K_TEXT, false, false},
    [S_STDOUT_CONTAINS] = {"expect-stdout-contains", K_LIST, false, false},
    [S_STDERR_CONTAINS] = {"expect-stderr-contains", K_LIST, false, false},
    [S_STDOUT_NOT_CONTAINS] = {"expect-stdout-not-contains", K_LIST, false, false},
    [S_STDERR_NOT_CONTAINS] = {"expect-stderr-not-contains", K_LIST, false, false},
    [S_STDOUT_LINES] = {"expect-stdout-lines", K_SCALAR, false, false},
    [S_EXPECT_REPORT] = {"expect-report", K_LIST, false, false},
    [S_TIMEOUT] = {"timeout", K_SCALAR, false, false},
    [S_TAGS] = {"tags", K_LIST, false, false},
    [S_REQUIRES] = {"requires", K_LIST, false, false},
    [S_TERMINAL] = {"terminal", K_LIST, false, false}, /* steps, see term_steps.c */
    [S_EXPECT_WIRE] = {"expect-wire", K_LIST, false, false},
};

typedef struct {
    bool seen;
    size_t line;  /* of the header, 1-based */
    size_t start; /* byte range of the content */
    size_t end;
} section_span;

static int errf(char *err, size_t errlen, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
    if (err && errlen) {
        int n = line ? snprintf(err, errlen, "line %zu: ", line) : 0;
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

void conf_strv_free(conf_strv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

int conf_strv_push(conf_strv *s, const char *str, size_t len)
{
    char **nv = realloc(s->v, (s->n + 2) * sizeof *nv);
    if (!nv) return -1;
    s->v = nv;
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, str, len);
    copy[len] = 0;
    s->v[s->n++] = copy;
    /* Kept NULL terminated so the vector can serve as an argv directly. */
    s->v[s->n] = NULL;
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *dup_range(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = 0;
    return p;
}

/* A header is a whole line "[name]" with name in [a-z0-9-]: anything else,
 * such as the prompt "[localhost]: PS C:\> ", is content. */
static bool header_name(const char *line, size_t len, const char **name, size_t *nlen)
{
    if (len < 3 || line[0] != '[' || line[len - 1] != ']') return false;
    if (line[1] < 'a' || line[1] > 'z') return false;
    for (size_t i = 1; i < len - 1; i++) {
        char c = line[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    *name = line + 1;
    *nlen = len - 2;
    return true;
}

/* Trims blanks; returns -1 when the remaining value spans lines but the
 * section wants a single line. */
static int scalar_value(const char *text, const section_span *sp, bool multiline, char **out,
                        char *err, size_t errlen, const char *name)
{
    size_t a = sp->start, b = sp->end;
    while (a < b && is_blank(text[a])) a++;
    while (b > a && is_blank(text[b - 1])) b--;
    if (!multiline && memchr(text + a, '\n', b - a))
        return errf(err, errlen, sp->line, "[%s] takes a single line", name);
    *out = dup_range(text + a, b - a);
    return *out ? 0 : errf(err, errlen, sp->line, "out of memory");
}

static int line_value(const char *text, const section_span *sp, char **out, char *err,
                      size_t errlen, const char *name)
{
    const char *s = text + sp->start;
    size_t len = sp->end - sp->start;
    const char *nl = memchr(s, '\n', len);
    size_t first = nl ? (size_t)(nl - s) : len;
    for (size_t i = first; i < len; i++)
        if (!is_blank(s[i]))
            return errf(err, errlen, sp->line, "[%s] takes one line; the value is the first", name);
    *out = dup_range(s, first);
    return *out ? 0 : errf(err, errlen, sp->line, "out of memory");
}

/* Calls fn for every non-blank line (without its newline). */
static int list_lines(const char *text, const section_span *sp, conf_strv *out)
{
    size_t pos = sp->start;
    while (pos < sp->end) {
        const char *nl = memchr(text + pos, '\n', sp->end - pos);
        size_t stop = nl ? (size_t)(nl - text) : sp->end;
        bool blank = true;
        for (size_t i = pos; i < stop; i++)
            if (!is_blank(text[i])) blank = false;
        if (!blank && conf_strv_push(out, text + pos, stop - pos) < 0) return -1;
        pos = stop + 1;
    }
    return 0;
}

static int text_value(const char *text, const section_span *sp, conf_text *out, char *err,
                      size_t errlen)
{
    etsn_buf b = ETSN_BUF_INIT;
    size_t pos = sp->start, line = sp->line + 1;
    bool no_newline = false;
    while (pos < sp->end) {
        const char *nl = memchr(text + pos, '\n', sp->end - pos);
        size_t stop = nl ? (size_t)(nl - text) : sp->end;
        const char *l = text + pos;
        size_t llen = stop - pos;
        pos = stop + 1;
        if (no_newline) {
            etsn_buf_free(&b);
            return errf(err, errlen, line - 1, "%%no-newline must be the section's last line");
        }
        if (llen == 11 && memcmp(l, "%no-newline", 11) == 0) {
            no_newline = true;
            line++;
            continue;
        }
        /* A leading '%' escapes the line: "%[id]" is the text "[id]", and
         * "%%no-newline" the text "%no-newline". */
        if (llen && l[0] == '%') {
            l++;
            llen--;
        }
        if (etsn_buf_append(&b, l, llen) < 0 || etsn_buf_append_byte(&b, '\n') < 0) {
            etsn_buf_free(&b);
            return errf(err, errlen, line, "out of memory");
        }
        line++;
    }
    if (no_newline && b.len) b.len--;
    /* append of nothing: allocates and NUL-terminates even when empty */
    if (etsn_buf_append(&b, "", 0) < 0) {
        etsn_buf_free(&b);
        return errf(err, errlen, line, "out of memory");
    }
    out->present = true;
    out->len = b.len;
    out->data = etsn_buf_steal(&b);
    return 0;
}

int conf_split_args(const char *text, conf_strv *out, char *err, size_t errlen)
{
    etsn_buf word = ETSN_BUF_INIT;
    const char *p = text;
    size_t line = 1;
    for (;;) {
        while (*p && is_blank(*p)) {
            if (*p == '\n') line++;
            p++;
        }
        if (!*p) break;
        etsn_buf_reset(&word);
        /* A word that is only "" still counts as an (empty) argument. */
        if (etsn_buf_append(&word, "", 0) < 0) goto oom;
        while (*p && !is_blank(*p)) {
            if (*p == '\'') {
                const char *q = strchr(p + 1, '\'');
                if (!q) {
                    etsn_buf_free(&word);
                    return errf(err, errlen, line, "unterminated ' in arguments");
                }
                if (etsn_buf_append(&word, p + 1, (size_t)(q - p - 1)) < 0) goto oom;
                p = q + 1;
            } else if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) p++;
                    if (*p == '\n') line++;
                    if (etsn_buf_append_byte(&word, (uint8_t)*p) < 0) goto oom;
                    p++;
                }
                if (!*p) {
                    etsn_buf_free(&word);
                    return errf(err, errlen, line, "unterminated \" in arguments");
                }
                p++;
            } else {
                if (etsn_buf_append_byte(&word, (uint8_t)*p) < 0) goto oom;
                p++;
            }
        }
        if (conf_strv_push(out, (const char *)word.data, word.len) < 0) goto oom;
    }
    etsn_buf_free(&word);
    return 0;
oom:
    etsn_buf_free(&word);
    return errf(err, errlen, line, "out of memory");
}

static bool word_ok(const char *s, size_t len)
{
    if (!len) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+' || c == '/'))
            return false;
    }
    return true;
}

/* Splits tag-like lists on commas and blanks. */
static int split_words(const char *text, const section_span *sp, conf_strv *out, char *err,
                       size_t errlen, const char *name)
{
    size_t pos = sp->start;
    while (pos < sp->end) {
        while (pos < sp->end && (is_blank(text[pos]) || text[pos] == ',')) pos++;
        size_t a = pos;
        while (pos < sp->end && !is_blank(text[pos]) && text[pos] != ',') pos++;
        if (pos == a) break;
        if (!word_ok(text + a, pos - a))
            return errf(err, errlen, sp->line, "[%s]: invalid word \"%.*s\"", name, (int)(pos - a),
                        text + a);
        if (conf_strv_push(out, text + a, pos - a) < 0)
            return errf(err, errlen, sp->line, "out of memory");
    }
    return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    if (!*s) return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static bool env_name_ok(const char *s, size_t len)
{
    if (!len || (s[0] >= '0' && s[0] <= '9')) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static int parse_report_line(const char *line, conf_report_check *out, char *err, size_t errlen,
                             size_t lineno)
{
    const char *a = line;
    while (is_blank(*a)) a++;
    size_t len = strlen(a);
    while (len && is_blank(a[len - 1])) len--;
    memset(out, 0, sizeof *out);
    if (len == 7 && memcmp(a, "all-met", 7) == 0) {
        out->kind = CONF_REPORT_ALL_MET;
        return 0;
    }
    const char *colon = memchr(a, ':', len);
    if (!colon)
        return errf(err, errlen, lineno, "[expect-report]: expected \"all-met\" or \"KEY: VALUE\"");
    size_t klen = (size_t)(colon - a);
    const char *v = colon + 1;
    while (v < a + len && is_blank(*v)) v++;
    size_t vlen = (size_t)(a + len - v);
    if (!vlen)
        return errf(err, errlen, lineno, "[expect-report]: \"%.*s\" needs a value", (int)klen, a);
    static const struct {
        const char *key;
        conf_report_kind kind;
    } keys[] = {{"met", CONF_REPORT_MET},
                {"unmet", CONF_REPORT_UNMET},
                {"unmatched", CONF_REPORT_UNMATCHED},
                {"event", CONF_REPORT_EVENT},
                {"no-event", CONF_REPORT_NO_EVENT}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strlen(keys[i].key) != klen || memcmp(keys[i].key, a, klen) != 0) continue;
        out->kind = keys[i].kind;
        if (out->kind == CONF_REPORT_UNMATCHED) {
            char tmp[32];
            if (vlen >= sizeof tmp) goto badnum;
            memcpy(tmp, v, vlen);
            tmp[vlen] = 0;
            if (parse_long(tmp, 0, 1000000, &out->count) < 0) goto badnum;
            return 0;
        }
        out->arg = dup_range(v, vlen);
        return out->arg ? 0 : errf(err, errlen, lineno, "out of memory");
    }
    return errf(err, errlen, lineno, "[expect-report]: unknown check \"%.*s\"", (int)klen, a);
badnum:
    return errf(err, errlen, lineno, "[expect-report]: unmatched: takes a count");
}

/* Line number of the n-th non-blank line of a list section, for messages. */
static size_t list_line_no(const char *text, const section_span *sp, size_t index)
{
    size_t pos = sp->start, line = sp->line + 1, seen = 0;
    while (pos < sp->end) {
        const char *nl = memchr(text + pos, '\n', sp->end - pos);
        size_t stop = nl ? (size_t)(nl - text) : sp->end;
        bool blank = true;
        for (size_t i = pos; i < stop; i++)
            if (!is_blank(text[i])) blank = false;
        if (!blank && seen++ == index) return line;
        pos = stop + 1;
        line++;
    }
    return sp->line;
}

int conf_case_parse(const char *text, size_t len, const char *name, conf_case *c, char *err,
                    size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->expect_exit = CONF_EXIT_ANY;
    c->expect_stdout_lines = -1;
    c->timeout_s = CONF_DEFAULT_TIMEOUT_S;
    if (err && errlen) err[0] = 0;
    if (len > CONF_MAX_CASE_FILE) return errf(err, errlen, 0, "case file too large");
    if (memchr(text, 0, len)) return errf(err, errlen, 0, "case file holds a NUL byte");

    section_span spans[S_COUNT] = {0};
    section_span *cur = NULL;
    size_t pos = 0, line = 0;
    while (pos < len) {
        line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t stop = nl ? (size_t)(nl - text) : len;
        const char *hname;
        size_t hlen;
        if (header_name(text + pos, stop - pos, &hname, &hlen)) {
            int found = -1;
            for (int i = 0; i < S_COUNT; i++)
                if (strlen(sections[i].name) == hlen && memcmp(sections[i].name, hname, hlen) == 0)
                    found = i;
            if (found < 0)
                return errf(err, errlen, line, "unknown section [%.*s]", (int)hlen, hname);
            if (spans[found].seen)
                return errf(err, errlen, line, "section [%s] appears twice (first on line %zu)",
                            sections[found].name, spans[found].line);
            if (cur) cur->end = pos;
            cur = &spans[found];
            cur->seen = true;
            cur->line = line;
            cur->start = nl ? stop + 1 : len;
        } else if (!cur) {
            /* Before the first header only comments and blank lines. */
            bool blank = true;
            for (size_t i = pos; i < stop; i++)
                if (!is_blank(text[i])) blank = false;
            if (!blank && text[pos] != '#')
                return errf(err, errlen, line, "text before the first [section]");
        }
        pos = nl ? stop + 1 : len;
    }
    if (cur) cur->end = len;

    for (int i = 0; i < S_COUNT; i++)
        if (sections[i].required && !spans[i].seen)
            return errf(err, errlen, 0, "missing required section [%s]", sections[i].name);

    int rc = 0;
    char *tmp = NULL;
#define FAILIF(x)                                                                                  \
    do {                                                                                           \
        if (x) {                                                                                   \
            rc = -1;                                                                               \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
#define SP(i) (&spans[i])
#define NAME(i) (sections[i].name)

    FAILIF(scalar_value(text, SP(S_ID), false, &c->id, err, errlen, NAME(S_ID)));
    if (!word_ok(c->id, strlen(c->id)) || strchr(c->id, '/')) {
        rc = errf(err, errlen, spans[S_ID].line, "[id] \"%s\" is not a valid case id", c->id);
        goto out;
    }
    if (name && strcmp(name, c->id) != 0) {
        rc = errf(err, errlen, spans[S_ID].line, "[id] \"%s\" differs from the file name \"%s\"",
                  c->id, name);
        goto out;
    }
    FAILIF(scalar_value(text, SP(S_REQUIREMENT), true, &c->requirement, err, errlen,
                        NAME(S_REQUIREMENT)));
    if (!*c->requirement) {
        rc = errf(err, errlen, spans[S_REQUIREMENT].line, "[requirement] is empty");
        goto out;
    }
    if (spans[S_SOURCE].seen)
        FAILIF(scalar_value(text, SP(S_SOURCE), true, &c->source, err, errlen, NAME(S_SOURCE)));
    FAILIF(scalar_value(text, SP(S_FIXTURE), false, &c->fixture, err, errlen, NAME(S_FIXTURE)));
    if (!*c->fixture) {
        rc = errf(err, errlen, spans[S_FIXTURE].line, "[fixture] is empty");
        goto out;
    }

    for (int i = S_ARGS; i <= S_MOCKD_ARGS; i++) {
        if (!spans[i].seen) continue;
        tmp = dup_range(text + spans[i].start, spans[i].end - spans[i].start);
        FAILIF(!tmp);
        char e2[256];
        if (conf_split_args(tmp, i == S_ARGS ? &c->args : &c->mockd_args, e2, sizeof e2) < 0) {
            rc = errf(err, errlen, spans[i].line, "[%s]: %s", NAME(i), e2);
            goto out;
        }
        free(tmp);
        tmp = NULL;
    }
    if (spans[S_USER].seen) FAILIF(line_value(text, SP(S_USER), &c->user, err, errlen, "user"));
    if (spans[S_PASSWORD].seen)
        FAILIF(line_value(text, SP(S_PASSWORD), &c->password, err, errlen, "password"));
    if (spans[S_STDIN].seen) FAILIF(text_value(text, SP(S_STDIN), &c->stdin_text, err, errlen));
    if (spans[S_EXPECT_STDOUT].seen)
        FAILIF(text_value(text, SP(S_EXPECT_STDOUT), &c->expect_stdout, err, errlen));
    if (spans[S_EXPECT_STDERR].seen)
        FAILIF(text_value(text, SP(S_EXPECT_STDERR), &c->expect_stderr, err, errlen));

    const struct {
        section_id s;
        conf_strv *dst;
    } lists[] = {{S_STDOUT_CONTAINS, &c->stdout_contains},
                 {S_STDERR_CONTAINS, &c->stderr_contains},
                 {S_STDOUT_NOT_CONTAINS, &c->stdout_not_contains},
                 {S_STDERR_NOT_CONTAINS, &c->stderr_not_contains},
                 {S_ENV, &c->env},
                 {S_EXPECT_WIRE, &c->expect_wire}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        if (!spans[lists[i].s].seen) continue;
        if (list_lines(text, SP(lists[i].s), lists[i].dst) < 0) {
            rc = errf(err, errlen, spans[lists[i].s].line, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < c->env.n; i++) {
        const char *e = c->env.v[i];
        const char *eq = strchr(e, '=');
        bool ok = e[0] == '-' ? env_name_ok(e + 1, strlen(e + 1))
                              : (eq && env_name_ok(e, (size_t)(eq - e)));
        if (!ok) {
            rc = errf(err, errlen, list_line_no(text, SP(S_ENV), i),
                      "[env]: expected NAME=VALUE or -NAME, got \"%s\"", e);
            goto out;
        }
    }

    if (spans[S_EXPECT_EXIT].seen) {
        FAILIF(scalar_value(text, SP(S_EXPECT_EXIT), false, &tmp, err, errlen, "expect-exit"));
        long v;
        if (strcmp(tmp, "nonzero") == 0)
            c->expect_exit = CONF_EXIT_NONZERO;
        else if (strcmp(tmp, "any") == 0)
            c->expect_exit = CONF_EXIT_ANY;
        else if (parse_long(tmp, 0, 255, &v) == 0)
            c->expect_exit = (int)v;
        else {
            rc = errf(err, errlen, spans[S_EXPECT_EXIT].line,
                      "[expect-exit]: expected 0..255, \"nonzero\" or \"any\", got \"%s\"", tmp);
            goto out;
        }
        free(tmp);
        tmp = NULL;
    }
    if (spans[S_STDOUT_LINES].seen) {
        FAILIF(scalar_value(text, SP(S_STDOUT_LINES), false, &tmp, err, errlen,
                            "expect-stdout-lines"));
        if (parse_long(tmp, 0, LONG_MAX, &c->expect_stdout_lines) < 0) {
            rc = errf(err, errlen, spans[S_STDOUT_LINES].line,
                      "[expect-stdout-lines]: expected a line count, got \"%s\"", tmp);
            goto out;
        }
        free(tmp);
        tmp = NULL;
    }
    if (spans[S_TIMEOUT].seen) {
        FAILIF(scalar_value(text, SP(S_TIMEOUT), false, &tmp, err, errlen, "timeout"));
        long v;
        if (parse_long(tmp, 1, CONF_MAX_TIMEOUT_S, &v) < 0) {
            rc = errf(err, errlen, spans[S_TIMEOUT].line,
                      "[timeout]: expected seconds from 1 to %d, got \"%s\"", CONF_MAX_TIMEOUT_S,
                      tmp);
            goto out;
        }
        c->timeout_s = (int)v;
        free(tmp);
        tmp = NULL;
    }
    if (spans[S_TAGS].seen) FAILIF(split_words(text, SP(S_TAGS), &c->tags, err, errlen, "tags"));
    if (spans[S_REQUIRES].seen)
        FAILIF(split_words(text, SP(S_REQUIRES), &c->requires, err, errlen, "requires"));

    if (spans[S_EXPECT_REPORT].seen) {
        conf_strv lines = {0};
        c->has_report_section = true;
        if (list_lines(text, SP(S_EXPECT_REPORT), &lines) < 0) {
            conf_strv_free(&lines);
            rc = errf(err, errlen, spans[S_EXPECT_REPORT].line, "out of memory");
            goto out;
        }
        c->report = calloc(lines.n ? lines.n : 1, sizeof *c->report);
        if (!c->report) {
            conf_strv_free(&lines);
            rc = errf(err, errlen, spans[S_EXPECT_REPORT].line, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < lines.n; i++) {
            if (parse_report_line(lines.v[i], &c->report[i], err, errlen,
                                  list_line_no(text, SP(S_EXPECT_REPORT), i)) < 0) {
                conf_strv_free(&lines);
                rc = -1;
                goto out;
            }
            c->nreport++;
        }
        conf_strv_free(&lines);
    }
    if (spans[S_TERMINAL].seen) {
        FAILIF(conf_term_parse(text + spans[S_TERMINAL].start,
                               spans[S_TERMINAL].end - spans[S_TERMINAL].start,
                               spans[S_TERMINAL].line + 1, c, err, errlen));
        /* The client's output goes to the pane, its input comes from the
         * steps: the stream sections make no sense beside them. */
        static const section_id stream[] = {
            S_STDIN,           S_EXPECT_STDOUT,       S_EXPECT_STDERR,       S_STDOUT_CONTAINS,
            S_STDERR_CONTAINS, S_STDOUT_NOT_CONTAINS, S_STDERR_NOT_CONTAINS, S_STDOUT_LINES};
        for (size_t i = 0; i < sizeof stream / sizeof stream[0]; i++)
            if (spans[stream[i]].seen) {
                rc = errf(err, errlen, spans[stream[i]].line,
                          "[%s] cannot be used with [terminal] (check the screen with "
                          "screen-contains instead)",
                          NAME(stream[i]));
                goto out;
            }
        bool waits = false;
        for (size_t i = 0; i < c->nterm; i++)
            if (c->term[i].op == CONF_T_WAIT_EXIT) waits = true;
        if (spans[S_EXPECT_EXIT].seen && !waits) {
            rc = errf(err, errlen, spans[S_EXPECT_EXIT].line,
                      "[expect-exit] with [terminal] needs a wait-exit step");
            goto out;
        }
    }
#undef FAILIF
#undef SP
#undef NAME
out:
    free(tmp);
    if (rc < 0) conf_case_free(c);
    return rc;
}

int conf_case_load(const char *path, conf_case *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errf(err, errlen, 0, "cannot open: %s", strerror(errno));
    etsn_buf b = ETSN_BUF_INIT;
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            etsn_buf_free(&b);
            return errf(err, errlen, 0, "cannot read: %s", strerror(e));
        }
        if (n == 0) break;
        if (b.len + (size_t)n > CONF_MAX_CASE_FILE || etsn_buf_append(&b, chunk, (size_t)n) < 0) {
            close(fd);
            etsn_buf_free(&b);
            return errf(err, errlen, 0, "case file too large");
        }
    }
    close(fd);
    /* The stem of the base name: cases/auth.basic.case -> auth.basic. */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t blen = strlen(base);
    if (blen > 5 && strcmp(base + blen - 5, ".case") == 0) blen -= 5;
    char *stem = dup_range(base, blen);
    if (!stem) {
        etsn_buf_free(&b);
        return errf(err, errlen, 0, "out of memory");
    }
    int rc = conf_case_parse(b.data ? (const char *)b.data : "", b.len, stem, out, err, errlen);
    free(stem);
    /* [expect-wire] includes are relative to the case file's directory. */
    char *dir = dup_range(path, (size_t)(base - path));
    if (rc == 0 && (!dir || conf_wire_expand(&out->expect_wire, *dir ? dir : ".", err, errlen))) {
        conf_case_free(out);
        rc = -1;
    }
    free(dir);
    etsn_buf_free(&b);
    return rc;
}

void conf_case_free(conf_case *c)
{
    free(c->id);
    free(c->requirement);
    free(c->source);
    free(c->fixture);
    conf_strv_free(&c->args);
    conf_strv_free(&c->mockd_args);
    free(c->user);
    if (c->password) {
        etsn_secure_zero(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->stdin_text.data);
    conf_strv_free(&c->env);
    free(c->expect_stdout.data);
    free(c->expect_stderr.data);
    conf_strv_free(&c->stdout_contains);
    conf_strv_free(&c->stderr_contains);
    conf_strv_free(&c->stdout_not_contains);
    conf_strv_free(&c->stderr_not_contains);
    for (size_t i = 0; i < c->nreport; i++) free(c->report[i].arg);
    free(c->report);
    conf_strv_free(&c->tags);
    conf_strv_free(&c->requires);
    conf_term_steps_free(c->term, c->nterm);
    conf_strv_free(&c->expect_wire);
    memset(c, 0, sizeof *c);
    c->expect_exit = CONF_EXIT_ANY;
    c->expect_stdout_lines = -1;
}

bool conf_case_has_tag(const conf_case *c, const char *tag)
{
    for (size_t i = 0; i < c->tags.n; i++)
        if (strcmp(c->tags.v[i], tag) == 0) return true;
    return false;
}

char *conf_subst(const char *in, size_t len, const conf_vars *vars, size_t *outlen)
{
    static const char lbrace[] = "{";
    const struct {
        const char *name;
        const char *value;
    } table[] = {{"host", vars ? vars->host : NULL},
                 {"port", vars ? vars->port : NULL},
                 {"url", vars ? vars->url : NULL},
                 {"path", vars ? vars->path : NULL},
                 {"user", vars ? vars->user : NULL},
                 {"password_file", vars ? vars->password_file : NULL},
                 {"fixtures", vars ? vars->fixtures : NULL},
                 {"tls_cert", vars ? vars->tls_cert : NULL},
                 {"tls_key", vars ? vars->tls_key : NULL},
                 {"tls_wrong_cert", vars ? vars->tls_wrong_cert : NULL},
                 {"tls_wrong_key", vars ? vars->tls_wrong_key : NULL},
                 {"lbrace", lbrace}};
    etsn_buf b = ETSN_BUF_INIT;
    if (etsn_buf_reserve(&b, len) < 0 || etsn_buf_append(&b, "", 0) < 0) {
        etsn_buf_free(&b);
        return NULL;
    }
    size_t i = 0;
    while (i < len) {
        if (in[i] == '{') {
            bool done = false;
            for (size_t t = 0; t < sizeof table / sizeof table[0] && !done; t++) {
                size_t n = strlen(table[t].name);
                if (!table[t].value || len - i < n + 2 || memcmp(in + i + 1, table[t].name, n) ||
                    in[i + 1 + n] != '}')
                    continue;
                if (etsn_buf_append_str(&b, table[t].value) < 0) goto oom;
                i += n + 2;
                done = true;
            }
            if (done) continue;
        }
        if (etsn_buf_append_byte(&b, (uint8_t)in[i]) < 0) goto oom;
        i++;
    }
    if (outlen) *outlen = b.len;
    return etsn_buf_steal(&b);
oom:
    etsn_buf_free(&b);
    return NULL;
}

int conf_strv_pushf(conf_strv *s, const char *fmt, ...)
{
    etsn_buf b = ETSN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = etsn_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc == 0) rc = conf_strv_push(s, (const char *)b.data, b.len);
    etsn_buf_free(&b);
    return rc;
}
