/* Transcripts: a recorded WinRM/PSRP conversation as readable XML
 * (docs/fixtures.md, "Transcripts"). Every exchange keeps its decrypted SOAP
 * envelopes; base64 that carries PSRP (creationXml, connectXml,
 * connectResponseXml, Arguments, Send/Receive streams of a PowerShell shell)
 * is replaced by an <etsn:psrp> element with one <etsn:fragment> per fragment
 * and one <etsn:message> (CLIXML as XML) where a message completes.
 *
 * Sans I/O: the writer hands bytes to a sink, the reader pulls bytes from a
 * source. Both hold at most one exchange (bounded by ETSN_WSMAN_MAX_ENVELOPE)
 * plus the partial messages of a bounded number of streams, so a 1 GB session
 * streams through in constant memory. */
#ifndef ETSN_TRANSCRIPT_H
#define ETSN_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "guid.h"
#include "wsman.h"

#define ETSN_TRANSCRIPT_NS "urn:etsn:transcript"
#define ETSN_TRANSCRIPT_SCRUBBED "SCRUBBED"
/* Streams (shell, command, direction) whose partial messages are kept; the
 * least recently used is forgotten beyond this. */
#define ETSN_TRANSCRIPT_MAX_STREAMS 64
/* Largest reassembled PSRP message, and messages one exchange may hold. */
#define ETSN_TRANSCRIPT_MAX_MESSAGE (16u * 1024 * 1024)
#define ETSN_TRANSCRIPT_MAX_MESSAGES 100000

/* 0 ok, -1 error (the writer then fails every later call). */
typedef int (*etsn_transcript_sink)(void *ctx, const void *data, size_t len);

typedef struct {
    const char *source;   /* "etsn --record", "etsn-pcap-import", "etsn-mockd --record" */
    const char *endpoint; /* URL, may be NULL */
    const char *auth;     /* "Negotiate", "NTLM", "Basic", "Kerberos", may be NULL */
    bool sealed;          /* the bodies were message-encrypted on the wire */
    bool scrub;           /* default true */
    /* Optional extra string to scrub (the password). The writer keeps its
     * own copy (zeroed when freed); the caller's pointer is not kept. */
    const char *secret;
} etsn_transcript_meta;

typedef struct {
    uint64_t conn;          /* TCP connection number, 1-based */
    double start_ms;        /* request start, ms since the first exchange */
    double duration_ms;     /* until the response was complete */
    int status;             /* HTTP status of the response (200, 500, 401...) */
    const uint8_t *request; /* decrypted SOAP request body */
    size_t request_len;
    const uint8_t *response; /* decrypted SOAP response body; may be empty */
    size_t response_len;
} etsn_transcript_exchange;

typedef struct etsn_transcript_writer etsn_transcript_writer;

/* Writes the XML declaration and the <transcript> start tag to the sink.
 * Returns NULL (err set) when memory is short or the sink fails. */
etsn_transcript_writer *etsn_transcript_writer_new(const etsn_transcript_meta *meta,
                                                   etsn_transcript_sink sink, void *ctx,
                                                   etsn_error *err);
/* Decodes, scrubs and writes one exchange to the sink (nothing is kept but
 * partial messages). A body that is not XML is kept as <etsn:raw> text.
 * Envelopes already holding <etsn:psrp> (a transcript read back) pass
 * through, so decode and scrub are reader -> writer. Returns 0 or -1. */
int etsn_transcript_add(etsn_transcript_writer *w, const etsn_transcript_exchange *x,
                        etsn_error *err);
/* Writes the closing tag. Returns 0 or -1. */
int etsn_transcript_finish(etsn_transcript_writer *w, etsn_error *err);
void etsn_transcript_writer_free(etsn_transcript_writer *w);

/* ---- reader ---- */

/* Reads up to len bytes into buf: returns the count, 0 at the end, -1 on error. */
typedef int (*etsn_transcript_source)(void *ctx, void *buf, size_t len);

/* The <transcript> element's attributes (strings owned by the reader). */
typedef struct {
    int format;
    char *source, *recorded, *endpoint, *auth;
    bool sealed, scrubbed;
} etsn_transcript_info;

/* One PSRP message as recorded. */
typedef struct {
    bool from_client; /* carried by the request (else by the response) */
    uint32_t destination;
    uint32_t type;
    etsn_guid rpid, pid;
    char *body; /* the CLIXML, compact, UTF-8 without BOM; raw text when raw */
    size_t body_len;
    bool raw;         /* the body was not well-formed XML */
    char *stream;     /* "creationXml", "Arguments", "stdin", "pr", "stdout", ... */
    char *command_id; /* the stream's CommandId, NULL for the pool */
} etsn_transcript_message;

typedef struct {
    uint64_t n, conn;
    double start_ms, duration_ms;
    int status;
    /* The envelopes parsed with etsn_wsman_parse after their PSRP payloads
     * were removed (creation_xml, arguments and stream data are empty: the
     * messages are in msgs). has_* is false for an absent or unparseable body. */
    bool has_request, has_response;
    etsn_wsman_msg request, response;
    /* The envelopes as XML after decoding (with <etsn:psrp>), NUL terminated;
     * NULL when absent. Raw (non-XML) bodies are here as their text. */
    char *request_xml, *response_xml;
    size_t request_xml_len, response_xml_len;
    etsn_transcript_message *msgs;
    size_t n_msgs;
} etsn_transcript_record;

typedef struct etsn_transcript_reader etsn_transcript_reader;

/* Reads the transcript start tag from src. NULL with err set when it is not a
 * transcript (format 1). */
etsn_transcript_reader *etsn_transcript_reader_new(etsn_transcript_source src, void *ctx,
                                                   etsn_error *err);
/* The same over bytes in memory (kept borrowed until the reader is freed). */
etsn_transcript_reader *etsn_transcript_reader_new_memory(const void *data, size_t len,
                                                          etsn_error *err);
const etsn_transcript_info *etsn_transcript_reader_info(const etsn_transcript_reader *r);
/* Next exchange: 1 and *out set (free with etsn_transcript_record_free), 0 at
 * the end, -1 with err set on malformed input. Envelopes whose PSRP is still
 * base64 (an HTTP capture) are decoded here, with fragments reassembled
 * across exchanges as the writer does. */
int etsn_transcript_next(etsn_transcript_reader *r, etsn_transcript_record **out, etsn_error *err);
void etsn_transcript_record_free(etsn_transcript_record *rec);
void etsn_transcript_reader_free(etsn_transcript_reader *r);

/* A record fed back to a writer (decode and scrub tools): fills x from rec;
 * x borrows rec's strings. */
void etsn_transcript_record_exchange(const etsn_transcript_record *rec,
                                     etsn_transcript_exchange *x);

#endif
