/* The interactive remote session: opens the runspace pool, checks the
 * endpoint's required commands, waits while the session is busy, then runs
 * the prompt / read / execute loop until the remote side pops the runspace
 * or input ends. This is the I/O driver around the sans-I/O core
 * (ref/core/psrp_client.h): the main thread posts Command, Receive and Send;
 * a watcher thread turns Ctrl+C into a WS-Man Signal on a second
 * connection while a Receive waits, as Windows' WinRM client does. */
#ifndef ETSN_SESSION_H
#define ETSN_SESSION_H

#include <stdbool.h>
#include <stdio.h>

#include "../core/error.h"
#include "../core/psrp_client.h"
#include "../net/winrm_http.h"
#include "line_input.h"

/* Returns a malloc'd line without its newline, or NULL at end of input. */
typedef char *(*etsn_read_line_fn)(void *ctx, const char *prompt);

typedef struct {
    const char *display_name; /* computer name shown in the prompt */
    etsn_http_config http;
    etsn_client_config client;
    etsn_read_line_fn read_line;
    void *read_line_ctx;
    /* The line editor, for remote tab completion; may be NULL. */
    etsn_line_input *line_input;
    /* Reads the console's current size etc. before each pipeline, so that
     * the server formats for the window as it is now; may be NULL. */
    void (*host_info)(etsn_host_info *out);
    FILE *out;
    FILE *err;
} etsn_session_config;

/* Exit statuses (docs/exit-codes.md). */
enum {
    ETSN_EXIT_OK = 0,
    ETSN_EXIT_OPEN_FAILED = 1,  /* the session could not be opened */
    ETSN_EXIT_USAGE = 2,        /* parameters could not be bound */
    ETSN_EXIT_SESSION_LOST = 3, /* the remote session closed or broke */
    ETSN_EXIT_CANCELLED = 130,  /* Ctrl+C while connecting (128 + SIGINT) */
};

/* Runs the whole session. Returns the process exit status; on a failure to
 * open, err holds the inner message (the caller renders PowerShell's text). */
int etsn_session_run(const etsn_session_config *cfg, etsn_error *err);

#endif
