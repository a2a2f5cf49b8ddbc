#include "pcap_import.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../ref/auth/ntlm_unseal.h"
#include "../ref/auth/winrm_crypt.h"
#include "http_split.h"

/* One connection's state while its messages are walked. */
typedef struct {
    import_result *r;
    const tcp_conv *c;
    uint64_t conn;
    etsn_ntlm_unseal *u;
    unsigned derived; /* the unsealer generation the keys belong to */
    etsn_error *err;
} conn_state;

static void note(const import_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const import_result *r, const char *fmt, ...)
{
    if (!r->notes) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->notes, fmt, ap);
    va_end(ap);
    fputc('\n', r->notes);
}

/* Remembers the scheme of the first auth header the client sent. */
static void note_scheme(import_result *r, const etsn_buf *v)
{
    static const char *const schemes[] = {"Negotiate", "NTLM", "Kerberos", "Basic", "CredSSP"};
    if (r->auth[0] || !v->data) return;
    const char *s = (const char *)v->data;
    size_t n = strcspn(s, " \t,");
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (n == strlen(schemes[i]) && strncasecmp(s, schemes[i], n) == 0)
            snprintf(r->auth, sizeof r->auth, "%s", schemes[i]);
}

static int add_tokens(conn_state *st, const http_msg *m, bool from_client)
{
    char msg[512];
    for (size_t i = 0; i < m->n_auth; i++) {
        if (from_client) note_scheme(st->r, &m->auth[i]);
        if (!st->u) {
            st->u = etsn_ntlm_unseal_new(msg, sizeof msg);
            if (!st->u) goto fail;
        }
        if (etsn_ntlm_unseal_add_header(st->u, from_client, (const char *)m->auth[i].data,
                                        m->auth[i].len, msg, sizeof msg) < 0)
            goto fail;
    }
    return 0;
fail:
    etsn_error_set(st->err, 0, "connection %" PRIu64 ": %s", st->conn, msg);
    return -1;
}

/* Keys for the current handshake, asking for the password the first time. */
static int ensure_keys(conn_state *st)
{
    char msg[512];
    if (st->u && etsn_ntlm_unseal_other_mech(st->u) && !etsn_ntlm_unseal_has_handshake(st->u)) {
        etsn_error_set(st->err, 0,
                       "connection %" PRIu64 ": the session authenticated with Kerberos; only "
                       "NTLM-sealed sessions can be opened with a password",
                       st->conn);
        return -1;
    }
    if (!st->u || !etsn_ntlm_unseal_has_handshake(st->u)) {
        etsn_error_set(st->err, 0,
                       "connection %" PRIu64 ": a sealed body, but no NTLM handshake before it "
                       "(the capture must hold the connection from its first request)",
                       st->conn);
        return -1;
    }
    if (etsn_ntlm_unseal_generation(st->u) == st->derived) return 0;
    if (!st->r->password) {
        char user[600];
        snprintf(user, sizeof user, "%s\\%s", etsn_ntlm_unseal_domain(st->u),
                 etsn_ntlm_unseal_user(st->u));
        if (!st->r->ask || !(st->r->password = st->r->ask(st->r->ask_ctx, user, st->err)))
            return -1;
    }
    int rc = etsn_ntlm_unseal_derive(st->u, st->r->password, msg, sizeof msg);
    if (rc == ETSN_NTLM_BAD_PASSWORD) {
        etsn_error_set(st->err, ETSN_ERR_LOGON_FAILURE, "%s.", msg);
        return IMPORT_BAD_PASSWORD;
    }
    if (rc < 0) {
        etsn_error_set(st->err, 0, "connection %" PRIu64 ": %s", st->conn, msg);
        return -1;
    }
    st->derived = etsn_ntlm_unseal_generation(st->u);
    return 0;
}

/* The body as SOAP: opened when sealed, copied when plain. */
static int open_body(conn_state *st, const http_msg *m, bool from_client, etsn_buf *out)
{
    char msg[512];
    if (m->body.len == 0) return 0;
    const char *ctype = m->content_type.data ? (const char *)m->content_type.data : "";
    if (!etsn_winrm_is_encrypted(ctype)) return etsn_buf_append(out, m->body.data, m->body.len);
    if (strcasestr(ctype, "Kerberos-session-encrypted")) {
        etsn_error_set(st->err, 0,
                       "connection %" PRIu64 ": the bodies are sealed with Kerberos; only "
                       "NTLM-sealed sessions can be opened with a password",
                       st->conn);
        return -1;
    }
    int rc = ensure_keys(st);
    if (rc < 0) return rc;
    if (etsn_ntlm_unseal_body(st->u, from_client, m->body.data, m->body.len, out, msg, sizeof msg) <
        0) {
        etsn_error_set(st->err, 0, "connection %" PRIu64 ": %s at byte %zu: %s", st->conn,
                       from_client ? "request" : "response", m->start, msg);
        return -1;
    }
    st->r->sealed = true;
    st->r->sealed_bodies++;
    return 0;
}

static int push_exchange(conn_state *st, const http_msg *req, const http_msg *rsp, bool have_rsp,
                         import_exchange *x)
{
    import_result *r = st->r;
    if (r->n >= IMPORT_MAX_EXCHANGES) {
        etsn_error_set(st->err, 0, "more than %d exchanges", IMPORT_MAX_EXCHANGES);
        return -1;
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        import_exchange *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            etsn_error_set(st->err, 0, "out of memory");
            return -1;
        }
        r->v = v;
        r->cap = cap;
    }
    x->conn = st->conn;
    x->start = tcp_conv_time(st->c, true, req->start);
    x->end = have_rsp && rsp->end > 0 ? tcp_conv_time(st->c, false, rsp->end - 1) : x->start;
    if (x->end < x->start) x->end = x->start;
    x->status = have_rsp ? rsp->status : 0;
    if (!r->endpoint[0])
        snprintf(r->endpoint, sizeof r->endpoint, "http://%s%s",
                 req->host.data ? (const char *)req->host.data : "",
                 req->url.data ? (const char *)req->url.data : "");
    r->v[r->n++] = *x;
    return 0;
}

/* The next final (non-1xx) response; 0 when the capture has none left. */
static int next_response(http_splitter *sp, const tcp_conv *c, size_t *off, http_msg *rsp,
                         char *msg, size_t len)
{
    for (;;) {
        int rc =
            http_splitter_next(sp, c->bytes[0].data, c->bytes[0].len, off, true, rsp, msg, len);
        if (rc != 1 || rsp->status >= 200) return rc;
        http_msg_free(rsp);
    }
}

/* One request and its response. 1: done, 0: the requests ended, <0: error. */
static int walk_exchange(conn_state *st, http_splitter *qs, http_splitter *ps, size_t *qoff,
                         size_t *poff)
{
    char msg[512];
    http_msg req, rsp;
    const tcp_conv *c = st->c;
    int rc = http_splitter_next(qs, c->bytes[1].data, c->bytes[1].len, qoff, true, &req, msg,
                                sizeof msg);
    if (rc <= 0) {
        if (rc < 0) note(st->r, "connection %" PRIu64 ": %s; the rest is ignored", st->conn, msg);
        return 0;
    }
    st->r->requests++;
    int have = next_response(ps, c, poff, &rsp, msg, sizeof msg);
    if (have < 0) note(st->r, "connection %" PRIu64 ": %s", st->conn, msg);
    if (have == 0)
        note(st->r,
             "connection %" PRIu64 ": the request at byte %zu has no response in the capture",
             st->conn, req.start);
    import_exchange x = {0};
    rc = add_tokens(st, &req, true);
    if (rc == 0) rc = open_body(st, &req, true, &x.request);
    if (rc == 0 && have == 1) rc = add_tokens(st, &rsp, false);
    if (rc == 0 && have == 1) rc = open_body(st, &rsp, false, &x.response);
    if (rc == 0 && req.body.len == 0) st->r->handshake_legs++;
    if (rc == 0 && req.body.len > 0) rc = push_exchange(st, &req, &rsp, have == 1, &x);
    if (rc < 0 || req.body.len == 0) {
        etsn_buf_free_secure(&x.request);
        etsn_buf_free_secure(&x.response);
    }
    http_msg_free(&req);
    if (have == 1) http_msg_free(&rsp);
    return rc < 0 ? rc : 1;
}

static bool looks_like_request(const etsn_buf *b)
{
    size_t i = 0;
    while (i < b->len && i < 16 && b->data[i] >= 'A' && b->data[i] <= 'Z') i++;
    return i > 0 && i < b->len && b->data[i] == ' ';
}

int import_conv(import_result *r, const tcp_conv *in, uint64_t conn, etsn_error *err)
{
    /* tshark names first the peer it saw first: the server, when the capture
     * began after the connection did. The requests tell which side is which. */
    tcp_conv swapped;
    const tcp_conv *c = in;
    if (!looks_like_request(&in->bytes[1]) && looks_like_request(&in->bytes[0])) {
        swapped = *in;
        for (int d = 0; d < 2; d++) {
            swapped.bytes[d] = in->bytes[1 - d];
            swapped.marks[d] = in->marks[1 - d];
            swapped.n_marks[d] = in->n_marks[1 - d];
        }
        memcpy(swapped.client, in->server, sizeof swapped.client);
        memcpy(swapped.server, in->client, sizeof swapped.server);
        c = &swapped;
    }
    if (c->bytes[1].len == 0) return 0;
    if (!looks_like_request(&c->bytes[1])) {
        bool tls = c->bytes[1].len >= 2 && c->bytes[1].data[0] == 0x16 && c->bytes[1].data[1] == 3;
        note(r, "TCP stream %" PRIu64 " (%s -> %s) skipped: %s", c->stream, c->client, c->server,
             tls ? "TLS (HTTPS cannot be decrypted; capture HTTP with message encryption)"
                 : "not HTTP");
        return 0;
    }
    r->connections++;
    conn_state st = {r, c, conn, NULL, 0, err};
    http_splitter *qs = http_splitter_new(true), *ps = http_splitter_new(false);
    size_t qoff = 0, poff = 0;
    int rc = qs && ps ? 1 : -1;
    if (rc < 0) etsn_error_set(err, 0, "out of memory");
    while (rc == 1) rc = walk_exchange(&st, qs, ps, &qoff, &poff);
    http_splitter_free(qs);
    http_splitter_free(ps);
    etsn_ntlm_unseal_free(st.u);
    return rc < 0 ? rc : 0;
}

static int by_start(const void *a, const void *b)
{
    const import_exchange *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->conn < y->conn ? -1 : x->conn > y->conn;
}

int import_write(import_result *r, bool scrub, etsn_transcript_sink sink, void *ctx,
                 etsn_error *err)
{
    etsn_transcript_meta meta = {.source = "etsn-pcap-import",
                                 .endpoint = r->endpoint[0] ? r->endpoint : NULL,
                                 .auth = r->auth[0] ? r->auth : NULL,
                                 .sealed = r->sealed,
                                 .scrub = scrub,
                                 .secret = r->password};
    if (r->n > 0) qsort(r->v, r->n, sizeof *r->v, by_start);
    etsn_transcript_writer *w = etsn_transcript_writer_new(&meta, sink, ctx, err);
    if (!w) return -1;
    int rc = 0;
    double t0 = r->n > 0 ? r->v[0].start : 0;
    for (size_t i = 0; i < r->n && rc == 0; i++) {
        const import_exchange *e = &r->v[i];
        etsn_transcript_exchange x = {.conn = e->conn,
                                      .start_ms = (e->start - t0) * 1000.0,
                                      .duration_ms = (e->end - e->start) * 1000.0,
                                      .status = e->status,
                                      .request = e->request.data,
                                      .request_len = e->request.len,
                                      .response = e->response.data,
                                      .response_len = e->response.len};
        rc = etsn_transcript_add(w, &x, err);
    }
    if (rc == 0) rc = etsn_transcript_finish(w, err);
    etsn_transcript_writer_free(w);
    return rc;
}

void import_result_free(import_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        etsn_buf_free_secure(&r->v[i].request);
        etsn_buf_free_secure(&r->v[i].response);
    }
    free(r->v);
    r->v = NULL;
    r->n = r->cap = 0;
}
