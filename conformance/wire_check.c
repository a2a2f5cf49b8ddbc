#include "wire_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A wire profile (conformance/wire/NAME.wire) is a few hundred bytes. */
#define MAX_WIRE_FILE (256u * 1024u)

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

static size_t trimmed_len(const char *s, size_t n)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    return n;
}

static int expand(conf_strv *out, const conf_strv *in, const char *dir, int depth, char *err,
                  size_t errlen);

static int include_file(conf_strv *out, const char *name, const char *dir, int depth, char *err,
                        size_t errlen)
{
    if (depth >= CONF_WIRE_MAX_DEPTH) {
        snprintf(err, errlen, "[expect-wire]: include %s: nested too deep", name);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "[expect-wire]: include %s: %s", name, strerror(errno));
        return -1;
    }
    conf_strv lines = {0};
    char buf[4096];
    size_t total = 0;
    int rc = 0;
    while (!rc && fgets(buf, sizeof buf, f)) {
        size_t n = strlen(buf);
        total += n;
        if (total > MAX_WIRE_FILE || (n == sizeof buf - 1 && buf[n - 1] != '\n')) {
            snprintf(err, errlen, "[expect-wire]: include %s: too large", name);
            rc = -1;
            break;
        }
        if (n && buf[n - 1] == '\n') buf[--n] = 0;
        if (conf_strv_push(&lines, buf, n) < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    fclose(f);
    /* Includes inside an included file are relative to that file. */
    char *slash = strrchr(path, '/');
    if (slash) *slash = 0;
    if (!rc) rc = expand(out, &lines, path, depth + 1, err, errlen);
    conf_strv_free(&lines);
    return rc;
}

static int expand(conf_strv *out, const conf_strv *in, const char *dir, int depth, char *err,
                  size_t errlen)
{
    for (size_t i = 0; i < in->n; i++) {
        const char *s = skip_blanks(in->v[i]);
        size_t n = trimmed_len(s, strlen(s));
        if (!n || *s == '#') continue;
        if (n > 8 && !strncmp(s, "include ", 8)) {
            char *name = strndup(s + 8, n - 8);
            int rc = name ? include_file(out, skip_blanks(name), dir, depth, err, errlen) : -1;
            free(name);
            if (rc < 0) return -1;
            continue;
        }
        if (conf_strv_push(out, s, n) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

int conf_wire_expand(conf_strv *lines, const char *dir, char *err, size_t errlen)
{
    conf_strv out = {0};
    if (expand(&out, lines, dir, 0, err, errlen) < 0) {
        conf_strv_free(&out);
        return -1;
    }
    conf_strv_free(lines);
    *lines = out;
    return 0;
}

/* One logged line with the request it belongs to. */
typedef struct {
    const char *line;
    long request;
    const char *action;
} logged;

static bool matches(const char *want, const char *line)
{
    size_t n = strlen(want);
    if (n >= 3 && !strcmp(want + n - 3, "...")) return !strncmp(line, want, n - 3);
    return !strcmp(want, line);
}

static size_t common_prefix(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    return i;
}

/* The logged line most like want: the same first word, the longest common
 * prefix, searched from pos on (everywhere when nothing there fits). */
static const logged *nearest(const logged *log, size_t n, size_t pos, const char *want)
{
    size_t word = strcspn(want, " ");
    for (int pass = 0; pass < 2; pass++) {
        const logged *best = NULL;
        size_t best_len = 0;
        for (size_t i = pass ? 0 : pos; i < n; i++) {
            if (strncmp(log[i].line, want, word) || log[i].line[word] != want[word]) continue;
            size_t l = common_prefix(log[i].line, want);
            if (!best || l > best_len) {
                best = &log[i];
                best_len = l;
            }
        }
        if (best) return best;
    }
    return NULL;
}

static const char *short_action(const char *a)
{
    const char *slash = a ? strrchr(a, '/') : NULL;
    return slash ? slash + 1 : a ? a : "?";
}

static int flatten(const conf_json *wire, logged **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    for (size_t i = 0; i < conf_json_count(wire); i++) {
        const conf_json *req = conf_json_at(wire, i);
        const conf_json *lines = conf_json_get(req, "lines");
        const conf_json *idx = conf_json_get(req, "request");
        long request = idx && idx->type == CONF_JSON_NUMBER ? (long)idx->u.number : (long)i + 1;
        const char *action = NULL;
        for (size_t j = 0; j < conf_json_count(lines); j++) {
            const char *l = conf_json_str(conf_json_at(lines, j));
            if (!l) continue;
            if (!strncmp(l, "action ", 7) && !action) action = l + 7;
            if (*n == cap) {
                cap = cap ? cap * 2 : 256;
                logged *g = realloc(*out, cap * sizeof *g);
                if (!g) return -1;
                *out = g;
            }
            (*out)[(*n)++] = (logged){l, request, NULL};
        }
        for (size_t j = *n; j > 0 && (*out)[j - 1].request == request && !(*out)[j - 1].action; j--)
            (*out)[j - 1].action = action;
    }
    return 0;
}

static int not_found(conf_strv *reasons, const logged *log, size_t n, size_t pos, const char *want,
                     size_t k)
{
    int rc =
        pos ? conf_strv_pushf(reasons,
                              "[expect-wire] line %zu not sent after request %ld (%s):\n"
                              "  wanted:  %s",
                              k + 1, log[pos - 1].request, short_action(log[pos - 1].action), want)
            : conf_strv_pushf(reasons, "[expect-wire] line %zu not sent:\n  wanted:  %s", k + 1,
                              want);
    const logged *near = nearest(log, n, pos, want);
    if (!rc && near)
        rc = conf_strv_pushf(reasons, "  nearest: request %ld (%s): %s", near->request,
                             short_action(near->action), near->line);
    else if (!rc)
        rc = conf_strv_pushf(reasons, "  nearest: no %.*s line in %zu logged lines",
                             (int)strcspn(want, " "), want, n);
    return rc < 0 ? -1 : 1;
}

int conf_wire_evaluate(const conf_json *report, const conf_strv *want, const conf_vars *vars,
                       conf_strv *reasons)
{
    if (!want->n) return 0;
    const conf_json *wire = conf_json_get(report, "wire");
    if (!wire || wire->type != CONF_JSON_ARRAY)
        return conf_strv_pushf(reasons, "[expect-wire]: the mock's report has no wire log") < 0 ? -1
                                                                                                : 1;
    logged *log;
    size_t n;
    if (flatten(wire, &log, &n) < 0) {
        free(log);
        return -1;
    }
    size_t pos = 0;
    int rc = 0;
    for (size_t k = 0; k < want->n && !rc; k++) {
        char *w = conf_subst(want->v[k], strlen(want->v[k]), vars, NULL);
        if (!w) {
            rc = -1;
            break;
        }
        size_t i = pos;
        while (i < n && !matches(w, log[i].line)) i++;
        if (i < n)
            pos = i + 1;
        else
            rc = not_found(reasons, log, n, pos, w, k);
        free(w);
    }
    free(log);
    return rc;
}
