/* etsn-mockd's server engine: the WS-Man shell lifecycle (Create, Command,
 * Send, Receive, Signal, Delete) and a PSRP server that replays a fixture to
 * any conforming client. Keyed by protocol events, not request order: ids the
 * client chose (MessageID, ShellId = RPID, CommandId = PID) are learned and
 * echoed, fragments are sized to each request's MaxEnvelopeSize, a Receive
 * with nothing to say waits up to the client's OperationTimeout.
 *
 * mock_engine_handle matches mock_http_config.handle and may be called from
 * several threads at once; it blocks for long-poll Receives. */
#ifndef ETSN_MOCK_ENGINE_H
#define ETSN_MOCK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../ref/core/buf.h"
#include "fixture.h"
#include "report.h"

/* Used when a request carries no MaxEnvelopeSize / OperationTimeout. */
#define MOCK_DEFAULT_ENVELOPE 153600u
#define MOCK_DEFAULT_TIMEOUT_MS 60000u
/* Smallest MaxEnvelopeSize the engine will fill (WinRM's minimum is 8192). */
#define MOCK_MIN_ENVELOPE 4096u

/* WinRM fault codes the engine sends. */
#define MOCK_FAULT_TIMED_OUT 2150858793u         /* w:TimedOut */
#define MOCK_FAULT_INVALID_SELECTORS 2150858843u /* w:InvalidSelectors */
#define MOCK_FAULT_ACTION_NOT_SUPPORTED 2150858782u
#define MOCK_FAULT_INVALID_RESOURCE_URI 2150858811u /* 0x8033803B */
#define MOCK_FAULT_SCHEMA_VALIDATION 2150858817u

typedef struct mock_engine mock_engine;

/* The fixture must outlive the engine. */
mock_engine *mock_engine_new(const mock_fixture *fx);
void mock_engine_free(mock_engine *e);

/* One decrypted SOAP request; fills reply and returns the HTTP status (200,
 * or 500 with a WS-Man fault). ctx is the engine. */
int mock_engine_handle(void *ctx, uint64_t conn_id, const char *user, const uint8_t *soap,
                       size_t len, etsn_buf *reply);
/* Something the HTTP layer saw (auth-failed, unencrypted-refused, ...); kept
 * in the report. Kinds "request-sealed", "request-plain" and "request-tls"
 * are counted (one per request) for the "encrypted" expectation. */
void mock_engine_event(void *ctx, const char *kind, const char *detail);

/* Wakes every waiting Receive (they answer with the timeout fault) and makes
 * later requests fail fast. Call before stopping the HTTP layer. */
void mock_engine_shutdown(mock_engine *e);

/* Evaluates the fixture's expectations and renders the report as JSON.
 * May be called more than once. */
int mock_engine_report_json(mock_engine *e, etsn_buf *out);
int mock_engine_write_report(mock_engine *e, const char *path);

/* Most bytes of PSRP messages the engine held queued at once (across all
 * shells and pipelines): stays small however long a <repeat> runs. */
size_t mock_engine_high_water(mock_engine *e);
/* Requests that fitted nowhere so far. */
size_t mock_engine_unmatched_count(mock_engine *e);
/* Whether an expectation id (as in <expect id=...>) is met right now; detail
 * (may be NULL) receives an explanation. */
bool mock_engine_expectation_met(mock_engine *e, const char *id, char *detail, size_t detail_len);

/* The text a pipeline is matched by (docs/fixtures.md, <pipeline command=>)
 * from a CREATE_PIPELINE body: appended to out. Returns -1 without commands. */
int mock_engine_pipeline_text(const etsn_value *create_pipeline, etsn_buf *out);

#endif
