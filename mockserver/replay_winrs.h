/* etsn-mockd --replay of a WinRS cmd shell (mockserver/replay.c hands it the
 * exchanges whose ResourceURI is the cmd shell's, MOCK_WINRS_URI): each
 * recorded Command becomes a <winrs-command> (docs/fixtures.md, "WinRS
 * commands") keyed by its command line, or by its script for powershell
 * -EncodedCommand, with run="N" for the Nth run of the same line; its steps
 * are the recorded stdout/stderr chunks as the bytes the client got
 * (encoding="base64", already in the recorded code page), a <wait-signal/>
 * where the recorded client sent Ctrl+C, a <sleep> where a Receive timed
 * out, and the recorded exit code. mockserver/winrs.c then plays them with
 * ShellIds and CommandIds of its own, which the live client must echo. */
#ifndef ETSN_MOCK_REPLAY_WINRS_H
#define ETSN_MOCK_REPLAY_WINRS_H

#include "../ref/core/buf.h"
#include "../ref/core/transcript.h"

typedef struct mock_replay_winrs mock_replay_winrs;

/* Takes in one recorded exchange when it is the cmd shell's: 1 taken (*w
 * allocated on first use), 0 not a WinRS exchange, -1 out of memory. */
int mock_replay_winrs_add(mock_replay_winrs **w, const etsn_transcript_record *rec);
/* Appends the <winrs-command> elements (nothing when w is NULL). */
void mock_replay_winrs_commands(const mock_replay_winrs *w, etsn_buf *b);
/* Appends one <expect> per recorded client action (shell created, code page,
 * each command line, Ctrl+C, terminate, shell deleted). Returns how many
 * requests the recorded server refused for an unknown ShellId/CommandId
 * (the live client meets the same refusal, reported as unmatched). */
size_t mock_replay_winrs_expects(const mock_replay_winrs *w, etsn_buf *b);
void mock_replay_winrs_free(mock_replay_winrs *w);

/* Shared with mockserver/replay.c, which defines them. */
/* An XML attribute " name=\"v\"" (nothing for NULL or ""), line breaks kept
 * as character references. */
void mock_replay_attr(etsn_buf *b, const char *name, const char *v);
/* "  <expect id= description=/>" */
void mock_replay_expect(etsn_buf *b, const char *id, const char *description);

#endif
