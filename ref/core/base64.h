/* Base64 (RFC 4648) through OpenSSL's EVP codec, with the checks OpenSSL
 * leaves out: EVP_DecodeBlock accepts malformed text such as "Q===" and
 * counts padding as data bytes. Every base64 on the wire (WS-Man streams,
 * CLIXML <BA>/<SS>, HTTP auth tokens, CAPI key blobs) goes through here. */
#ifndef ETSN_BASE64_H
#define ETSN_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Appends the encoding of data (no line breaks). Returns 0 or -1. */
int etsn_base64_encode(const uint8_t *data, size_t len, etsn_buf *out);
/* Appends the decoding of text[0..len). XML whitespace (space, tab, CR, LF)
 * is skipped anywhere, since peers may wrap long lines; anything else must
 * be canonical padded base64. Returns 0, or -1 leaving out unchanged. */
int etsn_base64_decode(const char *text, size_t len, etsn_buf *out);

#endif
