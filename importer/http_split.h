/* Cuts one direction of a captured HTTP/1.1 connection into messages with
 * Debian's http-parser (libhttp-parser): request or status line, the
 * headers the importer needs, and the body with chunked transfer coding
 * removed. No I/O. Every field is bounded. */
#ifndef ETSN_IMPORT_HTTP_SPLIT_H
#define ETSN_IMPORT_HTTP_SPLIT_H

#include <stdbool.h>
#include <stddef.h>

#include "../ref/core/buf.h"

#define HTTP_SPLIT_MAX_URL 8192
#define HTTP_SPLIT_MAX_HEADER (128u * 1024) /* one header value */
#define HTTP_SPLIT_MAX_AUTH 8               /* auth header values kept per message */
#define HTTP_SPLIT_MAX_BODY (256u * 1024 * 1024)

typedef struct {
    size_t start, end; /* byte offsets of the message in its direction's stream */
    int status;        /* responses: the status code */
    char method[16];   /* requests: "POST", ... */
    etsn_buf url, host, content_type;
    /* Authorization (requests) or WWW-Authenticate (responses) values. */
    etsn_buf auth[HTTP_SPLIT_MAX_AUTH];
    size_t n_auth;
    etsn_buf body;
} http_msg;

void http_msg_free(http_msg *m);

typedef struct http_splitter http_splitter;

/* requests: parse requests (client to server), else responses. */
http_splitter *http_splitter_new(bool requests);
/* Parses the message starting at *off in data[0..len): 1 with *msg filled
 * (free it with http_msg_free) and *off moved past it; 0 when *off == len;
 * -1 with err set on malformed or truncated input (a message the capture
 * cut off is reported as truncated). at_eof: the connection closed after
 * data, so a body delimited by the close is complete. */
int http_splitter_next(http_splitter *s, const unsigned char *data, size_t len, size_t *off,
                       bool at_eof, http_msg *msg, char *err, size_t errlen);
void http_splitter_free(http_splitter *s);

#endif
