/* etsn-mockd --record FILE: the conversation the mock serves, any client's,
 * written as a transcript (ref/core/transcript.h, docs/fixtures.md
 * "Transcripts"): each decrypted request with the reply the mock gave, in
 * the order the replies were complete, with timings and connection ids.
 * Streamed to a file created 0600; scrubbed unless ETSN_RECORD_SCRUB=0. */
#ifndef ETSN_MOCK_RECORD_H
#define ETSN_MOCK_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_server.h"

typedef struct mock_recorder mock_recorder;

/* Opens path (truncating, mode 0600, refusing a symlink) and wraps cfg's
 * handle and on_event so that every request cfg would serve is recorded;
 * cfg->ctx becomes the recorder (the old ctx is kept and passed on).
 * endpoint and auth go to the transcript header. Returns NULL with a reason
 * in err. secret (a password, may be NULL) is scrubbed wherever it appears. */
mock_recorder *mock_recorder_open(const char *path, mock_http_config *cfg, bool scrub,
                                  const char *secret, char *err, size_t errlen);
/* The URL is known once the server listens; the transcript header is
 * written with the first exchange (sealed= as that request came), so a URL
 * set before it goes in the header. */
void mock_recorder_set_endpoint(mock_recorder *r, const char *endpoint);
/* Writes the closing tag and closes the file. Returns 0, or -1 (reason in
 * err) when some exchange could not be written. */
int mock_recorder_close(mock_recorder *r, char *err, size_t errlen);

#endif
