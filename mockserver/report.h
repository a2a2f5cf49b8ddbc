/* What etsn-mockd saw, written as JSON at shutdown for etsn-conform:
 * {"scenario", "expectations": [{id, description, met, detail}],
 *  "unmatched": [{request, nearest, difference}], "events": [{kind, detail}],
 *  "host_calls": [{id, method, pipeline, ci, answered, met, detail}],
 *  "wire": [{request, repeat, lines}] (wire_log.h), "dropped_wire"}.
 * Not thread-safe: the engine calls it under its own lock. */
#ifndef ETSN_MOCK_REPORT_H
#define ETSN_MOCK_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "../ref/core/buf.h"
#include "wire_log.h"

/* Events beyond this many are counted, not kept (a 10 MB stream must not
 * grow the report without bound). */
#define MOCK_REPORT_MAX_EVENTS 10000
#define MOCK_REPORT_MAX_UNMATCHED 1000

typedef struct {
    char *id;
    char *description;
    bool met;
    char *detail;
} mock_expectation;

typedef struct {
    char *request;
    char *nearest;
    char *difference;
} mock_unmatched;

typedef struct {
    char *kind;
    char *detail;
} mock_event;

/* One host call that needed an answer: sent, answered, and whether the
 * answer was what the fixture expects. */
typedef struct {
    char *id; /* host-response:<id> */
    char *method;
    char *pipeline;
    long long ci;
    bool answered;
    bool met;
    char *detail; /* what arrived */
} mock_host_call;

typedef struct {
    char *scenario;
    mock_expectation *expectations;
    size_t n_expectations;
    mock_unmatched *unmatched;
    size_t n_unmatched;
    size_t dropped_unmatched;
    mock_event *events;
    size_t n_events;
    size_t dropped_events;
    mock_host_call *host_calls;
    size_t n_host_calls;
    mock_wire_log *wire; /* what each request literally carried */
} mock_report;

mock_report *mock_report_new(const char *scenario);
void mock_report_free(mock_report *r);
/* Each copies its strings (NULL is written as ""). Return 0 or -1. */
int mock_report_expectation(mock_report *r, const char *id, const char *description, bool met,
                            const char *detail);
int mock_report_unmatched(mock_report *r, const char *request, const char *nearest,
                          const char *difference);
int mock_report_event(mock_report *r, const char *kind, const char *detail);
/* A host call was sent; returns its index (for mock_report_host_answer) or
 * -1. Kept up to MOCK_REPORT_MAX_UNMATCHED. */
long mock_report_host_call(mock_report *r, const char *id, const char *method, const char *pipeline,
                           long long ci);
int mock_report_host_answer(mock_report *r, long idx, bool met, const char *detail);
/* Number of recorded events of this kind. */
size_t mock_report_count_events(const mock_report *r, const char *kind);

/* Appends a JSON string literal (quotes included) with every character JSON
 * requires escaped; invalid UTF-8 bytes become U+FFFD. */
int mock_json_string(etsn_buf *out, const char *s);
int mock_report_to_json(const mock_report *r, etsn_buf *out);
/* Writes the JSON to path (via a temporary file and rename). 0 or -1. */
int mock_report_write_file(const mock_report *r, const char *path);

#endif
