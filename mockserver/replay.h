/* etsn-mockd --replay: a recorded transcript (ref/core/transcript.h) turned
 * into a scenario (docs/fixtures.md) that the engine plays to any client.
 * Replay happens at the PSRP layer, not byte for byte: each pipeline the
 * client ran becomes a <pipeline> keyed by its command text (run="N" for the
 * Nth run of the same text) whose steps are the messages the server sent for
 * it, as recorded; host calls pause until the live client answers; a Ctrl+C
 * the recorded client sent becomes <wait-signal/>. The engine then binds the
 * live client's ids, fragments to its MaxEnvelopeSize and seals with its
 * context. Each recorded client action becomes an expectation, and the
 * scenario is strict: a command nothing recorded is a near-miss with the
 * nearest recorded command and a diff. */
#ifndef ETSN_MOCK_REPLAY_H
#define ETSN_MOCK_REPLAY_H

#include <stddef.h>

#include "../ref/core/buf.h"
#include "fixture.h"

/* Largest scenario a transcript may turn into (bytes of XML). */
#define MOCK_REPLAY_MAX_SCENARIO (256u * 1024 * 1024)

/* Writes the scenario for the transcript at path into xml. base (may be
 * NULL) supplies the users, auth settings and server name/path; without it
 * the scenario has the shipped fixtures' test user CONTOSO\alice. Returns 0,
 * or -1 with "FILE: reason" in err. */
int mock_replay_scenario(const char *path, const mock_fixture *base, etsn_buf *xml, char *err,
                         size_t errlen);
/* mock_replay_scenario, loaded as a fixture. */
mock_fixture *mock_replay_load(const char *path, const mock_fixture *base, char *err,
                               size_t errlen);

/* A recorded <reply> given to a live request: the recorded envelope with
 * the recorded MessageID (RelatesTo) and ShellId replaced by the live ones.
 * Returns the HTTP status to answer with; a request the recording has no
 * response for (the connection failed) gets WinRM's w:TimedOut fault, 500. */
int mock_replay_reply(const fx_reply *r, const char *message_id, const char *shell_id,
                      etsn_buf *out);

/* A short readable diff of two texts (a recorded request and the live one):
 * the first line that differs, both versions, and a caret under the first
 * differing column. Appended to out. */
void mock_text_diff(const char *recorded, const char *got, etsn_buf *out);

#endif
