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

/* One logged request. */
typedef struct {
    long request;
    const char *action; /* its action URI, NULL when it had none */
    const char **lines;
    size_t n;
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

static const char *short_action(const char *a)
{
    const char *slash = a ? strrchr(a, '/') : NULL;
    return slash ? slash + 1 : a ? a : "no action";
}

static void free_log(logged *log, size_t n)
{
    for (size_t i = 0; log && i < n; i++) free(log[i].lines);
    free(log);
}

static int read_log(const conf_json *wire, logged **out, size_t *n)
{
    *n = conf_json_count(wire);
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) return -1;
    for (size_t i = 0; i < *n; i++) {
        const conf_json *req = conf_json_at(wire, i);
        const conf_json *lines = conf_json_get(req, "lines");
        const conf_json *idx = conf_json_get(req, "request");
        logged *r = &(*out)[i];
        r->request = idx && idx->type == CONF_JSON_NUMBER ? (long)idx->u.number : (long)i + 1;
        r->lines = calloc(conf_json_count(lines) + 1, sizeof *r->lines);
        if (!r->lines) return -1;
        for (size_t j = 0; j < conf_json_count(lines); j++) {
            const char *l = conf_json_str(conf_json_at(lines, j));
            if (!l) continue;
            if (!strncmp(l, "action ", 7) && !r->action) r->action = l + 7;
            r->lines[r->n++] = l;
        }
    }
    return 0;
}

/* How many of want[0..n) the request holds in this order. */
static size_t match_in(const logged *r, char *const *want, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n && k < n; i++)
        if (matches(want[k], r->lines[i])) k++;
    return k;
}

/* The line of log[from..n) most like want: the same first word, the longest
 * common prefix. */
static const char *nearest(const logged *log, size_t from, size_t n, const char *want,
                           const logged **in)
{
    size_t word = strcspn(want, " "), best_len = 0;
    const char *best = NULL;
    for (size_t i = from; i < n; i++)
        for (size_t j = 0; j < log[i].n; j++) {
            const char *l = log[i].lines[j];
            if (strncmp(l, want, word) || l[word] != want[word]) continue;
            size_t c = common_prefix(l, want);
            if (!best || c > best_len) {
                best = l;
                best_len = c;
                *in = &log[i];
            }
        }
    return best;
}

static int explain(conf_strv *reasons, const logged *log, size_t n, size_t from, const logged *best,
                   char *const *group, size_t k, size_t item)
{
    int rc;
    const char *want = group[k];
    if (!k)
        rc = from
                 ? conf_strv_pushf(
                       reasons, "[expect-wire] item %zu not sent after request %ld (%s):", item + 1,
                       log[from - 1].request, short_action(log[from - 1].action))
                 : conf_strv_pushf(reasons, "[expect-wire] item %zu not sent:", item + 1);
    else
        rc = conf_strv_pushf(reasons,
                             "[expect-wire] item %zu: request %ld (%s) holds items %zu..%zu "
                             "before it, but not this one:",
                             item + k + 1, best->request, short_action(best->action), item + 1,
                             item + k);
    if (!rc) rc = conf_strv_pushf(reasons, "  wanted:  %s", want);
    const logged *in = NULL;
    const char *near = k ? nearest(best, 0, 1, want, &in) : nearest(log, from, n, want, &in);
    if (!rc && !near && !k) near = nearest(log, 0, n, want, &in);
    if (!rc && near)
        rc = conf_strv_pushf(reasons, "  nearest: request %ld (%s): %s", in->request,
                             short_action(in->action), near);
    else if (!rc)
        rc = conf_strv_pushf(reasons, "  nearest: no \"%.*s\" line %s", (int)strcspn(want, " "),
                             want, k ? "in that request" : "anywhere");
    return rc < 0 ? -1 : 1;
}

/* Matches want[0..n) group by group: a group is an action line and the lines
 * up to the next one, and must be found in one request, after the request
 * of the group before. */
static int match_groups(const logged *log, size_t n, char *const *want, size_t nwant,
                        conf_strv *reasons)
{
    size_t from = 0;
    for (size_t a = 0; a < nwant;) {
        size_t b = a + 1;
        while (b < nwant && strncmp(want[b], "action ", 7)) b++;
        const logged *best = NULL;
        size_t best_k = 0, found = n;
        for (size_t i = from; i < n && found == n; i++) {
            size_t k = match_in(&log[i], want + a, b - a);
            if (k == b - a)
                found = i;
            else if (k > best_k) {
                best_k = k;
                best = &log[i];
            }
        }
        if (found == n) return explain(reasons, log, n, from, best, want + a, best_k, a);
        from = found + 1;
        a = b;
    }
    return 0;
}

int conf_wire_evaluate(const conf_json *report, const conf_strv *want, const conf_vars *vars,
                       conf_strv *reasons)
{
    if (!want->n) return 0;
    const conf_json *wire = conf_json_get(report, "wire");
    if (!wire || wire->type != CONF_JSON_ARRAY)
        return conf_strv_pushf(reasons, "[expect-wire]: the mock's report has no wire log") < 0 ? -1
                                                                                                : 1;
    logged *log = NULL;
    size_t n = 0;
    conf_strv w = {0};
    int rc = read_log(wire, &log, &n);
    for (size_t k = 0; k < want->n && !rc; k++) {
        char *s = conf_subst(want->v[k], strlen(want->v[k]), vars, NULL);
        rc = s ? conf_strv_push(&w, s, strlen(s)) : -1;
        free(s);
    }
    if (!rc) rc = match_groups(log, n, w.v, w.n, reasons);
    conf_strv_free(&w);
    free_log(log, n);
    return rc;
}
