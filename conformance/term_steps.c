/* The [terminal] section of a case file: one step per line, parsed here into
 * conf_term_step; terminal.c runs them under tmux. The language is in
 * docs/conformance.md, "Terminal cases". */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "case_file.h"

#define MAX_STEPS 1000

static int terr(char *err, size_t errlen, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int terr(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "line %zu: [terminal]: ", line);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* Named keys: what a case may write, and tmux's name for it. */
static const struct {
    const char *name;
    const char *tmux;
} key_names[] = {
    {"Enter", "Enter"},   {"Return", "Enter"}, {"Tab", "Tab"},       {"BTab", "BTab"},
    {"Escape", "Escape"}, {"Esc", "Escape"},   {"BSpace", "BSpace"}, {"Backspace", "BSpace"},
    {"Space", "Space"},   {"Up", "Up"},        {"Down", "Down"},     {"Left", "Left"},
    {"Right", "Right"},   {"Home", "Home"},    {"End", "End"},       {"PPage", "PPage"},
    {"PageUp", "PPage"},  {"PgUp", "PPage"},   {"NPage", "NPage"},   {"PageDown", "NPage"},
    {"PgDn", "NPage"},    {"IC", "IC"},        {"Insert", "IC"},     {"DC", "DC"},
    {"Delete", "DC"},     {"Del", "DC"},       {"F1", "F1"},         {"F2", "F2"},
    {"F3", "F3"},         {"F4", "F4"},        {"F5", "F5"},         {"F6", "F6"},
    {"F7", "F7"},         {"F8", "F8"},        {"F9", "F9"},         {"F10", "F10"},
    {"F11", "F11"},       {"F12", "F12"},
};

/* plain_char: a single character without modifier counts as a key (in
 * send-keys; in send, "{0}" must stay text). */
static const char *key_canon(const char *name, size_t len, bool plain_char, char *buf,
                             size_t buflen)
{
    size_t o = 0, i = 0;
    bool mod = false;
    while (len - i >= 3 && name[i + 1] == '-' && strchr("CMScms", name[i])) {
        if (o + 2 >= buflen) return NULL;
        buf[o++] = (char)toupper((unsigned char)name[i]);
        buf[o++] = '-';
        i += 2;
        mod = true;
    }
    const char *rest = name + i;
    size_t rlen = len - i;
    if (rlen == 1 && rest[0] > 0x20 && rest[0] < 0x7f) {
        if (!mod && !plain_char) return NULL;
        if (o + 2 > buflen) return NULL;
        buf[o++] = rest[0];
        buf[o] = 0;
        return buf;
    }
    for (size_t k = 0; k < sizeof key_names / sizeof key_names[0]; k++) {
        if (strlen(key_names[k].name) != rlen || strncasecmp(key_names[k].name, rest, rlen) != 0)
            continue;
        size_t tl = strlen(key_names[k].tmux);
        if (o + tl + 1 > buflen) return NULL;
        memcpy(buf + o, key_names[k].tmux, tl + 1);
        return buf;
    }
    return NULL;
}

const char *conf_term_key(const char *name, char *buf, size_t buflen)
{
    return key_canon(name, strlen(name), true, buf, buflen);
}

static int push_piece(conf_term_step *st, bool key, const char *s, size_t len)
{
    conf_term_piece *np = realloc(st->parts, (st->nparts + 1) * sizeof *np);
    if (!np) return -1;
    st->parts = np;
    char *copy = strndup(s, len);
    if (!copy) return -1;
    st->parts[st->nparts++] = (conf_term_piece){key, copy};
    return 0;
}

/* "abc{Enter}def{C-c}": text and keys; brace text that is not a key name
 * ({host}, {0}) is text. */
static int parse_send(conf_term_step *st, const char *a)
{
    size_t start = 0, i = 0, n = strlen(a);
    while (i < n) {
        if (a[i] == '{') {
            const char *close = strchr(a + i + 1, '}');
            char kb[64];
            if (close &&
                key_canon(a + i + 1, (size_t)(close - a - i - 1), false, kb, sizeof kb) != NULL) {
                if (i > start && push_piece(st, false, a + start, i - start) < 0) return -1;
                if (push_piece(st, true, kb, strlen(kb)) < 0) return -1;
                i = (size_t)(close - a) + 1;
                start = i;
                continue;
            }
        }
        i++;
    }
    if (n > start && push_piece(st, false, a + start, n - start) < 0) return -1;
    return 0;
}

/* \e is ESC and \\ a backslash; any other backslash is itself. */
static char *unescape_ansi(const char *a)
{
    char *out = malloc(strlen(a) + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; a[i]; i++) {
        if (a[i] == '\\' && a[i + 1] == 'e') {
            out[o++] = '\x1b';
            i++;
        } else if (a[i] == '\\' && a[i + 1] == '\\') {
            out[o++] = '\\';
            i++;
        } else {
            out[o++] = a[i];
        }
    }
    out[o] = 0;
    return out;
}

static int parse_num(const char *s, long lo, long hi, long *out)
{
    if (!*s) return -1;
    char *end;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static const struct {
    const char *word;
    conf_term_op op;
    int arg; /* 0: none, 1: required, 2: optional */
} ops[] = {
    {"size", CONF_T_SIZE, 1},
    {"resize", CONF_T_RESIZE, 1},
    {"timeout", CONF_T_TIMEOUT, 1},
    {"send", CONF_T_SEND, 1},
    {"send-keys", CONF_T_SEND_KEYS, 1},
    {"wait-for", CONF_T_WAIT_FOR, 1},
    {"wait-not", CONF_T_WAIT_NOT, 1},
    {"screen-contains", CONF_T_CONTAINS, 1},
    {"screen-not-contains", CONF_T_NOT_CONTAINS, 1},
    {"screen-contains-ansi", CONF_T_CONTAINS_ANSI, 1},
    {"cursor-line", CONF_T_CURSOR_LINE, 2},
    {"wait-cursor-line", CONF_T_WAIT_CURSOR, 2},
    {"sleep", CONF_T_SLEEP, 1},
    {"wait-exit", CONF_T_WAIT_EXIT, 0},
};

static bool is_sp(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int parse_step(const char *l, size_t llen, size_t lineno, conf_case *c, conf_term_step *st,
                      char *err, size_t errlen)
{
    size_t kl = 0;
    while (kl < llen && !is_sp(l[kl])) kl++;
    int found = -1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strlen(ops[i].word) == kl && memcmp(ops[i].word, l, kl) == 0) found = (int)i;
    if (found < 0) return terr(err, errlen, lineno, "unknown step \"%.*s\"", (int)kl, l);
    st->op = ops[found].op;
    st->line = lineno;
    /* One blank separates the word from its argument; the rest is verbatim. */
    const char *a = l + kl + (kl < llen ? 1 : 0);
    size_t alen = llen - (size_t)(a - l);
    bool screen = st->op == CONF_T_WAIT_FOR || st->op == CONF_T_WAIT_NOT ||
                  st->op == CONF_T_CONTAINS || st->op == CONF_T_NOT_CONTAINS ||
                  st->op == CONF_T_CONTAINS_ANSI || st->op == CONF_T_CURSOR_LINE ||
                  st->op == CONF_T_WAIT_CURSOR;
    bool numeric = st->op == CONF_T_SIZE || st->op == CONF_T_RESIZE || st->op == CONF_T_TIMEOUT ||
                   st->op == CONF_T_SLEEP;
    /* tmux shows no trailing blanks, so a screen text ending in one could
     * never match: they are cut. A send keeps them. */
    if (screen || numeric || st->op == CONF_T_SEND_KEYS || st->op == CONF_T_WAIT_EXIT)
        while (alen && is_sp(a[alen - 1])) alen--;
    if (ops[found].arg == 0 && alen)
        return terr(err, errlen, lineno, "%s takes no argument", ops[found].word);
    if (ops[found].arg == 1 && !alen)
        return terr(err, errlen, lineno, "%s needs an argument", ops[found].word);
    st->arg = strndup(a, alen);
    if (!st->arg) return terr(err, errlen, lineno, "out of memory");

    switch (st->op) {
    case CONF_T_SIZE:
    case CONF_T_RESIZE: {
        char *x = strchr(st->arg, 'x');
        if (!x) goto badsize;
        *x = 0;
        bool bad =
            parse_num(st->arg, 10, 1000, &st->num) < 0 || parse_num(x + 1, 2, 1000, &st->num2) < 0;
        *x = 'x';
        if (bad) goto badsize;
        if (st->op == CONF_T_RESIZE) return 0;
        c->term_w = (int)st->num;
        c->term_h = (int)st->num2;
        return 0;
    badsize:
        return terr(err, errlen, lineno, "%s takes WIDTHxHEIGHT (10..1000 x 2..1000), got \"%s\"",
                    ops[found].word, st->arg);
    }
    case CONF_T_TIMEOUT:
        if (parse_num(st->arg, 1, CONF_MAX_TIMEOUT_S, &st->num) < 0)
            return terr(err, errlen, lineno, "timeout takes seconds from 1 to %d, got \"%s\"",
                        CONF_MAX_TIMEOUT_S, st->arg);
        return 0;
    case CONF_T_SLEEP:
        if (parse_num(st->arg, 1, 60000, &st->num) < 0)
            return terr(err, errlen, lineno, "sleep takes milliseconds from 1 to 60000, got \"%s\"",
                        st->arg);
        return 0;
    case CONF_T_SEND:
        if (parse_send(st, st->arg) < 0) return terr(err, errlen, lineno, "out of memory");
        return 0;
    case CONF_T_SEND_KEYS: {
        const char *p = st->arg;
        while (*p) {
            while (is_sp(*p)) p++;
            size_t n = 0;
            while (p[n] && !is_sp(p[n])) n++;
            if (!n) break;
            char kb[64];
            if (!key_canon(p, n, true, kb, sizeof kb))
                return terr(err, errlen, lineno,
                            "send-keys: \"%.*s\" is not a key (Enter, Tab, Escape, BSpace, Up, "
                            "C-c, M-x, F1, one character...)",
                            (int)n, p);
            if (push_piece(st, true, kb, strlen(kb)) < 0)
                return terr(err, errlen, lineno, "out of memory");
            p += n;
        }
        return 0;
    }
    case CONF_T_CONTAINS_ANSI: {
        char *u = unescape_ansi(st->arg);
        if (!u) return terr(err, errlen, lineno, "out of memory");
        free(st->arg);
        st->arg = u;
        return 0;
    }
    default:
        return 0;
    }
}

void conf_term_steps_free(conf_term_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(steps[i].arg);
        for (size_t k = 0; k < steps[i].nparts; k++) free(steps[i].parts[k].s);
        free(steps[i].parts);
    }
    free(steps);
}

int conf_term_parse(const char *text, size_t len, size_t first_line, conf_case *c, char *err,
                    size_t errlen)
{
    c->has_terminal = true;
    c->term_w = CONF_TERM_DEFAULT_W;
    c->term_h = CONF_TERM_DEFAULT_H;
    size_t pos = 0, line = first_line;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t stop = nl ? (size_t)(nl - text) : len;
        const char *l = text + pos;
        size_t llen = stop - pos;
        pos = nl ? stop + 1 : len;
        size_t lineno = line++;
        while (llen && is_sp(*l)) l++, llen--;
        if (!llen || *l == '#') continue;
        if (c->nterm >= MAX_STEPS)
            return terr(err, errlen, lineno, "more than %d steps", MAX_STEPS);
        conf_term_step *ns = realloc(c->term, (c->nterm + 1) * sizeof *ns);
        if (!ns) return terr(err, errlen, lineno, "out of memory");
        c->term = ns;
        conf_term_step *st = &c->term[c->nterm++];
        memset(st, 0, sizeof *st);
        if (parse_step(l, llen, lineno, c, st, err, errlen) < 0) return -1;
        if (st->op == CONF_T_SIZE && c->nterm != 1)
            return terr(err, errlen, lineno, "size must be the first step");
    }
    if (!c->nterm) return terr(err, errlen, first_line ? first_line - 1 : 0, "no steps");
    return 0;
}
