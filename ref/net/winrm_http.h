/* One authenticated, kept-alive HTTP(S) connection to a WinRM endpoint,
 * through libcurl. A client that must send while a Receive waits opens a
 * second one (as Windows' WinRM client does). Each connection is used by one
 * thread at a time.
 *
 * Bodies: requests always carry Content-Length (never chunked). Replies may
 * be chunked or close-delimited (no Content-Length): libcurl decodes both and
 * the whole decoded body, bounded at 64 MiB (beyond that the post fails and
 * the connection is dropped), is the reply. After a close-delimited reply the
 * next post opens a new connection and authenticates it again. */
#ifndef ETSN_WINRM_HTTP_H
#define ETSN_WINRM_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/error.h"

typedef enum {
    ETSN_AUTH_DEFAULT, /* = Negotiate */
    ETSN_AUTH_BASIC,
    ETSN_AUTH_NEGOTIATE,
    ETSN_AUTH_KERBEROS,
    ETSN_AUTH_CREDSSP,
    ETSN_AUTH_DIGEST,
    ETSN_AUTH_NEGOTIATE_IMPLICIT, /* NegotiateWithImplicitCredential */
} etsn_auth_kind;

/* PSSessionOption.ProxyAccessType (System.Management.Automation.Remoting
 * ProxyAccessType). */
typedef enum {
    ETSN_PROXY_NONE = 0, /* "None": PowerShell's default, no proxy */
    ETSN_PROXY_IE_CONFIG,
    ETSN_PROXY_WINHTTP_CONFIG,
    ETSN_PROXY_AUTO_DETECT,
    ETSN_PROXY_NO_PROXY_SERVER,
} etsn_proxy_access;

/* One request and its reply as the application sees them (decrypted), for
 * recording a session (etsn's ETSN_RECORD). No HTTP headers: they hold the
 * authentication tokens. */
typedef struct {
    uint64_t conn;          /* TCP connection number in this process, from 1 */
    double start_ms;        /* CLOCK_MONOTONIC when the post started */
    double duration_ms;     /* until the reply was in (or the post failed) */
    long status;            /* final HTTP status, 0 when none arrived */
    const uint8_t *request; /* the SOAP envelope before sealing */
    size_t request_len;
    const uint8_t *reply; /* the SOAP reply after unsealing; empty on failure */
    size_t reply_len;
} etsn_http_exchange;

typedef struct {
    const char *url;  /* http(s)://host:port/app */
    const char *host; /* for the SPN HTTP/<host> */
    etsn_auth_kind auth;
    const char *user;     /* NULL: current user (implicit credentials) */
    const char *password; /* not copied beyond the connection's life; never logged */
    bool encrypt;         /* message encryption over http (always, unless https) */
    bool skip_ca_check;   /* SessionOption SkipCACheck */
    bool skip_cn_check;   /* SessionOption SkipCNCheck */
    const char *ca_file;  /* extra trust anchors, e.g. from ETSN_CA_FILE */
    long connect_timeout_ms;
    long request_timeout_ms; /* whole request, e.g. OperationTimeout + slack */
    /* Fields below are set by the client from -SessionOption / $PSSessionOption
     * and the WinRM client configuration; zero means WinRM's default. */
    /* Kerberos/Negotiate service principal: service class (NULL: WinRM's
     * default) and SessionOption IncludePortInSPN (adds ":<port>"). */
    const char *spn_service;
    bool spn_include_port;
    /* -AllowRedirection (ConnectionUri set only) and SessionOption
     * MaximumConnectionRedirectionCount as PowerShell passes it on (the
     * PSSessionOption value; PowerShell's default 5). */
    bool allow_redirection;
    int max_redirects;
    /* SessionOption ProxyAccessType/ProxyAuthentication/ProxyCredential. */
    etsn_proxy_access proxy_access;
    etsn_auth_kind proxy_auth; /* Basic, Digest or Negotiate */
    const char *proxy_user;    /* NULL: no ProxyCredential */
    const char *proxy_password;
    /* WinRM client configuration: Auth/CredSSP enabled on the client, and the
     * AllowFreshCredentials list of SPN patterns (e.g. "WSMAN/server01", "WSMAN/ *" without the
     * blank), NULL-terminated; NULL or empty refuses delegation. */
    bool credssp_enabled;
    const char *const *credssp_delegate;
    /* Called at the end of every post that reached the server, on the
     * posting thread (posts on two connections may call it at once); NULL
     * for none. */
    void (*on_exchange)(void *ctx, const etsn_http_exchange *x);
    void *on_exchange_ctx;
} etsn_http_config;

typedef struct etsn_http etsn_http;

/* Copies what it needs from cfg (the password is kept, zeroed on free). */
etsn_http *etsn_http_new(const etsn_http_config *cfg, etsn_error *err);

/* POSTs one SOAP envelope and returns the SOAP reply (decrypted). The first
 * call performs the authentication handshake. *http_status is the final
 * status (200, or 500 with a WS-Man fault in reply). Returns 0, or -1 with
 * err set in PowerShell's words (Access is denied., cannot connect, ...). */
int etsn_http_post(etsn_http *h, const uint8_t *soap, size_t len, etsn_buf *reply,
                   long *http_status, etsn_error *err);

/* Aborts a post in progress from another thread (Ctrl+C); it returns -1
 * with winrm_code 995. A cancel that arrives when no post is running is
 * forgotten when the next post starts. The connection is dropped; the next
 * post reconnects and authenticates again. */
void etsn_http_cancel(etsn_http *h);

/* The tls-server-end-point channel binding ("tls-server-end-point:" +
 * certificate hash) computed for the current https connection during a
 * Negotiate/Kerberos handshake; returns its length (0 if none) and copies up
 * to cap bytes. For tests and diagnostics. */
size_t etsn_http_channel_binding(const etsn_http *h, uint8_t *out, size_t cap);

void etsn_http_free(etsn_http *h);

#endif
