/* Terminal cases: the client runs in a pane of a private tmux server and a
 * case's [terminal] steps type into it (send-keys) and read its screen
 * (capture-pane). See docs/conformance.md, "Terminal cases". */
#ifndef ETSN_CONF_TERMINAL_H
#define ETSN_CONF_TERMINAL_H

#include <stdbool.h>

#include "case_file.h"

typedef struct {
    const char *tmux;  /* tmux's path */
    const char *dir;   /* the case's private directory: wrapper, status, tmux.conf */
    char *const *argv; /* the client's argv, valgrind in front when asked */
    char *const *env;  /* its environment; TERM is the pane's unless env sets it */
    const conf_vars *vars;
    const conf_case *c; /* steps, size, [timeout] */
    double stretch;     /* timeouts multiplied (valgrind) */
} conf_term_job;

typedef struct {
    bool exited; /* a wait-exit step saw the client end */
    int status;  /* then its status as the shell saw it ($?: 128+N for signal N) */
    bool failed; /* a step failed or tmux misbehaved; reasons were added */
    double seconds;
} conf_term_outcome;

/* Runs the script. Failure reasons (with the final screen) go to reasons,
 * --verbose details to notes. The tmux server and every process of the
 * pane are gone when it returns. */
void conf_term_run(const conf_term_job *j, conf_term_outcome *out, conf_strv *reasons,
                   conf_strv *notes);

#endif
