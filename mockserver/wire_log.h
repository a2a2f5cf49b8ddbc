/* The wire log: for every request the client sent, what it literally
 * carried, as text lines for the report's "wire" array and for
 * etsn-conform's [expect-wire] (docs/conformance.md).
 *
 * The decoder is deliberately independent of ref/core's wsman, fragment,
 * message and clixml code: client and mock link the same core, so a
 * constant broken there (an action URI, a message type, the BOM) would be
 * written by the client and read back by the mock alike. This file reads the
 * SOAP with libxml2 by local names, and the PSRP bytes itself, and reports
 * raw values (URIs as sent, message types as little-endian uint32 in hex);
 * the case files hold the values typed from MS-WSMV / MS-PSRP.
 *
 * Lines of one request, in this order (docs/mockd.md lists them):
 *   action URI, to URI, resource-uri URI, max-envelope-size N,
 *   operation-timeout T, locale L, data-locale L, option NAME=VALUE,
 *   selector NAME=VALUE, input-streams S, output-streams S, command-id ID,
 *   desired-stream S, send-stream S, signal-code URI,
 *   then per PSRP payload (creationXml, Send stream, Arguments, connectXml):
 *   payload WHERE, fragment object=N fragment=N flags=0xNN length=N,
 *   message destination=0xNNNNNNNN type=0xNNNNNNNN bom=yes|no pid=GUID rpid=GUID,
 *   clixml NAME=VALUE (the fields listed in wire_log.c),
 *   and last ns LOCALNAME URI for each element read.
 * Not thread-safe: the engine calls it under its lock. */
#ifndef ETSN_MOCK_WIRE_LOG_H
#define ETSN_MOCK_WIRE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "../ref/core/buf.h"

/* Requests beyond this many bytes of log are counted, not kept. */
#define MOCK_WIRE_LOG_MAX_BYTES (4u * 1024u * 1024u)

typedef struct mock_wire_log mock_wire_log;

mock_wire_log *mock_wire_log_new(void);
void mock_wire_log_free(mock_wire_log *w);

/* Records one request's decrypted SOAP. Input that does not parse is
 * recorded as the line "unparseable N bytes". Returns 0, or -1 when memory
 * runs out (the request is then missing from the log). */
int mock_wire_log_request(mock_wire_log *w, const uint8_t *soap, size_t len);

/* Appends the JSON array [{"request": N, "repeat": N, "lines": [...]}...]:
 * N counts requests from 1; a request whose lines equal the previous one's
 * (a Receive polled again) only raises that entry's repeat. */
int mock_wire_log_json(const mock_wire_log *w, etsn_buf *out);
/* Requests left out once MOCK_WIRE_LOG_MAX_BYTES was reached. */
size_t mock_wire_log_dropped(const mock_wire_log *w);

#endif
