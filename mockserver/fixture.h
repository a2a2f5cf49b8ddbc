/* etsn-mockd scenario fixtures (docs/fixtures.md): an XML file describing a
 * server (computer name, protocol, configuration), its test users, and what
 * each pipeline the client may run sends back, as readable CLIXML. Loaded
 * once; read-only afterwards, so several threads may share it. */
#ifndef ETSN_MOCK_FIXTURE_H
#define ETSN_MOCK_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../ref/core/clixml.h"

/* Deepest nesting of <repeat> elements. */
#define FX_MAX_DEPTH 8

typedef enum {
    FX_HOST_CALL,    /* <host-call method=".."> */
    FX_OUTPUT,       /* <output> one PIPELINE_OUTPUT per child value */
    FX_ERROR_LINE,   /* <error-line> */
    FX_ERROR_RECORD, /* <error-record> */
    FX_MESSAGE,      /* <message type="WARNING_RECORD"> any PSRP message */
    FX_WAIT_SIGNAL,  /* <wait-signal/>: runs until the client sends Ctrl+C */
    FX_REPEAT,       /* <repeat count="N"> */
    FX_STATE,        /* <state>Completed</state>: ends the pipeline */
} fx_kind;

typedef struct {
    char *message;
    char *exception_type;
    char *fqid;
    char *category_name;
    int category;
    char *activity;
    char *reason;
    char *target_name;
    char *target_type;
    char *position; /* InvocationInfo.PositionMessage-like text, may be NULL */
    char **lines;   /* rendering for clients that merge errors into Out-Default */
    size_t n_lines;
} fx_error;

typedef struct fx_step fx_step;
struct fx_step {
    fx_kind kind;
    int line; /* line in the fixture file */

    /* FX_HOST_CALL */
    int method_id;
    bool wants_answer; /* non-void method: ci >= 0 and the pipeline waits */
    char *id;          /* symbolic id for the expectation host-response:<id> */
    char *expect;      /* expected answer, compared with the response's text */
    bool expect_error; /* expect="error": the client answers with an exception */

    /* FX_HOST_CALL (mp items), FX_OUTPUT (one message each), FX_MESSAGE (body) */
    etsn_value **values;
    size_t n_values;

    /* FX_ERROR_LINE */
    char *text;
    /* FX_ERROR_RECORD, and FX_STATE Failed when has_error */
    fx_error error;
    bool has_error;

    /* FX_MESSAGE */
    uint32_t message_type;

    /* FX_REPEAT */
    uint64_t count;
    fx_step *children;
    size_t n_children;

    /* FX_STATE: PSInvocationState (4 Completed, 5 Failed, 3 Stopped) */
    int state;
};

typedef struct {
    char *command; /* matched trimmed, case-insensitive */
    char *description;
    int line;
    fx_step *steps;
    size_t n_steps;
} fx_pipeline;

typedef struct {
    char *id;
    char *description;
    int line;
} fx_expect;

typedef struct {
    char *domain; /* may be "" */
    char *name;
    char *password; /* zeroed by mock_fixture_free */
} fx_user;

typedef struct {
    char *name;
    char *description;
    char *computer;     /* default SERVER01 */
    char *protocol;     /* default 2.3 */
    char *ps_version;   /* default 5.1.17763.592 */
    char *path;         /* default /wsman */
    char *location;     /* default C:\Users\<first user>\Documents */
    char *resource_uri; /* NULL: any http://schemas.microsoft.com/powershell/ URI */
    char *edition;      /* PSEdition: Desktop (protocol 2.3) or Core */
    char **missing_commands;
    size_t n_missing;
    char **extra_commands;
    size_t n_extra;
    fx_user *users;
    size_t n_users;
    bool negotiate;
    bool basic;
    bool require_encryption;
    fx_pipeline *pipelines;
    size_t n_pipelines;
    fx_expect *expects;
    size_t n_expects;
} mock_fixture;

/* Loads a fixture. On failure returns NULL and writes "FILE:LINE: reason". */
mock_fixture *mock_fixture_load(const char *path, char *err, size_t errlen);
mock_fixture *mock_fixture_load_memory(const char *xml, size_t len, const char *name, char *err,
                                       size_t errlen);
void mock_fixture_free(mock_fixture *fx);
/* Frees an array of steps (also steps the engine builds for built-ins). */
void fx_steps_free(fx_step *steps, size_t n);

/* The fixture pipeline whose command equals text (both trimmed, case
 * insensitive), or NULL. */
const fx_pipeline *mock_fixture_find_pipeline(const mock_fixture *fx, const char *text);
/* True when the server offers the command (GET_COMMAND_METADATA). */
bool mock_fixture_has_command(const mock_fixture *fx, const char *name);

/* Walks a pipeline's steps lazily: a <repeat count="1000000"> is never
 * expanded in memory. */
typedef struct {
    const fx_step *list;
    size_t n;
    size_t idx;
    uint64_t iter;
    uint64_t count;
} fx_frame;

typedef struct {
    fx_frame st[FX_MAX_DEPTH + 1];
    int depth;
} fx_cursor;

void fx_cursor_init(fx_cursor *c, const fx_step *steps, size_t n);
/* The next leaf step (never FX_REPEAT), or NULL at the end. *n is the
 * 1-based iteration of the innermost enclosing repeat, 0 outside any. */
const fx_step *fx_cursor_next(fx_cursor *c, uint64_t *n);

/* Replaces every "{n}" in s with the number; appends to out. */
int fx_substitute(const char *s, size_t len, uint64_t n, etsn_buf *out);

/* ErrorCategory number for a name (ObjectNotFound -> 13), -1 if unknown. */
int fx_error_category(const char *name);

/* Adds an expectation the report must evaluate (etsn-mockd --expect). */
int mock_fixture_add_expect(mock_fixture *fx, const char *id, const char *description);

#endif
