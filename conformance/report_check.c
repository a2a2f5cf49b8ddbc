#include "report_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "textdiff.h"

/* Unmatched requests listed in full in a failure; the rest are counted. */
#define MAX_LISTED 5
/* Characters of a request or difference shown; SOAP envelopes are long. */
#define MAX_SHOWN 600

static int shape_error(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "report: %s", what);
    return -1;
}

static int check_shape(const conf_json *r, char *err, size_t errlen)
{
    if (!r || r->type != CONF_JSON_OBJECT) return shape_error(err, errlen, "not a JSON object");
    const conf_json *ex = conf_json_get(r, "expectations");
    const conf_json *un = conf_json_get(r, "unmatched");
    const conf_json *ev = conf_json_get(r, "events");
    if (!ex || ex->type != CONF_JSON_ARRAY)
        return shape_error(err, errlen, "\"expectations\" is missing or not an array");
    if (!un || un->type != CONF_JSON_ARRAY)
        return shape_error(err, errlen, "\"unmatched\" is missing or not an array");
    if (ev && ev->type != CONF_JSON_ARRAY)
        return shape_error(err, errlen, "\"events\" is not an array");
    for (size_t i = 0; i < conf_json_count(ex); i++) {
        const conf_json *e = conf_json_at(ex, i);
        if (!conf_json_str(conf_json_get(e, "id")) || !conf_json_is_bool(conf_json_get(e, "met")))
            return shape_error(err, errlen,
                               "an expectation lacks a string \"id\" or a boolean \"met\"");
    }
    for (size_t i = 0; i < conf_json_count(un); i++)
        if (!conf_json_at(un, i) || conf_json_at(un, i)->type != CONF_JSON_OBJECT)
            return shape_error(err, errlen, "an \"unmatched\" entry is not an object");
    for (size_t i = 0; i < conf_json_count(ev); i++)
        if (!conf_json_str(conf_json_get(conf_json_at(ev, i), "kind")))
            return shape_error(err, errlen, "an event lacks a string \"kind\"");
    return 0;
}

conf_json *conf_report_parse(const char *text, size_t len, char *err, size_t errlen)
{
    char jerr[200];
    conf_json *r = conf_json_parse(text, len, jerr, sizeof jerr);
    if (!r) {
        snprintf(err, errlen, "report is not valid JSON: %s", jerr);
        return NULL;
    }
    if (check_shape(r, err, errlen) < 0) {
        conf_json_free(r);
        return NULL;
    }
    return r;
}

conf_json *conf_report_load(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "no report from the mock (%s: %s)", path, strerror(errno));
        return NULL;
    }
    etsn_buf b = ETSN_BUF_INIT;
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (b.len + (size_t)n > CONF_MAX_REPORT) {
            close(fd);
            etsn_buf_free(&b);
            snprintf(err, errlen, "report larger than %u bytes", CONF_MAX_REPORT);
            return NULL;
        }
        if (etsn_buf_append(&b, chunk, (size_t)n) < 0) break;
    }
    close(fd);
    conf_json *r = conf_report_parse(b.data ? (const char *)b.data : "", b.len, err, errlen);
    etsn_buf_free(&b);
    return r;
}

static int push_buf(conf_strv *reasons, etsn_buf *b)
{
    int rc = conf_strv_push(reasons, b->data ? (const char *)b->data : "", b->len);
    etsn_buf_free(b);
    return rc;
}

/* Appends a report string rendered safely and cut to MAX_SHOWN bytes. */
static int put_field(etsn_buf *b, const conf_json *v)
{
    const char *s = conf_json_str(v);
    if (!s) return etsn_buf_append_str(b, "(none)");
    size_t len = v->u.str.len;
    bool cut = len > MAX_SHOWN;
    if (cut) len = MAX_SHOWN;
    if (conf_render(b, s, len, false) < 0) return -1;
    return cut ? etsn_buf_append_str(b, " ...") : 0;
}

static int unmet_reason(conf_strv *reasons, const conf_json *e)
{
    etsn_buf b = ETSN_BUF_INIT;
    if (etsn_buf_append_str(&b, "mock expectation not met: ") < 0 ||
        put_field(&b, conf_json_get(e, "id")) < 0)
        goto oom;
    const conf_json *d = conf_json_get(e, "description");
    if (conf_json_str(d) && (etsn_buf_append_str(&b, " (") < 0 || put_field(&b, d) < 0 ||
                             etsn_buf_append_str(&b, ")") < 0))
        goto oom;
    const conf_json *det = conf_json_get(e, "detail");
    if (conf_json_str(det) && *conf_json_str(det) &&
        (etsn_buf_append_str(&b, "\n  detail: ") < 0 || put_field(&b, det) < 0))
        goto oom;
    return push_buf(reasons, &b);
oom:
    etsn_buf_free(&b);
    return -1;
}

static const conf_json *find_expectation(const conf_json *r, const char *id)
{
    const conf_json *ex = conf_json_get(r, "expectations");
    for (size_t i = 0; i < conf_json_count(ex); i++) {
        const conf_json *e = conf_json_at(ex, i);
        const char *eid = conf_json_str(conf_json_get(e, "id"));
        if (eid && strcmp(eid, id) == 0) return e;
    }
    return NULL;
}

static bool has_event(const conf_json *r, const char *kind)
{
    const conf_json *ev = conf_json_get(r, "events");
    for (size_t i = 0; i < conf_json_count(ev); i++) {
        const char *k = conf_json_str(conf_json_get(conf_json_at(ev, i), "kind"));
        if (k && strcmp(k, kind) == 0) return true;
    }
    return false;
}

static int unmatched_reason(conf_strv *reasons, const conf_json *un, long want)
{
    etsn_buf b = ETSN_BUF_INIT;
    size_t n = conf_json_count(un);
    if (etsn_buf_printf(&b, "%zu unmatched request%s at the mock, expected %ld", n,
                        n == 1 ? "" : "s", want) < 0)
        goto oom;
    for (size_t i = 0; i < n && i < MAX_LISTED; i++) {
        const conf_json *u = conf_json_at(un, i);
        if (etsn_buf_printf(&b, "\n  #%zu request: ", i + 1) < 0 ||
            put_field(&b, conf_json_get(u, "request")) < 0 ||
            etsn_buf_append_str(&b, "\n     nearest: ") < 0 ||
            put_field(&b, conf_json_get(u, "nearest")) < 0 ||
            etsn_buf_append_str(&b, "\n     difference: ") < 0 ||
            put_field(&b, conf_json_get(u, "difference")) < 0)
            goto oom;
    }
    if (n > MAX_LISTED && etsn_buf_printf(&b, "\n  ... and %zu more", n - MAX_LISTED) < 0) goto oom;
    return push_buf(reasons, &b);
oom:
    etsn_buf_free(&b);
    return -1;
}

static int reasonf(conf_strv *reasons, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reasonf(conf_strv *reasons, const char *fmt, ...)
{
    etsn_buf b = ETSN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = etsn_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        etsn_buf_free(&b);
        return -1;
    }
    return push_buf(reasons, &b);
}

int conf_report_evaluate(const conf_json *r, const conf_case *c, conf_strv *reasons)
{
    /* Without [expect-report] the fixture is the specification: all of its
     * expectations must hold and the client must send nothing it lacks. */
    static const conf_report_check defaults[] = {{CONF_REPORT_ALL_MET, NULL, 0},
                                                 {CONF_REPORT_UNMATCHED, NULL, 0}};
    const conf_report_check *checks = c->has_report_section ? c->report : defaults;
    size_t n = c->has_report_section ? c->nreport : 2;
    const conf_json *ex = conf_json_get(r, "expectations");
    const conf_json *un = conf_json_get(r, "unmatched");
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        const conf_report_check *k = &checks[i];
        const conf_json *e;
        int rc = 0;
        switch (k->kind) {
        case CONF_REPORT_ALL_MET:
            for (size_t j = 0; j < conf_json_count(ex) && rc == 0; j++) {
                e = conf_json_at(ex, j);
                if (!conf_json_get(e, "met")->u.boolean) {
                    rc = unmet_reason(reasons, e);
                    failed++;
                }
            }
            break;
        case CONF_REPORT_MET:
            e = find_expectation(r, k->arg);
            if (!e) {
                failed++;
                rc = reasonf(reasons, "the report has no expectation \"%s\" (met: %s)", k->arg,
                             k->arg);
            } else if (!conf_json_get(e, "met")->u.boolean) {
                failed++;
                rc = unmet_reason(reasons, e);
            }
            break;
        case CONF_REPORT_UNMET:
            e = find_expectation(r, k->arg);
            if (!e) {
                failed++;
                rc = reasonf(reasons, "the report has no expectation \"%s\" (unmet: %s)", k->arg,
                             k->arg);
            } else if (conf_json_get(e, "met")->u.boolean) {
                failed++;
                rc = reasonf(reasons, "mock expectation \"%s\" was met; the case wants it unmet",
                             k->arg);
            }
            break;
        case CONF_REPORT_UNMATCHED:
            if (conf_json_count(un) != (size_t)k->count) {
                failed++;
                rc = unmatched_reason(reasons, un, k->count);
            }
            break;
        case CONF_REPORT_EVENT:
            if (!has_event(r, k->arg)) {
                failed++;
                rc = reasonf(reasons, "the mock recorded no \"%s\" event", k->arg);
            }
            break;
        case CONF_REPORT_NO_EVENT:
            if (has_event(r, k->arg)) {
                failed++;
                rc = reasonf(reasons, "the mock recorded a \"%s\" event; the case forbids it",
                             k->arg);
            }
            break;
        }
        if (rc < 0) return -1;
    }
    return failed;
}
