/* etsn-mockd's HTTP side: libmicrohttpd, one thread per connection so that a
 * Receive may wait, a GSSAPI acceptor per TCP connection (Negotiate/NTLM),
 * WinRM message encryption, Basic over TLS. Hands decrypted SOAP to a
 * handler and encrypts its reply. */
#ifndef ETSN_MOCK_HTTP_SERVER_H
#define ETSN_MOCK_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../ref/core/buf.h"

typedef struct {
    const char *listen;        /* "127.0.0.1:0" (port 0 picks a free one), "[::1]:5985" */
    const char *path;          /* URL path served, e.g. "/wsman"; others get 404 */
    const char *tls_cert_file; /* PEM; NULL serves plain HTTP */
    const char *tls_key_file;
    const char *ntlm_user_file; /* DOMAIN:USER:PASSWORD lines for gss-ntlmssp */
    const char *service_host;   /* acceptor name HTTP@<service_host>, e.g. "localhost" */
    bool allow_negotiate;
    bool allow_basic;        /* Basic is accepted only over TLS */
    bool require_encryption; /* over plain HTTP, refuse unsealed SOAP after auth */

    /* Basic credentials check: returns true when user/password are valid. */
    bool (*check_basic)(void *ctx, const char *user, const char *password);
    /* One authenticated SOAP request, decrypted. May block (long-poll
     * Receive). Fills reply (SOAP) and returns the HTTP status (200, or 500
     * for a WS-Man fault). conn_id identifies the TCP connection. */
    int (*handle)(void *ctx, uint64_t conn_id, const char *user, const uint8_t *soap, size_t len,
                  etsn_buf *reply);
    /* Something the report should record: kind is e.g. "auth-failed",
     * "unencrypted-refused", "not-found"; detail is free text. May be NULL. */
    void (*on_event)(void *ctx, const char *kind, const char *detail);
    void *ctx;
} mock_http_config;

typedef struct mock_http mock_http;

mock_http *mock_http_start(const mock_http_config *cfg, char *err, size_t errlen);
/* The URL clients use, e.g. "http://127.0.0.1:40123/wsman". */
const char *mock_http_url(const mock_http *m);
int mock_http_port(const mock_http *m);
void mock_http_stop(mock_http *m);
/* Inside a handler call: the numeric address of the client whose request
 * the calling thread handles ("" outside one). */
const char *mock_http_peer_address(void);

#endif
