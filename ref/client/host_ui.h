/* The local console side of PSRP host calls (MS-PSRP 2.2.3.17): what the
 * server's Out-Default and $Host.UI calls look like on this terminal. */
#ifndef ETSN_HOST_UI_H
#define ETSN_HOST_UI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/clixml.h"

typedef struct {
    FILE *out;
    FILE *err;
    bool pop_requested;  /* PopRunspace arrived */
    bool exit_requested; /* SetShouldExit arrived */
    int exit_code;
    /* ReadLine and friends read from here when the host needs input. */
    char *(*read_line)(void *ctx, const char *prompt);
    void *read_line_ctx;
} etsn_host_ui;

/* Carries out one host call. For calls that need an answer (call_id >= 0)
 * sets *result or *error (new values). Returns false for a method this host
 * does not implement (the caller answers with an error). */
bool etsn_host_ui_call(etsn_host_ui *ui, int method, const etsn_value *params, etsn_value **result,
                       etsn_value **error);

/* Renders a record that arrived outside Out-Default (ERROR_RECORD etc.). */
void etsn_host_ui_record(etsn_host_ui *ui, uint32_t message_type, const etsn_value *record);

/* An exception object for a host call this host cannot carry out. */
etsn_value *etsn_host_ui_not_implemented(int method);

#endif
