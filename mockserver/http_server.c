/* etsn-mockd's HTTP side on libmicrohttpd.
 *
 * Per request, in order (the way WinRM behind HTTP.sys answers):
 *   body larger than MAX_BODY              -> 413 (after reading it all)
 *   method other than POST                 -> 405
 *   path other than cfg->path              -> 404, event "not-found"
 *   "Authorization: Negotiate|Kerberos t"  -> one acceptor leg on this TCP
 *       connection's context: continue -> 401 + "WWW-Authenticate: <scheme> <t'>";
 *       failure -> 401 + fresh "WWW-Authenticate: Negotiate", event "auth-failed";
 *       complete -> the connection is authenticated; the final token (if any)
 *       goes in WWW-Authenticate of this response, which is 200 with an empty
 *       body for an empty request, else the handler's reply.
 *   "Authorization: Basic b64"             -> over TLS only, checked per request
 *   no Authorization on an authenticated connection -> the request is served
 *   otherwise                              -> 401 offering Negotiate / Basic
 * Served bodies: multipart/encrypted ones are unsealed with the connection's
 * context and the reply sealed the same way. Plain SOAP over plain HTTP after
 * Negotiate when encryption is required is refused with 401 and the context
 * dropped (WinRM with AllowUnencrypted=false answers NTLM clients that do not
 * seal with 401). Empty bodies on an authenticated connection get 200 and
 * never reach the handler.
 *
 * Request bodies are always read to the end before a 401 is queued: MHD
 * closes the connection when a reply is queued early, and NTLM/Kerberos
 * contexts live and die with the connection. */
#include "http_server.h"

#include "../ref/core/base64.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "../ref/auth/gss_auth.h"
#include "../ref/auth/winrm_crypt.h"

#define MAX_BODY ((size_t)16 * 1024 * 1024)
#define SOAP_CONTENT_TYPE "application/soap+xml;charset=UTF-8"

struct mock_http {
    struct MHD_Daemon *daemon;
    mock_http_config cfg; /* strings below are our own copies */
    char *listen, *path, *ntlm_user_file, *service_host;
    char *cert_pem, *key_pem;
    bool tls;
    int port;
    char url[128];
    atomic_uint_fast64_t next_conn_id;
};

/* Per TCP connection (the MHD socket context). Only this connection's thread
 * touches it, so no lock. */
typedef struct {
    uint64_t id;
    etsn_gss *gss;
    etsn_mech mech;
    bool authed;
    char *user;
} conn_state;

/* Per request (MHD con_cls). */
typedef struct {
    etsn_buf body;
    bool too_big;
} req_state;

static void emit(mock_http *m, const char *kind, const char *detail)
{
    if (m->cfg.on_event) m->cfg.on_event(m->cfg.ctx, kind, detail ? detail : "");
}

static void free_secret_str(char *s)
{
    if (s) {
        etsn_secure_zero(s, strlen(s));
        free(s);
    }
}

static void conn_reset_auth(conn_state *cs)
{
    if (cs->gss) etsn_gss_free(cs->gss);
    cs->gss = NULL;
    cs->authed = false;
    free(cs->user);
    cs->user = NULL;
}

/* An HTTP auth token: base64 up to the first blank (RFC 7235 token68). */
static int token_decode(const char *in, etsn_buf *out)
{
    while (*in == ' ') in++;
    size_t len = strcspn(in, " \t\r\n");
    return len ? etsn_base64_decode(in, len, out) : -1;
}

/* ---- responses ---- */

static enum MHD_Result send_reply(struct MHD_Connection *c, unsigned status, const void *body,
                                  size_t len, const char *ctype, const char *www1, const char *www2)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    if (ctype && len) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (www1) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, www1);
    if (www2) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, www2);
    MHD_add_response_header(r, MHD_HTTP_HEADER_SERVER, "Microsoft-HTTPAPI/2.0");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_unauthorized(mock_http *m, struct MHD_Connection *c)
{
    const char *neg = m->cfg.allow_negotiate ? "Negotiate" : NULL;
    const char *basic = (m->cfg.allow_basic && m->tls) ? "Basic realm=\"WSMAN\"" : NULL;
    if (!neg) neg = basic, basic = NULL;
    return send_reply(c, MHD_HTTP_UNAUTHORIZED, NULL, 0, NULL, neg, basic);
}

/* The client address of the request this thread is handling (for WinRS's
 * rsp:ClientIP); set just before the handler runs. */
static _Thread_local char tl_peer[64];

const char *mock_http_peer_address(void)
{
    return tl_peer;
}

static void note_peer(struct MHD_Connection *c)
{
    tl_peer[0] = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, tl_peer, sizeof tl_peer);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, tl_peer, sizeof tl_peer);
}

/* Hands a body on an authenticated request to the handler; unseals and
 * seals around it when the body came encrypted. www carries the final
 * handshake token, if this request completed one. */
static enum MHD_Result serve(mock_http *m, struct MHD_Connection *c, conn_state *cs,
                             const char *user, bool gss_session, req_state *rs, const char *www)
{
    const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    bool sealed = ctype && etsn_winrm_is_encrypted(ctype);
    char err[512] = "";
    etsn_buf plain = ETSN_BUF_INIT, reply = ETSN_BUF_INIT, out = ETSN_BUF_INIT;
    enum MHD_Result ret;

    if (rs->body.len == 0) {
        ret = send_reply(c, MHD_HTTP_OK, NULL, 0, NULL, www, NULL);
        goto out;
    }
    if (sealed) {
        if (!gss_session ||
            etsn_winrm_decrypt(cs->gss, rs->body.data, rs->body.len, &plain, err, sizeof err) < 0) {
            emit(m, "decrypt-failed", gss_session ? err : "encrypted body without a context");
            /* The sealing state is out of step: nothing more can be read
             * on this connection's context. */
            if (gss_session) conn_reset_auth(cs);
            ret = send_reply(c, MHD_HTTP_BAD_REQUEST, NULL, 0, NULL, NULL, NULL);
            goto out;
        }
    } else if (gss_session && !m->tls && m->cfg.require_encryption) {
        emit(m, "unencrypted-refused", user);
        conn_reset_auth(cs);
        ret = send_unauthorized(m, c);
        goto out;
    }
    const etsn_buf *in = sealed ? &plain : &rs->body;
    /* Counted (not logged) by the engine for the "encrypted" expectation. */
    emit(m, sealed ? "request-sealed" : m->tls ? "request-tls" : "request-plain", NULL);
    note_peer(c);
    int status =
        m->cfg.handle ? m->cfg.handle(m->cfg.ctx, cs->id, user, in->data, in->len, &reply) : 500;
    if (status < 100 || status > 599) status = 500;
    if (sealed) {
        if (etsn_winrm_encrypt(cs->gss, cs->mech, SOAP_CONTENT_TYPE, reply.data, reply.len, &out,
                               err, sizeof err) < 0) {
            emit(m, "encrypt-failed", err);
            conn_reset_auth(cs);
            ret = send_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, 0, NULL, NULL, NULL);
            goto out;
        }
        ret = send_reply(c, (unsigned)status, out.data, out.len,
                         etsn_winrm_crypt_content_type(cs->mech), www, NULL);
    } else {
        ret = send_reply(c, (unsigned)status, reply.data, reply.len, SOAP_CONTENT_TYPE, www, NULL);
    }
out:
    etsn_buf_free_secure(&plain);
    etsn_buf_free_secure(&reply);
    etsn_buf_free(&out);
    return ret;
}

/* The host part of the request's Host header ("[::1]:5985" -> "::1"). */
static bool host_header_name(struct MHD_Connection *c, char *out, size_t cap)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!h || !*h) return false;
    const char *end;
    if (*h == '[') {
        h++;
        end = strchr(h, ']');
        if (!end) return false;
    } else {
        end = strchr(h, ':');
        if (!end) end = h + strlen(h);
    }
    size_t n = (size_t)(end - h);
    if (n == 0 || n >= cap) return false;
    memcpy(out, h, n);
    out[n] = 0;
    return true;
}

static enum MHD_Result handle_negotiate(mock_http *m, struct MHD_Connection *c, conn_state *cs,
                                        req_state *rs, const char *scheme, const char *token)
{
    char err[512] = "";
    etsn_buf in = ETSN_BUF_INIT, out = ETSN_BUF_INIT, www = ETSN_BUF_INIT;
    enum MHD_Result ret;

    /* A token on an authenticated connection starts a new handshake. */
    if (cs->authed) conn_reset_auth(cs);
    if (token_decode(token, &in) < 0) {
        emit(m, "auth-failed", "malformed token");
        conn_reset_auth(cs);
        ret = send_unauthorized(m, c);
        goto out;
    }
    if (!cs->gss) {
        /* gss-ntlmssp puts the acceptor's name in its CHALLENGE as
         * MsvAvTargetName, and a gss-ntlmssp initiator refuses a name other
         * than the SPN it asked for (HTTP/<host it connected to>). Windows
         * sends no such name; to stay out of the way, accept as whatever
         * host the client addressed. */
        char host[256];
        const char *service = host_header_name(c, host, sizeof host) ? host : m->service_host;
        cs->gss = etsn_gss_acceptor_new(m->ntlm_user_file, service, err, sizeof err);
        if (!cs->gss) {
            emit(m, "auth-failed", err);
            ret = send_unauthorized(m, c);
            goto out;
        }
        cs->mech = strcasecmp(scheme, "Kerberos") == 0 ? ETSN_MECH_KERBEROS : ETSN_MECH_SPNEGO;
    }
    etsn_gss_status gs = etsn_gss_step(cs->gss, in.data, in.len, &out, err, sizeof err);
    if (gs == ETSN_GSS_ERROR) {
        emit(m, "auth-failed", err);
        conn_reset_auth(cs);
        ret = send_unauthorized(m, c);
        goto out;
    }
    if (out.len && (etsn_buf_printf(&www, "%s ", scheme) < 0 ||
                    etsn_base64_encode(out.data, out.len, &www) < 0)) {
        conn_reset_auth(cs);
        ret = send_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, 0, NULL, NULL, NULL);
        goto out;
    }
    if (gs == ETSN_GSS_CONTINUE) {
        ret = send_reply(c, MHD_HTTP_UNAUTHORIZED, NULL, 0, NULL, (char *)www.data, NULL);
        goto out;
    }
    const char *peer = etsn_gss_peer_name(cs->gss);
    cs->user = strdup(peer ? peer : "");
    cs->authed = cs->user != NULL;
    emit(m, "auth-ok", cs->user);
    ret = serve(m, c, cs, cs->user, true, rs, www.len ? (char *)www.data : NULL);
out:
    etsn_buf_free_secure(&in);
    etsn_buf_free_secure(&out);
    etsn_buf_free(&www);
    return ret;
}

static enum MHD_Result handle_basic(mock_http *m, struct MHD_Connection *c, conn_state *cs,
                                    req_state *rs, const char *token)
{
    if (!m->tls || !m->cfg.allow_basic) {
        emit(m, "auth-failed", m->tls ? "Basic not allowed" : "Basic over plain HTTP");
        return send_unauthorized(m, c);
    }
    etsn_buf cred = ETSN_BUF_INIT;
    enum MHD_Result ret;
    char *colon;
    if (token_decode(token, &cred) < 0 || !(colon = memchr(cred.data, ':', cred.len))) {
        emit(m, "auth-failed", "malformed Basic credentials");
        ret = send_unauthorized(m, c);
        goto out;
    }
    *colon = 0;
    const char *user = (char *)cred.data, *password = colon + 1;
    if (!m->cfg.check_basic || !m->cfg.check_basic(m->cfg.ctx, user, password)) {
        emit(m, "auth-failed", "Basic credentials rejected");
        ret = send_unauthorized(m, c);
        goto out;
    }
    /* Basic authenticates the request, not the connection. */
    ret = serve(m, c, cs, user, false, rs, NULL);
out:
    etsn_buf_free_secure(&cred);
    return ret;
}

/* ---- MHD callbacks ---- */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    mock_http *m = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_state *cs = calloc(1, sizeof *cs);
        if (cs) cs->id = atomic_fetch_add(&m->next_conn_id, 1) + 1;
        *socket_context = cs;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_state *cs = *socket_context;
        if (cs) {
            conn_reset_auth(cs);
            free(cs);
        }
        *socket_context = NULL;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req_state *rs = *con_cls;
    if (rs) {
        etsn_buf_free_secure(&rs->body);
        free(rs);
    }
    *con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    mock_http *m = cls;
    req_state *rs = *con_cls;
    if (!rs) {
        if (!(rs = calloc(1, sizeof *rs))) return MHD_NO;
        *con_cls = rs;
        /* An oversized body is still read (and dropped) so that the 413
         * goes out on a connection that stays usable, as the client expects
         * an answer rather than a reset in the middle of its upload. */
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!rs->too_big && (rs->body.len + *upload_data_size > MAX_BODY ||
                             etsn_buf_append(&rs->body, upload_data, *upload_data_size) < 0)) {
            rs->too_big = true;
            etsn_buf_free_secure(&rs->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The whole body is in (or was discarded). */
    if (rs->too_big) {
        emit(m, "too-large", "request body over the limit");
        return send_reply(c, 413, NULL, 0, NULL, NULL, NULL);
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return send_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, 0, NULL, NULL, NULL);
    /* http.sys matches WinRM's URL prefix without regard to case: PowerShell
     * asks for /WSMan, pypsrp for /wsman, and both reach the listener. */
    if (strcasecmp(url, m->path) != 0) {
        emit(m, "not-found", url);
        return send_reply(c, MHD_HTTP_NOT_FOUND, NULL, 0, NULL, NULL, NULL);
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_state *cs = ci ? ci->socket_context : NULL;
    if (!cs) return MHD_NO;

    const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (authz) {
        size_t sl = strcspn(authz, " ");
        const char *token = authz + sl;
        while (*token == ' ') token++;
        if (m->cfg.allow_negotiate && ((sl == 9 && strncasecmp(authz, "Negotiate", 9) == 0) ||
                                       (sl == 8 && strncasecmp(authz, "Kerberos", 8) == 0))) {
            /* Answer with the canonical spelling of the client's scheme. */
            return handle_negotiate(m, c, cs, rs, sl == 9 ? "Negotiate" : "Kerberos", token);
        }
        if (sl == 5 && strncasecmp(authz, "Basic", 5) == 0)
            return handle_basic(m, c, cs, rs, token);
        emit(m, "auth-failed", "unsupported authorization scheme");
        return send_unauthorized(m, c);
    }
    if (cs->authed) return serve(m, c, cs, cs->user, true, rs, NULL);
    return send_unauthorized(m, c);
}

/* ---- life cycle ---- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    etsn_buf b = ETSN_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (etsn_buf_append(&b, chunk, n) < 0) {
            etsn_buf_free_secure(&b);
            fclose(f);
            return NULL;
        }
    }
    int bad = ferror(f);
    fclose(f);
    etsn_secure_zero(chunk, sizeof chunk);
    if (bad) {
        etsn_buf_free_secure(&b);
        return NULL;
    }
    if (!b.data && etsn_buf_reserve(&b, 0) < 0) return NULL;
    return etsn_buf_steal(&b);
}

/* "127.0.0.1:0" or "[::1]:5985" into a socket address. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, bool *v6)
{
    char host[64];
    const char *port;
    memset(ss, 0, sizeof *ss);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host) return -1;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = 0;
        port = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host) return -1;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = 0;
        port = colon + 1;
    }
    char *end;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || p > 65535) return -1;
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)p);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)p);
        *v6 = true;
        return 0;
    }
    return -1;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = true;
    return d;
}

mock_http *mock_http_start(const mock_http_config *cfg, char *err, size_t errlen)
{
    mock_http *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    bool oom = false;
    m->cfg = *cfg;
    m->listen = dup_or_null(cfg->listen ? cfg->listen : "127.0.0.1:0", &oom);
    m->path = dup_or_null(cfg->path ? cfg->path : "/wsman", &oom);
    m->ntlm_user_file = dup_or_null(cfg->ntlm_user_file, &oom);
    m->service_host = dup_or_null(cfg->service_host ? cfg->service_host : "localhost", &oom);
    m->cfg.listen = m->listen;
    m->cfg.path = m->path;
    m->cfg.ntlm_user_file = m->ntlm_user_file;
    m->cfg.service_host = m->service_host;
    m->cfg.tls_cert_file = m->cfg.tls_key_file = NULL;
    atomic_init(&m->next_conn_id, 0);
    if (oom) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    struct sockaddr_storage ss;
    bool v6 = false;
    if (parse_listen(m->listen, &ss, &v6) < 0) {
        snprintf(err, errlen, "cannot parse listen address '%s' (want host:port or [v6]:port)",
                 m->listen);
        goto fail;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (v6) flags |= MHD_USE_IPv6;
    if (cfg->tls_cert_file || cfg->tls_key_file) {
        if (!cfg->tls_cert_file || !cfg->tls_key_file) {
            snprintf(err, errlen, "TLS needs both a certificate and a key file");
            goto fail;
        }
        if (!(m->cert_pem = read_file(cfg->tls_cert_file))) {
            snprintf(err, errlen, "cannot read certificate %s", cfg->tls_cert_file);
            goto fail;
        }
        if (!(m->key_pem = read_file(cfg->tls_key_file))) {
            snprintf(err, errlen, "cannot read key %s", cfg->tls_key_file);
            goto fail;
        }
        m->tls = true;
        flags |= MHD_USE_TLS;
    }

    if (m->tls) {
        m->daemon = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, m, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, m, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024,
            MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_HTTPS_MEM_CERT, m->cert_pem,
            MHD_OPTION_HTTPS_MEM_KEY, m->key_pem, MHD_OPTION_END);
    } else {
        /* Large Kerberos tokens (PAC) in headers need more than MHD's 32 KiB
         * default connection memory. */
        m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
                                     (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_CONNECTION,
                                     on_connection, m, MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024,
                                     MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_END);
    }
    if (!m->daemon) {
        snprintf(err, errlen, "cannot listen on %s%s", m->listen,
                 m->tls ? " (or the TLS certificate/key were refused)" : "");
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    m->port = di ? di->port : 0;
    char host[64];
    if (v6) {
        char a[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof a);
        snprintf(host, sizeof host, "[%s]", a);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
    }
    snprintf(m->url, sizeof m->url, "%s://%s:%d%s", m->tls ? "https" : "http", host, m->port,
             m->path);
    return m;
fail:
    mock_http_stop(m);
    return NULL;
}

const char *mock_http_url(const mock_http *m)
{
    return m->url;
}

int mock_http_port(const mock_http *m)
{
    return m->port;
}

void mock_http_stop(mock_http *m)
{
    if (!m) return;
    /* Closes every connection; their contexts are freed in on_connection. */
    if (m->daemon) MHD_stop_daemon(m->daemon);
    free(m->listen);
    free(m->path);
    free(m->ntlm_user_file);
    free(m->service_host);
    free(m->cert_pem);
    free_secret_str(m->key_pem);
    etsn_secure_zero(m, sizeof *m);
    free(m);
}
