#include "report.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dup0(const char *s)
{
    return strdup(s ? s : "");
}

mock_report *mock_report_new(const char *scenario)
{
    mock_report *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (!(r->scenario = dup0(scenario)) || !(r->wire = mock_wire_log_new())) {
        free(r->scenario);
        free(r);
        return NULL;
    }
    return r;
}

void mock_report_free(mock_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_expectations; i++) {
        free(r->expectations[i].id);
        free(r->expectations[i].description);
        free(r->expectations[i].detail);
    }
    free(r->expectations);
    for (size_t i = 0; i < r->n_unmatched; i++) {
        free(r->unmatched[i].request);
        free(r->unmatched[i].nearest);
        free(r->unmatched[i].difference);
    }
    free(r->unmatched);
    for (size_t i = 0; i < r->n_events; i++) {
        free(r->events[i].kind);
        free(r->events[i].detail);
    }
    free(r->events);
    for (size_t i = 0; i < r->n_host_calls; i++) {
        free(r->host_calls[i].id);
        free(r->host_calls[i].method);
        free(r->host_calls[i].pipeline);
        free(r->host_calls[i].detail);
    }
    free(r->host_calls);
    mock_wire_log_free(r->wire);
    free(r->scenario);
    free(r);
}

int mock_report_expectation(mock_report *r, const char *id, const char *description, bool met,
                            const char *detail)
{
    mock_expectation *e = realloc(r->expectations, (r->n_expectations + 1) * sizeof *e);
    if (!e) return -1;
    r->expectations = e;
    e = &e[r->n_expectations];
    e->id = dup0(id);
    e->description = dup0(description);
    e->detail = dup0(detail);
    e->met = met;
    if (!e->id || !e->description || !e->detail) {
        free(e->id);
        free(e->description);
        free(e->detail);
        return -1;
    }
    r->n_expectations++;
    return 0;
}

int mock_report_unmatched(mock_report *r, const char *request, const char *nearest,
                          const char *difference)
{
    if (r->n_unmatched >= MOCK_REPORT_MAX_UNMATCHED) {
        r->dropped_unmatched++;
        return 0;
    }
    mock_unmatched *u = realloc(r->unmatched, (r->n_unmatched + 1) * sizeof *u);
    if (!u) return -1;
    r->unmatched = u;
    u = &u[r->n_unmatched];
    u->request = dup0(request);
    u->nearest = dup0(nearest);
    u->difference = dup0(difference);
    if (!u->request || !u->nearest || !u->difference) {
        free(u->request);
        free(u->nearest);
        free(u->difference);
        return -1;
    }
    r->n_unmatched++;
    return 0;
}

int mock_report_event(mock_report *r, const char *kind, const char *detail)
{
    if (r->n_events >= MOCK_REPORT_MAX_EVENTS) {
        r->dropped_events++;
        return 0;
    }
    mock_event *e = realloc(r->events, (r->n_events + 1) * sizeof *e);
    if (!e) return -1;
    r->events = e;
    e = &e[r->n_events];
    e->kind = dup0(kind);
    e->detail = dup0(detail);
    if (!e->kind || !e->detail) {
        free(e->kind);
        free(e->detail);
        return -1;
    }
    r->n_events++;
    return 0;
}

long mock_report_host_call(mock_report *r, const char *id, const char *method, const char *pipeline,
                           long long ci)
{
    if (r->n_host_calls >= MOCK_REPORT_MAX_UNMATCHED) return -1;
    mock_host_call *h = realloc(r->host_calls, (r->n_host_calls + 1) * sizeof *h);
    if (!h) return -1;
    r->host_calls = h;
    h = &h[r->n_host_calls];
    h->id = dup0(id);
    h->method = dup0(method);
    h->pipeline = dup0(pipeline);
    h->detail = dup0("sent; no answer arrived");
    h->ci = ci;
    h->answered = false;
    h->met = false;
    if (!h->id || !h->method || !h->pipeline || !h->detail) {
        free(h->id);
        free(h->method);
        free(h->pipeline);
        free(h->detail);
        return -1;
    }
    return (long)r->n_host_calls++;
}

int mock_report_host_answer(mock_report *r, long idx, bool met, const char *detail)
{
    if (idx < 0 || (size_t)idx >= r->n_host_calls) return -1;
    mock_host_call *h = &r->host_calls[idx];
    char *d = dup0(detail);
    if (!d) return -1;
    free(h->detail);
    h->detail = d;
    h->answered = true;
    h->met = met;
    return 0;
}

size_t mock_report_count_events(const mock_report *r, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_events; i++)
        if (!strcmp(r->events[i].kind, kind)) n++;
    return n;
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int mock_json_string(etsn_buf *out, const char *s)
{
    int rc = etsn_buf_append_byte(out, '"');
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p && !rc) {
        unsigned char c = *p;
        switch (c) {
        case '"':
            rc = etsn_buf_append_str(out, "\\\"");
            p++;
            continue;
        case '\\':
            rc = etsn_buf_append_str(out, "\\\\");
            p++;
            continue;
        case '\n':
            rc = etsn_buf_append_str(out, "\\n");
            p++;
            continue;
        case '\r':
            rc = etsn_buf_append_str(out, "\\r");
            p++;
            continue;
        case '\t':
            rc = etsn_buf_append_str(out, "\\t");
            p++;
            continue;
        default:
            break;
        }
        if (c < 0x20 || c == 0x7F) {
            rc = etsn_buf_printf(out, "\\u%04x", c);
            p++;
            continue;
        }
        size_t n = utf8_len(p);
        if (!n) {
            rc = etsn_buf_append_str(out, "\\ufffd");
            p++;
            continue;
        }
        rc = etsn_buf_append(out, p, n);
        p += n;
    }
    if (!rc) rc = etsn_buf_append_byte(out, '"');
    return rc;
}

int mock_report_to_json(const mock_report *r, etsn_buf *out)
{
    int rc = etsn_buf_append_str(out, "{\n  \"scenario\": ");
    rc |= mock_json_string(out, r->scenario);
    rc |= etsn_buf_append_str(out, ",\n  \"expectations\": [");
    for (size_t i = 0; i < r->n_expectations; i++) {
        const mock_expectation *e = &r->expectations[i];
        rc |= etsn_buf_append_str(out, i ? ",\n    {\"id\": " : "\n    {\"id\": ");
        rc |= mock_json_string(out, e->id);
        rc |= etsn_buf_append_str(out, ", \"description\": ");
        rc |= mock_json_string(out, e->description);
        rc |= etsn_buf_printf(out, ", \"met\": %s, \"detail\": ", e->met ? "true" : "false");
        rc |= mock_json_string(out, e->detail);
        rc |= etsn_buf_append_str(out, "}");
    }
    rc |= etsn_buf_append_str(out, r->n_expectations ? "\n  ],\n  \"unmatched\": ["
                                                     : "],\n  \"unmatched\": [");
    for (size_t i = 0; i < r->n_unmatched; i++) {
        const mock_unmatched *u = &r->unmatched[i];
        rc |= etsn_buf_append_str(out, i ? ",\n    {\"request\": " : "\n    {\"request\": ");
        rc |= mock_json_string(out, u->request);
        rc |= etsn_buf_append_str(out, ", \"nearest\": ");
        rc |= mock_json_string(out, u->nearest);
        rc |= etsn_buf_append_str(out, ", \"difference\": ");
        rc |= mock_json_string(out, u->difference);
        rc |= etsn_buf_append_str(out, "}");
    }
    rc |= etsn_buf_append_str(out,
                              r->n_unmatched ? "\n  ],\n  \"events\": [" : "],\n  \"events\": [");
    for (size_t i = 0; i < r->n_events; i++) {
        const mock_event *e = &r->events[i];
        rc |= etsn_buf_append_str(out, i ? ",\n    {\"kind\": " : "\n    {\"kind\": ");
        rc |= mock_json_string(out, e->kind);
        rc |= etsn_buf_append_str(out, ", \"detail\": ");
        rc |= mock_json_string(out, e->detail);
        rc |= etsn_buf_append_str(out, "}");
    }
    rc |= etsn_buf_append_str(out, r->n_events ? "\n  ],\n  \"host_calls\": ["
                                               : "],\n  \"host_calls\": [");
    for (size_t i = 0; i < r->n_host_calls; i++) {
        const mock_host_call *h = &r->host_calls[i];
        rc |= etsn_buf_append_str(out, i ? ",\n    {\"id\": " : "\n    {\"id\": ");
        rc |= mock_json_string(out, h->id);
        rc |= etsn_buf_append_str(out, ", \"method\": ");
        rc |= mock_json_string(out, h->method);
        rc |= etsn_buf_append_str(out, ", \"pipeline\": ");
        rc |= mock_json_string(out, h->pipeline);
        rc |= etsn_buf_printf(out,
                              ", \"ci\": %lld, \"answered\": %s, \"met\": %s, \"detail\": ", h->ci,
                              h->answered ? "true" : "false", h->met ? "true" : "false");
        rc |= mock_json_string(out, h->detail);
        rc |= etsn_buf_append_str(out, "}");
    }
    rc |= etsn_buf_append_str(out, r->n_host_calls ? "\n  ],\n  \"wire\": " : "],\n  \"wire\": ");
    rc |= mock_wire_log_json(r->wire, out);
    rc |= etsn_buf_printf(out,
                          ",\n  \"dropped_events\": %zu,\n  \"dropped_unmatched\": %zu,\n"
                          "  \"dropped_wire\": %zu\n}\n",
                          r->dropped_events, r->dropped_unmatched, mock_wire_log_dropped(r->wire));
    return rc ? -1 : 0;
}

int mock_report_write_file(const mock_report *r, const char *path)
{
    etsn_buf b = ETSN_BUF_INIT;
    if (mock_report_to_json(r, &b) < 0) {
        etsn_buf_free(&b);
        return -1;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        etsn_buf_free(&b);
        return -1;
    }
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f) {
        rc = fwrite(b.data, 1, b.len, f) == b.len ? 0 : -1;
        if (fclose(f) != 0) rc = -1;
        if (rc == 0 && rename(tmp, path) != 0) rc = -1;
        if (rc != 0) unlink(tmp);
    }
    free(tmp);
    etsn_buf_free(&b);
    return rc;
}
