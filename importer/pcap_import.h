/* From captured TCP connections to a transcript: each connection is cut
 * into HTTP requests and responses (http_split.h), its NTLM handshake is
 * replayed into an unsealer (ref/auth/ntlm_unseal.h) with the password, the
 * sealed bodies of both directions are opened, and the exchanges of every
 * connection are written in capture-time order through the transcript
 * writer (ref/core/transcript.h). No I/O but the optional notes stream. */
#ifndef ETSN_IMPORT_PCAP_IMPORT_H
#define ETSN_IMPORT_PCAP_IMPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../ref/core/error.h"
#include "../ref/core/transcript.h"
#include "capture.h"

#define IMPORT_BAD_PASSWORD -2 /* the password does not match the handshake */
#define IMPORT_MAX_EXCHANGES 1000000

/* Asked once, when the first sealed body needs keys: the password for
 * "DOMAIN\\user" (as the AUTHENTICATE names it). Returns NULL to give up
 * (err set). The string must live until import_result_free. */
typedef const char *(*import_password_fn)(void *ctx, const char *user, etsn_error *err);

typedef struct {
    uint64_t conn;     /* 1-based, in the order connections were imported */
    double start, end; /* capture times (s): request's first byte, response's last */
    int status;
    etsn_buf request, response; /* decrypted bodies */
} import_exchange;

typedef struct {
    import_exchange *v;
    size_t n, cap;
    char endpoint[600]; /* http://Host/path of the first request with a body */
    char auth[16];      /* "Negotiate", "NTLM" or "" */
    bool sealed;        /* some body was message-encrypted */
    const char *password;
    import_password_fn ask;
    void *ask_ctx;
    FILE *notes; /* skipped connections and other remarks, or NULL */
    /* Counts for the summary. */
    size_t connections, requests, handshake_legs, sealed_bodies;
} import_result;

/* Imports one connection as number conn. Returns 0, IMPORT_BAD_PASSWORD or
 * -1 (err set). A connection that is not HTTP is skipped with a note. */
int import_conv(import_result *r, const tcp_conv *c, uint64_t conn, etsn_error *err);

/* Writes every exchange, ordered by start time, through a transcript writer
 * (source "etsn-pcap-import"). scrub: see etsn_transcript_meta. */
int import_write(import_result *r, bool scrub, etsn_transcript_sink sink, void *ctx,
                 etsn_error *err);

void import_result_free(import_result *r);

#endif
