/* The interactive remote session: opens the runspace pool, checks the
 * endpoint's required commands, then runs the prompt / read / execute loop
 * until the remote side pops the runspace or input ends. This is the I/O
 * driver around the sans-I/O core (ref/core/psrp_client.h). */
#ifndef ETSN_SESSION_H
#define ETSN_SESSION_H

#include <stdbool.h>
#include <stdio.h>

#include "../core/error.h"
#include "../core/psrp_client.h"
#include "../net/winrm_http.h"

/* Returns a malloc'd line without its newline, or NULL at end of input. */
typedef char *(*etsn_read_line_fn)(void *ctx, const char *prompt);

typedef struct {
    const char *display_name; /* computer name shown in the prompt */
    etsn_http_config http;
    etsn_client_config client;
    etsn_read_line_fn read_line;
    void *read_line_ctx;
    FILE *out;
    FILE *err;
} etsn_session_config;

/* Exit statuses (docs/exit-codes.md). */
enum {
    ETSN_EXIT_OK = 0,
    ETSN_EXIT_OPEN_FAILED = 1,  /* the session could not be opened */
    ETSN_EXIT_USAGE = 2,        /* parameters could not be bound */
    ETSN_EXIT_SESSION_LOST = 3, /* the remote session closed or broke */
};

/* Runs the whole session. Returns the process exit status; on a failure to
 * open, err holds the inner message (the caller renders PowerShell's text). */
int etsn_session_run(const etsn_session_config *cfg, etsn_error *err);

#endif
