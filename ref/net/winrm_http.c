/* HTTP(S) transport for WinRM through one libcurl easy handle.
 *
 * Handshake (Negotiate/Kerberos; the security context is bound to the TCP
 * connection, as in WinRM):
 *   https only: POST, empty body, no Authorization -> 401. This opens TLS so
 *     that the tls-server-end-point channel binding can go into the first
 *     token (Kerberos has no later chance to carry it).
 *   POST, empty body, "Authorization: <Negotiate|Kerberos> <token>" -> 401
 *     with "WWW-Authenticate: <scheme> <token>", repeated while the context
 *     continues; the last leg gets 200 (empty body), whose WWW-Authenticate
 *     token (SPNEGO mechListMIC, Kerberos AP-REP) completes the context.
 *   Then each SOAP message: POST without Authorization; sealed as
 *   multipart/encrypted over http (pypsrp and Windows do the handshake on an
 *   empty body first for this reason: nothing can be sealed before the
 *   context exists), plain over https.
 * Basic (https only): "Authorization: Basic ..." on every POST, with the body.
 *
 * Replies: libcurl decodes chunked bodies and reads close-delimited ones
 * (no Content-Length) to EOF, so both are accepted as complete bodies; the
 * bound (ETSN_HTTP_MAX_REPLY) applies to the decoded body. A close-delimited
 * reply ends the connection, so the next post reconnects and, for
 * connection-bound auth, authenticates again (see the 401 retry below). */
#include "winrm_http.h"

#include "../core/base64.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../auth/gss_auth.h"
#include "../auth/winrm_crypt.h"

#define ETSN_HTTP_MAX_REPLY ((size_t)64 * 1024 * 1024)
#define SOAP_CONTENT_TYPE "application/soap+xml;charset=UTF-8"
#define CB_PREFIX "tls-server-end-point:"
#define MAX_AUTH_LEGS 10

/* WinHTTP/WinRM codes without a name in error.h. */
#define WINHTTP_SECURE_FAILURE 12175u
#define WINHTTP_CONNECTION_ERROR 12030u
#define WIN32_OPERATION_ABORTED 995u

#define MSG_CANNOT_CONNECT                                                                         \
    "WinRM cannot complete the operation. Verify that the specified computer name is valid, "      \
    "that the computer is accessible over the network, and that a firewall exception for the "     \
    "WinRM service is enabled and allows access from this computer. By default, the WinRM "        \
    "firewall exception for public profiles limits access to remote computers within the same "    \
    "local subnet."
#define MSG_NOT_FOUND                                                                              \
    "The WinRM client sent a request to an HTTP server and got a response saying the requested "   \
    "HTTP URL was not available. This is usually returned by a HTTP server that does not support " \
    "the WS-Management protocol."
#define MSG_TIMEOUT                                                                                \
    "The WinRM client cannot complete the operation within the time specified. Check if the "      \
    "machine name is valid and is reachable over the network and firewall exception for Windows "  \
    "Remote Management service is enabled."

/* Certificate problems seen by the verify callback, reported together the
 * way WinRM lists them. */
enum {
    TLS_UNKNOWN_CA = 1,
    TLS_CN_MISMATCH = 2,
    TLS_EXPIRED = 4,
    TLS_OTHER = 8,
};

struct etsn_http {
    CURL *curl;
    char *url;
    char *host;      /* URL host without brackets: certificate name checks */
    char *spn_host;  /* for HTTP/<host> */
    char *host_port; /* "host:port" for messages */
    char *user;
    char *password;
    char *basic_auth; /* "Basic <b64>", a secret */
    etsn_auth_kind auth;
    bool https;
    bool use_gss;
    bool encrypt;
    bool skip_ca, skip_cn;
    char *ca_file;
    long connect_timeout_ms, request_timeout_ms;
    void (*on_exchange)(void *ctx, const etsn_http_exchange *x);
    void *on_exchange_ctx;
    uint64_t conn_no; /* of the current TCP connection, for on_exchange */

    etsn_gss *gss;
    etsn_mech mech;
    bool authed;
    atomic_bool cancel;

    /* Per transfer. */
    etsn_buf reply;
    bool reply_too_big;
    char *www_token;    /* base64 token from WWW-Authenticate for our scheme */
    bool www_offers;    /* the server offered our scheme at all */
    char *content_type; /* of the reply */
    unsigned tls_problems;
    /* Channel binding of the current connection (https). */
    uint8_t cb[sizeof CB_PREFIX + EVP_MAX_MD_SIZE];
    size_t cb_len;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t g_connections; /* numbers connections for on_exchange */
static int g_ctx_index = -1;
static bool g_init_ok;

static void global_init(void)
{
    g_init_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    g_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static double monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void free_secret(char **s)
{
    if (*s) {
        etsn_secure_zero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

static const char *scheme_name(const etsn_http *h)
{
    return h->mech == ETSN_MECH_KERBEROS ? "Kerberos" : "Negotiate";
}

/* ---- TLS: extra trust anchors, certificate problem recording ---- */

static int is_ip_literal(const char *host)
{
    return strchr(host, ':') || strspn(host, "0123456789.") == strlen(host);
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    etsn_http *h = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), g_ctx_index) : NULL;
    if (!h) return ok;
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);
    if (leaf && !h->skip_cn && !(h->tls_problems & TLS_CN_MISMATCH)) {
        /* libcurl checks the name only after the chain passed; check it here
         * too so that both problems can be reported at once, as WinRM does. */
        int match = is_ip_literal(h->host) ? X509_check_ip_asc(leaf, h->host, 0)
                                           : X509_check_host(leaf, h->host, 0, 0, NULL);
        if (match != 1) h->tls_problems |= TLS_CN_MISMATCH;
    }
    if (!ok) {
        switch (X509_STORE_CTX_get_error(xs)) {
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_CERT_UNTRUSTED:
        case X509_V_ERR_INVALID_CA:
            h->tls_problems |= TLS_UNKNOWN_CA;
            break;
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID:
            h->tls_problems |= TLS_EXPIRED;
            break;
        default:
            h->tls_problems |= TLS_OTHER;
        }
    }
    return ok; /* never change libcurl's verdict */
}

static CURLcode ssl_ctx_cb(CURL *curl, void *sslctx, void *userptr)
{
    etsn_http *h = userptr;
    SSL_CTX *ctx = sslctx;
    /* ca_file adds to the system trust store (CURLOPT_CAINFO would replace
     * it). */
    if (h->ca_file && !X509_STORE_load_file(SSL_CTX_get_cert_store(ctx), h->ca_file))
        return CURLE_SSL_CACERT_BADFILE;
    SSL_CTX_set_ex_data(ctx, g_ctx_index, h);
    SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), verify_cb);
    return CURLE_OK;
}

/* RFC 5929 tls-server-end-point: hash of the server certificate with its
 * signature digest, MD5 and SHA-1 raised to SHA-256. */
static void compute_channel_binding(etsn_http *h)
{
    const struct curl_tlssessioninfo *ti = NULL;
    if (curl_easy_getinfo(h->curl, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || !ti ||
        ti->backend != CURLSSLBACKEND_OPENSSL || !ti->internals)
        return;
    X509 *cert = SSL_get1_peer_certificate((SSL *)ti->internals);
    if (!cert) return;
    int md_nid = NID_undef;
    if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL)) md_nid = NID_undef;
    if (md_nid == NID_md5 || md_nid == NID_sha1 || md_nid == NID_undef) md_nid = NID_sha256;
    const EVP_MD *md = EVP_get_digestbynid(md_nid);
    unsigned int n = 0;
    size_t plen = strlen(CB_PREFIX);
    if (md && X509_digest(cert, md, h->cb + plen, &n)) {
        memcpy(h->cb, CB_PREFIX, plen);
        h->cb_len = plen + n;
    }
    X509_free(cert);
}

/* ---- libcurl callbacks ---- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    etsn_http *h = userp;
    size_t n = size * nmemb;
    if (h->reply.len + n > ETSN_HTTP_MAX_REPLY || etsn_buf_append(&h->reply, data, n) < 0) {
        h->reply_too_big = true;
        return 0; /* aborts the transfer */
    }
    return n;
}

static char *trimmed_dup(const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    return strndup(s, len);
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *userp)
{
    etsn_http *h = userp;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new response (e.g. after an interim one): forget the last. */
        free(h->www_token);
        h->www_token = NULL;
        h->www_offers = false;
        free(h->content_type);
        h->content_type = NULL;
        if (h->https && h->use_gss && h->cb_len == 0) compute_channel_binding(h);
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon) return n;
    size_t nlen = (size_t)(colon - data);
    const char *val = colon + 1;
    size_t vlen = n - nlen - 1;
    if (nlen == 16 && strncasecmp(data, "WWW-Authenticate", 16) == 0) {
        char *v = trimmed_dup(val, vlen);
        if (!v) return 0;
        const char *scheme = scheme_name(h);
        size_t sl = strlen(scheme);
        if (strncasecmp(v, scheme, sl) == 0 && (v[sl] == 0 || v[sl] == ' ' || v[sl] == ',')) {
            h->www_offers = true;
            const char *tok = v + sl;
            while (*tok == ' ') tok++;
            size_t tl = strcspn(tok, ", ");
            if (tl) {
                free(h->www_token);
                h->www_token = strndup(tok, tl);
            }
        }
        free(v);
    } else if (nlen == 12 && strncasecmp(data, "Content-Type", 12) == 0) {
        free(h->content_type);
        h->content_type = trimmed_dup(val, vlen);
    }
    return n;
}

static int xferinfo_cb(void *userp, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    etsn_http *h = userp;
    return atomic_load(&h->cancel) ? 1 : 0;
}

/* ---- errors ---- */

static void set_tls_error(etsn_http *h, etsn_error *err)
{
    unsigned p = h->tls_problems;
    if (h->skip_ca) p &= ~(unsigned)(TLS_UNKNOWN_CA | TLS_EXPIRED | TLS_OTHER);
    if (h->skip_cn) p &= ~(unsigned)TLS_CN_MISMATCH;
    if (!p) p = h->skip_cn ? TLS_OTHER : TLS_CN_MISMATCH;
    etsn_buf m = ETSN_BUF_INIT;
    etsn_buf_printf(&m,
                    "The server certificate on the destination computer (%s) has the following "
                    "errors: ",
                    h->host_port);
    if (p & TLS_UNKNOWN_CA)
        etsn_buf_append_str(&m, "\nThe SSL certificate is signed by an unknown certificate "
                                "authority.");
    if (p & TLS_CN_MISMATCH)
        etsn_buf_append_str(&m, "\nThe SSL certificate contains a common name (CN) that does "
                                "not match the hostname.");
    if (p & TLS_EXPIRED) etsn_buf_append_str(&m, "\nThe SSL certificate is expired.");
    if (p & TLS_OTHER) etsn_buf_append_str(&m, "\nThe SSL certificate is invalid.");
    etsn_error_set(err, WINHTTP_SECURE_FAILURE, "%s", m.data ? (char *)m.data : "");
    etsn_buf_free(&m);
}

static void set_curl_error(etsn_http *h, CURLcode rc, etsn_error *err)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_PROXY:
        etsn_error_set(err, ETSN_ERR_CANNOT_CONNECT, MSG_CANNOT_CONNECT);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        etsn_error_set(err, ETSN_ERR_OPERATION_TIMEOUT, MSG_TIMEOUT);
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        etsn_error_set(err, WIN32_OPERATION_ABORTED,
                       "The I/O operation has been aborted because of either a thread exit or "
                       "an application request.");
        break;
    case CURLE_WRITE_ERROR:
        if (h->reply_too_big) {
            etsn_error_set(err, 0,
                           "The WinRM client received a reply larger than %zu bytes from %s and "
                           "dropped the connection.",
                           ETSN_HTTP_MAX_REPLY, h->host_port);
            break;
        }
        /* fall through */
    default:
        if (rc == CURLE_PEER_FAILED_VERIFICATION ||
            (rc == CURLE_SSL_CONNECT_ERROR && h->tls_problems)) {
            set_tls_error(h, err);
        } else if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_CACERT_BADFILE ||
                   rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CIPHER) {
            etsn_error_set(err, WINHTTP_SECURE_FAILURE, "A security error occurred");
        } else {
            etsn_error_set(err, WINHTTP_CONNECTION_ERROR,
                           "The connection with the server was terminated abnormally");
        }
    }
}

static void set_status_error(etsn_http *h, long status, etsn_error *err)
{
    err->http_status = (int)status;
    if (status == 401 || status == 403)
        etsn_error_set(err, ETSN_ERR_ACCESS_DENIED, "Access is denied.");
    else if (status == 404)
        etsn_error_set(err, ETSN_ERR_HTTP_NOT_FOUND, MSG_NOT_FOUND);
    else if (status == 500)
        etsn_error_set(err, 0,
                       "The WinRM client received an HTTP server error status (500), but the "
                       "remote service did not include any other information about the cause of "
                       "the failure.");
    else
        etsn_error_set(err, 0,
                       "The WinRM client received an HTTP status code of %ld from the remote "
                       "WS-Management service.",
                       status);
}

/* ---- one request ---- */

/* Sends one POST on the kept-alive connection. *new_conn tells whether
 * libcurl had to open a connection for it (the old one was gone). */
static int do_post(etsn_http *h, const char *authz, const char *ctype, const uint8_t *body,
                   size_t len, long *status, bool *new_conn, etsn_error *err)
{
    struct curl_slist *hl = NULL, *t;
    char *authz_hdr = NULL, *ctype_hdr = NULL;
    int rc = -1;

    etsn_buf_reset(&h->reply);
    h->reply_too_big = false;
    h->tls_problems = 0;
    if (authz && asprintf(&authz_hdr, "Authorization: %s", authz) < 0) authz_hdr = NULL;
    if (asprintf(&ctype_hdr, "Content-Type: %s", ctype) < 0) ctype_hdr = NULL;
    if ((authz && !authz_hdr) || !ctype_hdr) goto oom;
    if (!(t = curl_slist_append(hl, ctype_hdr))) goto oom;
    hl = t;
    /* No 100-continue round trip: WinRM does not need it and it would add a
     * leg to every message. */
    if (!(t = curl_slist_append(hl, "Expect:"))) goto oom;
    hl = t;
    if (authz_hdr) {
        if (!(t = curl_slist_append(hl, authz_hdr))) goto oom;
        hl = t;
    }
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);

    CURLcode cc = curl_easy_perform(h->curl);
    long nconn = 0;
    curl_easy_getinfo(h->curl, CURLINFO_NUM_CONNECTS, &nconn);
    *new_conn = nconn > 0;
    if (nconn > 0) h->conn_no = atomic_fetch_add(&g_connections, 1) + 1;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
    if (cc != CURLE_OK) {
        set_curl_error(h, cc, err);
        err->http_status = (int)*status;
        /* The connection is gone or unusable, and with it the context. */
        h->authed = false;
        goto out;
    }
    err->http_status = (int)*status;
    rc = 0;
    goto out;
oom:
    etsn_error_set(err, 0, "Out of memory.");
out:
    curl_slist_free_all(hl);
    if (authz_hdr) etsn_secure_zero(authz_hdr, strlen(authz_hdr));
    free(authz_hdr);
    free(ctype_hdr);
    return rc;
}

static void drop_context(etsn_http *h)
{
    if (h->gss) etsn_gss_free(h->gss);
    h->gss = NULL;
    h->authed = false;
}

static void set_denied(etsn_error *err, long status)
{
    etsn_error_set(err, ETSN_ERR_ACCESS_DENIED, "Access is denied.");
    err->http_status = (int)status;
}

/* The connection-bound handshake on empty-body POSTs (see the top). */
static int handshake(etsn_http *h, etsn_error *err)
{
    char gerr[512] = "";
    long status = 0;
    bool new_conn = false;
    etsn_buf out = ETSN_BUF_INIT, in = ETSN_BUF_INIT, hdr = ETSN_BUF_INIT;
    int rc = -1;

    drop_context(h);
    h->cb_len = 0;
    if (h->https) {
        /* Opens TLS and learns the certificate before the first token. */
        if (do_post(h, NULL, SOAP_CONTENT_TYPE, NULL, 0, &status, &new_conn, err) < 0) goto out;
        if (status != 401 && status != 200) {
            set_status_error(h, status, err);
            goto out;
        }
    }
    h->gss = etsn_gss_initiator_new(h->mech, h->user, h->password, h->spn_host,
                                    h->cb_len ? h->cb : NULL, h->cb_len, gerr, sizeof gerr);
    if (!h->gss) {
        /* Bad credential form or no usable mechanism: WinRM says no. */
        set_denied(err, status);
        goto out;
    }
    etsn_gss_status gs = etsn_gss_step(h->gss, NULL, 0, &out, gerr, sizeof gerr);
    for (int leg = 0;; leg++) {
        if (gs == ETSN_GSS_ERROR || leg >= MAX_AUTH_LEGS) {
            set_denied(err, status);
            goto out;
        }
        if (gs == ETSN_GSS_COMPLETE && out.len == 0) break;
        etsn_buf_reset(&hdr);
        if (etsn_buf_printf(&hdr, "%s ", scheme_name(h)) < 0 ||
            etsn_base64_encode(out.data, out.len, &hdr) < 0) {
            etsn_error_set(err, 0, "Out of memory.");
            goto out;
        }
        if (do_post(h, (char *)hdr.data, SOAP_CONTENT_TYPE, NULL, 0, &status, &new_conn, err) < 0)
            goto out;
        etsn_buf_reset(&out);
        etsn_buf_reset(&in);
        bool have_token = h->www_token && h->www_token[0];
        if (have_token && etsn_base64_decode(h->www_token, strlen(h->www_token), &in) < 0) {
            set_denied(err, status);
            goto out;
        }
        if (status == 401) {
            /* Another leg, unless the server gave up (fresh offer, no token). */
            if (!have_token || gs == ETSN_GSS_COMPLETE) {
                set_denied(err, status);
                goto out;
            }
            gs = etsn_gss_step(h->gss, in.data, in.len, &out, gerr, sizeof gerr);
            if (gs == ETSN_GSS_COMPLETE && out.len == 0) {
                /* We are done but the server wants more: it refused. */
                set_denied(err, status);
                goto out;
            }
            continue;
        }
        if (status >= 200 && status < 300) {
            if (have_token && gs != ETSN_GSS_COMPLETE)
                gs = etsn_gss_step(h->gss, in.data, in.len, &out, gerr, sizeof gerr);
            if (gs != ETSN_GSS_COMPLETE || !etsn_gss_complete(h->gss)) {
                set_denied(err, status);
                goto out;
            }
            break;
        }
        set_status_error(h, status, err);
        goto out;
    }
    h->authed = true;
    rc = 0;
out:
    etsn_buf_free_secure(&out);
    etsn_buf_free_secure(&in);
    etsn_buf_free_secure(&hdr);
    if (rc < 0) drop_context(h);
    return rc;
}

etsn_http *etsn_http_new(const etsn_http_config *cfg, etsn_error *err)
{
    pthread_once(&g_once, global_init);
    if (!g_init_ok || g_ctx_index < 0) {
        etsn_error_set(err, 0, "libcurl could not be initialised.");
        return NULL;
    }
    etsn_http *h = calloc(1, sizeof *h);
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    if (!h || !u) goto oom;
    atomic_init(&h->cancel, false);
    h->auth = cfg->auth;

    if (!cfg->url || curl_url_set(u, CURLUPART_URL, cfg->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        etsn_error_set(err, ETSN_ERR_CANNOT_CONNECT, MSG_CANNOT_CONNECT);
        goto fail;
    }
    h->https = strcasecmp(scheme, "https") == 0;
    if (!h->https && strcasecmp(scheme, "http") != 0) {
        etsn_error_set(err, ETSN_ERR_CANNOT_CONNECT, MSG_CANNOT_CONNECT);
        goto fail;
    }
    size_t hl = strlen(host);
    h->host = (host[0] == '[' && hl >= 2) ? strndup(host + 1, hl - 2) : strdup(host);
    if (!h->host || asprintf(&h->host_port, "%s:%s", host, port) < 0) {
        h->host_port = NULL;
        goto oom;
    }

    switch (cfg->auth) {
    case ETSN_AUTH_BASIC:
        /* PowerShell on Unix refuses this before any connection. */
        if (!h->https) {
            etsn_error_set(err, ETSN_ERR_INVALID_AUTH,
                           "Basic authentication is not supported over HTTP on Unix.");
            goto fail;
        }
        if (!cfg->user || !cfg->password) {
            etsn_error_set(err, ETSN_ERR_INVALID_AUTH,
                           "The WinRM client cannot process the request. Requests must include "
                           "user name and password when Basic authentication mechanism is used. "
                           "Add the user name and password or change the authentication "
                           "mechanism and try the request again.");
            goto fail;
        }
        break;
    case ETSN_AUTH_DEFAULT:
    case ETSN_AUTH_NEGOTIATE:
    case ETSN_AUTH_NEGOTIATE_IMPLICIT:
        h->use_gss = true;
        h->mech = ETSN_MECH_SPNEGO;
        break;
    case ETSN_AUTH_KERBEROS:
        h->use_gss = true;
        h->mech = ETSN_MECH_KERBEROS;
        break;
    default:
        etsn_error_set(err, ETSN_ERR_INVALID_AUTH,
                       "The WinRM client cannot process the request. The authentication "
                       "mechanism requested by the client is not supported by this client.");
        goto fail;
    }
    /* Over https TLS protects the body; WinRM rejects sealing inside it. */
    h->encrypt = h->use_gss && !h->https && cfg->encrypt;
    h->skip_ca = cfg->skip_ca_check;
    h->skip_cn = cfg->skip_cn_check;
    h->connect_timeout_ms = cfg->connect_timeout_ms;
    h->request_timeout_ms = cfg->request_timeout_ms;
    h->on_exchange = cfg->on_exchange;
    h->on_exchange_ctx = cfg->on_exchange_ctx;
    h->url = strdup(cfg->url);
    h->spn_host = strdup(cfg->host ? cfg->host : h->host);
    if (!h->url || !h->spn_host) goto oom;
    if ((cfg->ca_file && !(h->ca_file = strdup(cfg->ca_file))) ||
        (cfg->user && !(h->user = strdup(cfg->user))) ||
        (cfg->password && !(h->password = strdup(cfg->password))))
        goto oom;
    if (cfg->auth == ETSN_AUTH_BASIC) {
        etsn_buf cred = ETSN_BUF_INIT, hdr = ETSN_BUF_INIT;
        int bad = etsn_buf_printf(&cred, "%s:%s", cfg->user, cfg->password) < 0 ||
                  etsn_buf_append_str(&hdr, "Basic ") < 0 ||
                  etsn_base64_encode(cred.data, cred.len, &hdr) < 0;
        etsn_buf_free_secure(&cred);
        if (bad) {
            etsn_buf_free_secure(&hdr);
            goto oom;
        }
        h->basic_auth = etsn_buf_steal(&hdr);
    }

    if (!(h->curl = curl_easy_init())) goto oom;
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "Microsoft WinRM Client");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* WinRM does not use the env proxy */
    if (h->connect_timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    if (h->request_timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->request_timeout_ms);
    if (h->https) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->skip_ca ? 0L : 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->skip_cn ? 0L : 2L);
        curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
        curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, h);
        /* A new connection must redo the connection-bound handshake with its
         * own channel binding; session resumption would not change that. */
        curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return h;
oom:
    etsn_error_set(err, 0, "Out of memory.");
fail:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    etsn_http_free(h);
    return NULL;
}

int etsn_http_post(etsn_http *h, const uint8_t *soap, size_t len, etsn_buf *reply,
                   long *http_status, etsn_error *err)
{
    char gerr[512] = "";
    etsn_buf sealed = ETSN_BUF_INIT, plain = ETSN_BUF_INIT;
    long status = 0;
    bool new_conn = false;
    int rc = -1;
    double started = monotonic_ms();

    /* A cancel aimed at an earlier post must not abort this one. */
    atomic_store(&h->cancel, false);
    *http_status = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h->use_gss && !h->authed && handshake(h, err) < 0) goto out;
        const char *ctype = SOAP_CONTENT_TYPE;
        const uint8_t *body = soap;
        size_t blen = len;
        if (h->encrypt) {
            etsn_buf_reset(&sealed);
            if (etsn_winrm_encrypt(h->gss, h->mech, SOAP_CONTENT_TYPE, soap, len, &sealed, gerr,
                                   sizeof gerr) < 0) {
                etsn_error_set(err, 0, "The WinRM client cannot encrypt the message: %s", gerr);
                drop_context(h);
                goto out;
            }
            ctype = etsn_winrm_crypt_content_type(h->mech);
            body = sealed.data;
            blen = sealed.len;
        }
        if (do_post(h, h->basic_auth, ctype, body, blen, &status, &new_conn, err) < 0) {
            drop_context(h);
            goto out;
        }
        /* The server dropped the kept-alive connection (idle timeout, or a
         * close-delimited reply) and libcurl reconnected: the new connection
         * is not authenticated. Authenticate it and send once more. */
        if (status == 401 && h->use_gss && new_conn && attempt == 0) {
            drop_context(h);
            continue;
        }
        break;
    }
    *http_status = status;
    if (status == 401) {
        drop_context(h);
        set_denied(err, status);
        goto out;
    }
    if (status != 200 && status != 500 && status != 400) {
        set_status_error(h, status, err);
        goto out;
    }
    etsn_buf_reset(reply);
    if (h->content_type && etsn_winrm_is_encrypted(h->content_type)) {
        if (!h->gss || !h->authed ||
            etsn_winrm_decrypt(h->gss, h->reply.data, h->reply.len, &plain, gerr, sizeof gerr) <
                0) {
            etsn_error_set(err, 0, "The WinRM client cannot decrypt the reply: %s", gerr);
            /* Sealing state is out of step now; start over next time. */
            drop_context(h);
            goto out;
        }
        if (etsn_buf_append(reply, plain.data, plain.len) < 0) goto oom;
    } else {
        if (h->encrypt && h->reply.len > 0) {
            /* Everything must be sealed once encryption is on; a plain body
             * here could have been injected. */
            etsn_error_set(err, 0,
                           "The WinRM client received an unencrypted reply on an encrypted "
                           "connection.");
            goto out;
        }
        if (etsn_buf_append(reply, h->reply.data, h->reply.len) < 0) goto oom;
    }
    if (status == 500 && reply->len == 0) {
        set_status_error(h, status, err);
        goto out;
    }
    rc = 0;
    goto out;
oom:
    etsn_error_set(err, 0, "Out of memory.");
out:
    if (h->on_exchange && status != 0) {
        etsn_http_exchange x = {
            h->conn_no, started, monotonic_ms() - started,     status,
            soap,       len,     rc == 0 ? reply->data : NULL, rc == 0 ? reply->len : 0};
        h->on_exchange(h->on_exchange_ctx, &x);
    }
    etsn_buf_free_secure(&plain);
    etsn_buf_free(&sealed);
    /* Reply bodies may hold secrets (SecureString exchanges). */
    if (h->reply.data) etsn_secure_zero(h->reply.data, h->reply.len);
    etsn_buf_reset(&h->reply);
    atomic_store(&h->cancel, false);
    return rc;
}

void etsn_http_cancel(etsn_http *h)
{
    if (h) atomic_store(&h->cancel, true);
}

size_t etsn_http_channel_binding(const etsn_http *h, uint8_t *out, size_t cap)
{
    if (!h) return 0;
    if (out) memcpy(out, h->cb, h->cb_len < cap ? h->cb_len : cap);
    return h->cb_len;
}

void etsn_http_free(etsn_http *h)
{
    if (!h) return;
    if (h->curl) curl_easy_cleanup(h->curl);
    if (h->gss) etsn_gss_free(h->gss);
    free(h->url);
    free(h->host);
    free(h->spn_host);
    free(h->host_port);
    free(h->user);
    free_secret(&h->password);
    free_secret(&h->basic_auth);
    free(h->ca_file);
    etsn_buf_free_secure(&h->reply);
    free(h->www_token);
    free(h->content_type);
    etsn_secure_zero(h, sizeof *h);
    free(h);
}
