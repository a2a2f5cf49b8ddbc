/* Shared between the transcript writer (transcript.c) and reader
 * (transcript_read.c): the decoding of one SOAP body into a tree in which
 * PSRP base64 is replaced by <etsn:psrp>. Not a public interface. */
#ifndef ETSN_TRANSCRIPT_PRIV_H
#define ETSN_TRANSCRIPT_PRIV_H

#include <libxml/tree.h>

#include "transcript.h"

/* Per-stream reassembly state, kept across exchanges. */
typedef struct etsn_tdecoder etsn_tdecoder;

/* What the request said, needed to read its response. */
typedef struct {
    int psrp; /* 1 PowerShell shell, 0 another shell, -1 unknown */
    char shell_id[64];
    char command_id[64];
} etsn_tenv;

etsn_tdecoder *etsn_tdecoder_new(void);
void etsn_tdecoder_free(etsn_tdecoder *d);

/* Parses body (a SOAP envelope) and replaces its PSRP base64 with
 * <etsn:psrp>. env is filled from a request and read for a response. Returns
 * the document, or NULL when the body is not well-formed XML (or has a DTD). */
xmlDocPtr etsn_tdecode(etsn_tdecoder *d, const uint8_t *body, size_t len, bool request,
                       etsn_tenv *env);

/* Replaces SecureStrings, key-exchange keys and the secret with SCRUBBED. */
void etsn_tscrub_tree(xmlNodePtr root, const char *secret);

#endif
