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
    FX_SLEEP,        /* <sleep ms="..."/>: nothing for a while */
    FX_PROGRESS,     /* <progress activity=.. />: PROGRESS_RECORD or WriteProgress */
    FX_STREAM,       /* <warning>, <verbose>, <debug>, <information> */
    FX_INCOMPLETE,   /* <incomplete-input/>: Failed with IncompleteParseException */
    FX_BREAK,        /* <break-session/>: the pool breaks or the shell vanishes */
    FX_KEY_REQUEST,  /* <public-key-request/>: PUBLIC_KEY_REQUEST on the pool */
    FX_INPUT,        /* <input/>: the client's PIPELINE_INPUT objects as output ($input) */
    FX_SECURE,       /* <secure-string>: a SecureString output, key exchange first (2.3) */
} fx_kind;

/* How a record reaches the client: as its PSRP message, as the host call
 * a server's host would make (WriteWarningLine, WriteProgress, ...), or both
 * (the message, then the host call: what a server whose client has a host
 * sends for $host.UI.WriteWarningLine and the like, pypsrp's recording
 * test_psrp_pshost_ui_mocked_methods). */
typedef enum { FX_VIA_MESSAGE, FX_VIA_HOST_CALL, FX_VIA_BOTH } fx_via;

/* What a host call's answer must hold, compared by meaning. */
typedef struct {
    char *name;   /* Prompt: the field name (a key of the answer's dictionary) */
    char *text;   /* expected value as text; NULL when items are given */
    char **items; /* expected list (String[] fields) */
    size_t n_items;
    bool is_list;
} fx_expect_field;

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
    bool wants_answer;       /* non-void method: ci >= 0 and the pipeline waits */
    char *id;                /* symbolic id for the expectation host-response:<id> */
    char *expect;            /* expected answer, compared with the response's text */
    bool expect_error;       /* expect="error": the client answers with an exception */
    fx_expect_field *fields; /* <expect-field>: Prompt answers */
    size_t n_fields;
    char *expect_user; /* <expect-credential user= password=> */
    char *expect_password;

    /* FX_HOST_CALL (mp items), FX_OUTPUT (one message each), FX_MESSAGE (body) */
    etsn_value **values;
    size_t n_values;

    /* FX_OUTPUT: <line>s, how Out-Default shows the values on a console */
    char **lines;
    size_t n_lines;

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

    /* FX_SLEEP */
    uint32_t ms;
    /* FX_PROGRESS (values[0] is the ProgressRecord), FX_STREAM */
    fx_via via;
    int64_t source_id;
    /* FX_STREAM: WARNING_RECORD, VERBOSE_RECORD, DEBUG_RECORD or
     * INFORMATION_RECORD; the text is in text */
    uint32_t stream;
    char *source; /* INFORMATION_RECORD Source */
    char **tags;
    size_t n_tags;
    /* FX_BREAK: true = the shell vanishes (every later request faults) */
    bool vanish;
};

typedef struct {
    char *command; /* matched trimmed, case-insensitive */
    unsigned run;  /* <pipeline run="N">: only the Nth run of the command; 0: every run */
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

/* <completion input="Get-Ch" cursor="6"><match>Get-ChildItem</match>...:
 * what TabExpansion2 returns for that input. */
typedef struct {
    char *text;      /* CompletionText */
    char *list_item; /* ListItemText (default: the text) */
    char *tooltip;   /* ToolTip (default: the text) */
    int type;        /* CompletionResultType number */
    char *type_name;
} fx_match;

typedef struct {
    char *input;
    int cursor;             /* -1: the end of input */
    int replacement_index;  /* -1: start of the word before the cursor */
    int replacement_length; /* -1: that word's length */
    fx_match *matches;
    size_t n_matches;
    int line;
} fx_completion;

/* <reply action="URI" status= relates-to= shell-id=>ENVELOPE</reply>: a
 * recorded answer to a request the engine does not model (WS-Transfer Get,
 * ...), given once, in file order, to the next such request (replay.c). */
typedef struct {
    char *action;
    int status;       /* HTTP status as recorded */
    char *relates_to; /* the recorded request's MessageID, replaced by the live one */
    char *shell_id;   /* the recorded ShellId, replaced by the live one (may be NULL) */
    char *envelope;   /* the recorded response, "" for none */
    int line;
} fx_reply;

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
    uint32_t busy_ms;         /* <server busy-ms=>: the pool is busy this long after it opens */
    uint32_t create_delay_ms; /* <server create-delay-ms=>: Create is answered this much later */
    bool request_public_key;  /* <server public-key-request="true">: asks for the key on open */
    bool strict_commands; /* <scenario strict-commands="true">: unknown commands are unmatched */
    uint32_t max_envelope_kb; /* <server max-envelope-kb=>: winrm/config MaxEnvelopeSizekb (500) */
    bool no_language;         /* <server language-mode="NoLanguage">: a JEA endpoint */
    fx_completion *completions;
    size_t n_completions;
    fx_pipeline *pipelines;
    size_t n_pipelines;
    fx_expect *expects;
    size_t n_expects;
    struct mock_winrs_fixture *winrs; /* <winrs-command> elements (mockserver/winrs.h), or NULL */
    fx_reply *replies;
    size_t n_replies;
} mock_fixture;

/* Loads a fixture. On failure returns NULL and writes "FILE:LINE: reason". */
mock_fixture *mock_fixture_load(const char *path, char *err, size_t errlen);
mock_fixture *mock_fixture_load_memory(const char *xml, size_t len, const char *name, char *err,
                                       size_t errlen);
void mock_fixture_free(mock_fixture *fx);
/* Frees an array of steps (also steps the engine builds for built-ins). */
void fx_steps_free(fx_step *steps, size_t n);

/* The fixture pipeline whose command equals text, or NULL. Compared as
 * PowerShell text a person typed: case-insensitive, line endings (CRLF, CR,
 * LF) alike, each line trimmed, the whole trimmed. */
const fx_pipeline *mock_fixture_find_pipeline(const mock_fixture *fx, const char *text);
/* Pipelines may repeat a command with run="1", run="2", ... (a replayed
 * transcript: the second `prompt` answers differently from the first). Given
 * the first match (mock_fixture_find_pipeline) and the 1-based run of the
 * command, returns the pipeline for that run: one without run=, else the
 * one with that run, else the highest run below it (the last recorded). */
const fx_pipeline *mock_fixture_pipeline_run(const mock_fixture *fx, const fx_pipeline *first,
                                             unsigned run);
/* The same comparison for any two texts. */
bool fx_command_equal(const char *a, const char *b);
/* Case-insensitive Levenshtein distance (texts capped at 512 bytes). */
size_t fx_edit_distance(const char *a, const char *b);
/* The fixture pipeline whose command is closest to text (edit distance), or
 * NULL when the fixture has none: for "nearest step" explanations. */
const fx_pipeline *mock_fixture_nearest_pipeline(const mock_fixture *fx, const char *text);
/* The <completion> for this input and cursor (cursor -1 = end), or NULL. */
const fx_completion *mock_fixture_find_completion(const mock_fixture *fx, const char *input,
                                                  int cursor);
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
