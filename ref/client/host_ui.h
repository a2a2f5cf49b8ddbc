/* The local console side of PSRP host calls (MS-PSRP 2.2.3.17): what the
 * server's Out-Default and $Host.UI calls look like on this terminal, and
 * the prompts (Read-Host, Get-Credential, $Host.UI.Prompt, PromptForChoice)
 * a person answers here. No network I/O: the session driver sends answers. */
#ifndef ETSN_HOST_UI_H
#define ETSN_HOST_UI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/buf.h"
#include "../core/clixml.h"

typedef struct etsn_host_ui etsn_host_ui;

struct etsn_host_ui {
    FILE *out;
    FILE *err;
    int in_fd;                 /* where answers are read from (stdin) */
    bool terminal;             /* in_fd and out are terminals: no echo, progress bar, colours */
    bool color;                /* colours allowed (terminal and no NO_COLOR) */
    const char *computer_name; /* as in the prompt; used in PowerShell's credential warning */

    /* Filled in by host calls. */
    bool pop_requested;  /* PopRunspace arrived */
    bool exit_requested; /* SetShouldExit arrived */
    int exit_code;

    /* Line input for ReadLine and prompts: the session's line editor (libedit
     * on a terminal). Returns a malloc'd line, NULL at end of input. */
    char *(*read_line)(void *ctx, const char *prompt);
    void *read_line_ctx;

    /* Turns plaintext (UTF-16LE) into the <SS> payload the server expects:
     * encrypted under the session key for protocol 2.3, as it is for 2.4.
     * Returns a new ETSN_V_SECURESTRING value or NULL. Set by the session. */
    etsn_value *(*make_secure_string)(void *ctx, const uint8_t *utf16le, size_t len);
    void *secure_ctx;

    /* Terminal state the raw UI setters change (window title etc.) and the
     * progress bar's state; private to host_ui.c. */
    void *priv;

    /* Added by host_ui.c: Ctrl+C was pressed at a prompt this host read
     * itself (no-echo input, ReadKey). The call answered with an error; the
     * session should also stop the pipeline (Signal), as pwsh's break
     * handler does. The session clears it. */
    bool interrupted;
};

/* Sets defaults from the streams (terminal detection, NO_COLOR). */
void etsn_host_ui_init(etsn_host_ui *ui, FILE *out, FILE *err, int in_fd,
                       const char *computer_name);
/* Clears a progress bar still shown and frees private state. */
void etsn_host_ui_finish(etsn_host_ui *ui);

/* Carries out one host call. For calls that need an answer sets *result or
 * *error (new values); void calls set neither. Returns false for a method
 * this host does not implement (the caller answers with an error). */
bool etsn_host_ui_call(etsn_host_ui *ui, int method, const etsn_value *params, etsn_value **result,
                       etsn_value **error);

/* Renders a record that arrived outside Out-Default (ERROR_RECORD, WARNING,
 * VERBOSE, DEBUG, INFORMATION, PROGRESS messages). */
void etsn_host_ui_record(etsn_host_ui *ui, uint32_t message_type, const etsn_value *record);

/* An exception (as an ErrorRecord value) for a host call this host cannot
 * carry out, or one the user cancelled. */
etsn_value *etsn_host_ui_not_implemented(int method);

/* Added by host_ui.c: the pipeline ended. Takes the progress pane down and
 * forgets its activities (pwsh's ResetProgress) but keeps the raw UI state
 * (colours set by the server), which etsn_host_ui_finish frees. */
void etsn_host_ui_end_pipeline(etsn_host_ui *ui);

#endif
