/* Recording a session as a transcript (docs/cli.md, ETSN_RECORD): every
 * request and reply, decrypted, streamed to a file created with mode 0600,
 * secrets scrubbed unless ETSN_RECORD_SCRUB=0. */
#ifndef ETSN_RECORD_H
#define ETSN_RECORD_H

#include <stdbool.h>

#include "../core/error.h"
#include "../net/winrm_http.h"

typedef struct etsn_recorder etsn_recorder;

/* Opens path (truncating; refuses a symlink) and writes the transcript
 * header. password, if any, is scrubbed wherever it appears. Returns NULL
 * with err set in PowerShell's words when the file cannot be written. */
etsn_recorder *etsn_recorder_open(const char *path, const char *endpoint, const char *auth,
                                  bool sealed, bool scrub, const char *password, etsn_error *err);
/* An etsn_http_config.on_exchange callback (ctx: the recorder); thread safe. */
void etsn_recorder_on_exchange(void *ctx, const etsn_http_exchange *x);
/* Writes the closing tag, closes the file and frees. Returns 0, or -1 when
 * some exchange could not be written (err set). */
int etsn_recorder_close(etsn_recorder *r, etsn_error *err);

#endif
