/* Both ends of the HTTP layer against each other: etsn_http (libcurl) as
 * the client, mock_http (libmicrohttpd) as the server, NTLM through SPNEGO
 * via gss-ntlmssp, WinRM message encryption, Basic and Negotiate over TLS
 * with a certificate made at test time. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../ref/net/winrm_http.h"
#include "http_server.h"

#define DOMAIN "TESTDOM"
#define USER "alice"
#define PASSWORD "S3cret-pa55!"
#define BASIC_USER "bob"
#define BASIC_PASSWORD "B4sic-pw"

static char tmpdir[64];
static char users_path[128], krb5_conf[128], cert_path[128], key_path[128];
/* A certificate for a name the client never uses. */
static char cert2_path[128], key2_path[128];

/* What the handler and the event hook saw, shared with the test body. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    uint64_t conn_ids[16];
    char user[128];
    char events[2048];
    bool second_arrived;
    bool first_saw_second;
    bool release_blocker;
} seen;

static seen S;

static void seen_reset(void)
{
    pthread_mutex_lock(&S.mu);
    S.calls = 0;
    memset(S.conn_ids, 0, sizeof S.conn_ids);
    S.user[0] = 0;
    S.events[0] = 0;
    S.second_arrived = S.first_saw_second = S.release_blocker = false;
    pthread_mutex_unlock(&S.mu);
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

/* Echoes "<echo>" + request. "first" waits for "second" (both in flight at
 * once); "block" waits until released or 3 s pass (for cancel). */
static int echo_handler(void *ctx, uint64_t conn_id, const char *user, const uint8_t *soap,
                        size_t len, etsn_buf *reply)
{
    pthread_mutex_lock(&S.mu);
    if (S.calls < 16) S.conn_ids[S.calls] = conn_id;
    S.calls++;
    snprintf(S.user, sizeof S.user, "%s", user ? user : "");
    if (len == 6 && memcmp(soap, "second", 6) == 0) {
        S.second_arrived = true;
        pthread_cond_broadcast(&S.cv);
    } else if (len == 5 && memcmp(soap, "first", 5) == 0) {
        struct timespec ts;
        deadline_in(&ts, 5000);
        while (!S.second_arrived)
            if (pthread_cond_timedwait(&S.cv, &S.mu, &ts) != 0) break;
        S.first_saw_second = S.second_arrived;
    } else if (len == 5 && memcmp(soap, "block", 5) == 0) {
        struct timespec ts;
        deadline_in(&ts, 3000);
        while (!S.release_blocker)
            if (pthread_cond_timedwait(&S.cv, &S.mu, &ts) != 0) break;
    }
    pthread_mutex_unlock(&S.mu);
    etsn_buf_append_str(reply, "<echo>");
    etsn_buf_append(reply, soap, len);
    return 200;
}

static void on_event(void *ctx, const char *kind, const char *detail)
{
    pthread_mutex_lock(&S.mu);
    size_t n = strlen(S.events);
    snprintf(S.events + n, sizeof S.events - n, "%s;", kind);
    pthread_mutex_unlock(&S.mu);
}

static bool has_event(const char *kind)
{
    char want[64];
    snprintf(want, sizeof want, "%s;", kind);
    pthread_mutex_lock(&S.mu);
    bool r = strstr(S.events, want) != NULL;
    pthread_mutex_unlock(&S.mu);
    return r;
}

static bool check_basic(void *ctx, const char *user, const char *password)
{
    return strcmp(user, BASIC_USER) == 0 && strcmp(password, BASIC_PASSWORD) == 0;
}

static int setup_env(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/etsn-http-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(users_path, sizeof users_path, "%s/users", tmpdir);
    snprintf(krb5_conf, sizeof krb5_conf, "%s/krb5.conf", tmpdir);
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", tmpdir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", tmpdir);
    FILE *f = fopen(users_path, "w");
    if (!f) return -1;
    fprintf(f, "%s:%s:%s\n", DOMAIN, USER, PASSWORD);
    fclose(f);
    /* An empty realm setup so SPNEGO cannot reach for the system's KDCs. */
    f = fopen(krb5_conf, "w");
    if (!f) return -1;
    fputs("[libdefaults]\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n", f);
    fclose(f);
    setenv("KRB5_CONFIG", krb5_conf, 1);
    setenv("KRB5CCNAME", "MEMORY:etsn-http-test", 1);
    setenv("KRB5RCACHETYPE", "none", 1);
    unsetenv("KRB5_KTNAME");
    unsetenv("NTLM_USER_FILE");
    snprintf(cert2_path, sizeof cert2_path, "%s/cert2.pem", tmpdir);
    snprintf(key2_path, sizeof key2_path, "%s/key2.pem", tmpdir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 1 "
             "-keyout %s -out %s >/dev/null 2>&1",
             key_path, cert_path);
    if (system(cmd) != 0) return -1;
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=elsewhere "
             "-addext subjectAltName=DNS:elsewhere -days 1 "
             "-keyout %s -out %s >/dev/null 2>&1",
             key2_path, cert2_path);
    if (system(cmd) != 0) return -1;
    return 0;
}

static void cleanup_env(void)
{
    unlink(users_path);
    unlink(krb5_conf);
    unlink(cert_path);
    unlink(key_path);
    unlink(cert2_path);
    unlink(key2_path);
    rmdir(tmpdir);
}

static mock_http *start_server_cert(const char *cert, const char *key, bool require_encryption)
{
    mock_http_config mc = {
        .listen = "127.0.0.1:0",
        .path = "/wsman",
        .tls_cert_file = cert,
        .tls_key_file = key,
        .ntlm_user_file = users_path,
        .service_host = "localhost",
        .allow_negotiate = true,
        .allow_basic = true,
        .require_encryption = require_encryption,
        .check_basic = check_basic,
        .handle = echo_handler,
        .on_event = on_event,
    };
    char err[256] = "";
    mock_http *m = mock_http_start(&mc, err, sizeof err);
    ck_assert_msg(m != NULL, "mock_http_start: %s", err);
    ck_assert_int_gt(mock_http_port(m), 0);
    seen_reset();
    return m;
}

static mock_http *start_server(bool tls, bool require_encryption)
{
    return start_server_cert(tls ? cert_path : NULL, tls ? key_path : NULL, require_encryption);
}

/* The host of a URL, as a client derives its SPN HTTP/<host> from it (and
 * the mock's acceptor takes its name from the Host header). */
static const char *url_host(const char *url)
{
    static char host[64];
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = *p == '[' ? strcspn(++p, "]") : strcspn(p, ":/");
    snprintf(host, sizeof host, "%.*s", (int)n, p);
    return host;
}

static etsn_http_config neg_config(const char *url, const char *password)
{
    etsn_http_config c = {
        .url = url,
        .host = url_host(url),
        .auth = ETSN_AUTH_DEFAULT,
        .user = DOMAIN "\\" USER,
        .password = password,
        .encrypt = true,
        .connect_timeout_ms = 5000,
        .request_timeout_ms = 20000,
    };
    return c;
}

static int post_str(etsn_http *h, const char *msg, etsn_buf *reply, long *status, etsn_error *e)
{
    etsn_buf_reset(reply);
    return etsn_http_post(h, (const uint8_t *)msg, strlen(msg), reply, status, e);
}

START_TEST(negotiate_encrypted_echo_three_posts)
{
    mock_http *m = start_server(false, true);
    etsn_http_config c = neg_config(mock_http_url(m), PASSWORD);
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert_msg(h != NULL, "%s", e.message);
    etsn_buf reply = ETSN_BUF_INIT;
    const char *msgs[] = {"<s:Envelope>one</s:Envelope>", "<two/>", "three"};
    for (int i = 0; i < 3; i++) {
        long status = 0;
        ck_assert_msg(post_str(h, msgs[i], &reply, &status, &e) == 0, "post %d: %s", i, e.message);
        ck_assert_int_eq(status, 200);
        char want[64];
        snprintf(want, sizeof want, "<echo>%s", msgs[i]);
        ck_assert_str_eq((char *)reply.data, want);
    }
    pthread_mutex_lock(&S.mu);
    ck_assert_int_eq(S.calls, 3);
    ck_assert(S.conn_ids[0] != 0);
    ck_assert(S.conn_ids[0] == S.conn_ids[1] && S.conn_ids[1] == S.conn_ids[2]);
    ck_assert_str_eq(S.user, DOMAIN "\\" USER);
    pthread_mutex_unlock(&S.mu);
    ck_assert(!has_event("unencrypted-refused"));
    etsn_buf_free(&reply);
    etsn_http_free(h);
    mock_http_stop(m);
}
END_TEST

START_TEST(negotiate_wrong_password_is_access_denied)
{
    mock_http *m = start_server(false, true);
    etsn_http_config c = neg_config(mock_http_url(m), "wrong-password");
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    ck_assert_int_eq(post_str(h, "<x/>", &reply, &status, &e), -1);
    ck_assert_uint_eq(e.winrm_code, ETSN_ERR_ACCESS_DENIED);
    ck_assert_str_eq(e.message, "Access is denied.");
    ck_assert_int_eq(e.http_status, 401);
    ck_assert(has_event("auth-failed"));
    ck_assert_int_eq(S.calls, 0);
    etsn_buf_free(&reply);
    etsn_http_free(h);
    mock_http_stop(m);
}
END_TEST

START_TEST(unencrypted_negotiate_over_http_refused)
{
    mock_http *m = start_server(false, true);
    etsn_http_config c = neg_config(mock_http_url(m), PASSWORD);
    c.encrypt = false;
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    ck_assert_int_eq(post_str(h, "<x/>", &reply, &status, &e), -1);
    ck_assert_str_eq(e.message, "Access is denied.");
    ck_assert(has_event("unencrypted-refused"));
    ck_assert_int_eq(S.calls, 0);
    etsn_buf_free(&reply);
    etsn_http_free(h);
    mock_http_stop(m);
}
END_TEST

START_TEST(wrong_path_is_404_text)
{
    mock_http *m = start_server(false, true);
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/nothere", mock_http_port(m));
    etsn_http_config c = neg_config(url, PASSWORD);
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    ck_assert_int_eq(post_str(h, "<x/>", &reply, &status, &e), -1);
    ck_assert_uint_eq(e.winrm_code, ETSN_ERR_HTTP_NOT_FOUND);
    ck_assert_int_eq(e.http_status, 404);
    ck_assert_str_eq(e.message,
                     "The WinRM client sent a request to an HTTP server and got a response "
                     "saying the requested HTTP URL was not available. This is usually returned "
                     "by a HTTP server that does not support the WS-Management protocol.");
    ck_assert(has_event("not-found"));
    etsn_buf_free(&reply);
    etsn_http_free(h);
    mock_http_stop(m);
}
END_TEST

START_TEST(connection_refused_text)
{
    /* A port that was free a moment ago: bind, read it, close. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/wsman", ntohs(a.sin_port));
    etsn_http_config c = neg_config(url, PASSWORD);
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    ck_assert_int_eq(post_str(h, "<x/>", &reply, &status, &e), -1);
    ck_assert_uint_eq(e.winrm_code, ETSN_ERR_CANNOT_CONNECT);
    ck_assert_ptr_nonnull(strstr(e.message, "WinRM cannot complete the operation. Verify that"));
    etsn_buf_free(&reply);
    etsn_http_free(h);
}
END_TEST

START_TEST(basic_over_http_refused_without_connecting)
{
    /* A listener nobody serves: after the refusal it must have no pending
     * connection. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s, 4), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/wsman", ntohs(a.sin_port));
    etsn_http_config c = {
        .url = url, .auth = ETSN_AUTH_BASIC, .user = BASIC_USER, .password = BASIC_PASSWORD};
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert_ptr_null(h);
    ck_assert_str_eq(e.message, "Basic authentication is not supported over HTTP on Unix.");
    struct timeval tv = {0, 100000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int cfd = accept(s, NULL, NULL);
    ck_assert_int_eq(cfd, -1);
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    close(s);
}
END_TEST

static etsn_http_config basic_tls_config(const char *url, const char *ca_file)
{
    etsn_http_config c = {.url = url,
                          .host = "localhost",
                          .auth = ETSN_AUTH_BASIC,
                          .user = BASIC_USER,
                          .password = BASIC_PASSWORD,
                          .ca_file = ca_file,
                          .connect_timeout_ms = 5000,
                          .request_timeout_ms = 20000};
    return c;
}

START_TEST(https_basic_with_ca_file)
{
    mock_http *m = start_server(true, true);
    ck_assert(strncmp(mock_http_url(m), "https://", 8) == 0);
    etsn_http_config c = basic_tls_config(mock_http_url(m), cert_path);
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert_msg(h != NULL, "%s", e.message);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(post_str(h, "<tls/>", &reply, &status, &e) == 0, "%s", e.message);
        ck_assert_int_eq(status, 200);
        ck_assert_str_eq((char *)reply.data, "<echo><tls/>");
    }
    ck_assert_str_eq(S.user, BASIC_USER);
    etsn_http_free(h);

    /* Wrong Basic password: Access is denied. */
    c.password = "nope";
    etsn_error_clear(&e);
    h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    ck_assert_int_eq(post_str(h, "<tls/>", &reply, &status, &e), -1);
    ck_assert_str_eq(e.message, "Access is denied.");
    ck_assert_uint_eq(e.winrm_code, ETSN_ERR_ACCESS_DENIED);
    etsn_buf_free(&reply);
    etsn_http_free(h);
    mock_http_stop(m);
}
END_TEST

START_TEST(https_untrusted_certificate_text)
{
    mock_http *m = start_server(true, true);
    etsn_http_config c = basic_tls_config(mock_http_url(m), NULL);
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    ck_assert_int_eq(post_str(h, "<x/>", &reply, &status, &e), -1);
    char want[512];
    snprintf(want, sizeof want,
             "The server certificate on the destination computer (127.0.0.1:%d) has the "
             "following errors: \nThe SSL certificate is signed by an unknown certificate "
             "authority.",
             mock_http_port(m));
    ck_assert_str_eq(e.message, want);
    ck_assert_uint_eq(e.winrm_code, 12175);
    ck_assert_int_eq(S.calls, 0);
    etsn_http_free(h);

    /* SkipCACheck lets it through. */
    c.skip_ca_check = true;
    h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    ck_assert_msg(post_str(h, "<x/>", &reply, &status, &e) == 0, "%s", e.message);
    ck_assert_str_eq((char *)reply.data, "<echo><x/>");
    etsn_http_free(h);

    etsn_buf_free(&reply);
    mock_http_stop(m);
}
END_TEST

START_TEST(https_name_mismatch_text)
{
    /* The certificate names only "elsewhere"; we connect to 127.0.0.1. */
    mock_http *m = start_server_cert(cert2_path, key2_path, true);
    etsn_http_config c = basic_tls_config(mock_http_url(m), cert2_path);
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    char want[512];
    ck_assert_int_eq(post_str(h, "<x/>", &reply, &status, &e), -1);
    snprintf(want, sizeof want,
             "The server certificate on the destination computer (127.0.0.1:%d) has the "
             "following errors: \nThe SSL certificate contains a common name (CN) that does "
             "not match the hostname.",
             mock_http_port(m));
    ck_assert_str_eq(e.message, want);
    etsn_http_free(h);

    /* Untrusted and misnamed: both problems, in WinRM's order. */
    c.ca_file = NULL;
    h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    ck_assert_int_eq(post_str(h, "<x/>", &reply, &status, &e), -1);
    snprintf(want, sizeof want,
             "The server certificate on the destination computer (127.0.0.1:%d) has the "
             "following errors: \nThe SSL certificate is signed by an unknown certificate "
             "authority.\nThe SSL certificate contains a common name (CN) that does not match "
             "the hostname.",
             mock_http_port(m));
    ck_assert_str_eq(e.message, want);
    etsn_http_free(h);

    /* SkipCNCheck with the CA trusted works. */
    c.ca_file = cert2_path;
    c.skip_cn_check = true;
    h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    ck_assert_msg(post_str(h, "<x/>", &reply, &status, &e) == 0, "%s", e.message);
    ck_assert_str_eq((char *)reply.data, "<echo><x/>");
    ck_assert_int_eq(S.calls, 1);
    etsn_http_free(h);
    etsn_buf_free(&reply);
    mock_http_stop(m);
}
END_TEST

START_TEST(https_negotiate_with_channel_binding)
{
    mock_http *m = start_server(true, true);
    etsn_http_config c = neg_config(mock_http_url(m), PASSWORD);
    c.ca_file = cert_path;
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(post_str(h, "<cbt/>", &reply, &status, &e) == 0, "%s", e.message);
        ck_assert_str_eq((char *)reply.data, "<echo><cbt/>");
    }
    ck_assert(S.conn_ids[0] == S.conn_ids[1]);
    ck_assert_str_eq(S.user, DOMAIN "\\" USER);
    /* The binding is "tls-server-end-point:" + SHA-256 of the certificate
     * (signed with SHA-256, so hashed with it). */
    FILE *f = fopen(cert_path, "r");
    ck_assert(f != NULL);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert(x != NULL);
    uint8_t want[64], got[128];
    unsigned int wl = 0;
    memcpy(want, "tls-server-end-point:", 21);
    ck_assert(X509_digest(x, EVP_sha256(), want + 21, &wl));
    X509_free(x);
    ck_assert_uint_eq(etsn_http_channel_binding(h, got, sizeof got), 21 + wl);
    ck_assert(memcmp(got, want, 21 + wl) == 0);
    etsn_buf_free(&reply);
    etsn_http_free(h);
    mock_http_stop(m);
}
END_TEST

START_TEST(ipv6_loopback_listen)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&a6, sizeof a6) == 0;
    if (probe >= 0) close(probe);
    if (!have_v6) return; /* no IPv6 loopback in this sandbox */
    mock_http_config mc = {.listen = "[::1]:0",
                           .path = "/wsman",
                           .ntlm_user_file = users_path,
                           .service_host = "localhost",
                           .allow_negotiate = true,
                           .require_encryption = true,
                           .handle = echo_handler,
                           .on_event = on_event};
    char err[256] = "";
    mock_http *m = mock_http_start(&mc, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    char want_url[96];
    snprintf(want_url, sizeof want_url, "http://[::1]:%d/wsman", mock_http_port(m));
    ck_assert_str_eq(mock_http_url(m), want_url);
    etsn_http_config c = neg_config(mock_http_url(m), PASSWORD);
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    ck_assert_msg(post_str(h, "<v6/>", &reply, &status, &e) == 0, "%s", e.message);
    ck_assert_str_eq((char *)reply.data, "<echo><v6/>");
    etsn_buf_free(&reply);
    etsn_http_free(h);
    mock_http_stop(m);
}
END_TEST

START_TEST(bad_listen_address_is_refused)
{
    mock_http_config mc = {.listen = "localhost:99999", .handle = echo_handler};
    char err[256] = "";
    ck_assert_ptr_null(mock_http_start(&mc, err, sizeof err));
    ck_assert(strstr(err, "listen address") != NULL);
}
END_TEST

typedef struct {
    etsn_http *h;
    const char *msg;
    int rc;
    long status;
    etsn_error e;
    etsn_buf reply;
} post_job;

static void *post_thread(void *arg)
{
    post_job *j = arg;
    j->rc = post_str(j->h, j->msg, &j->reply, &j->status, &j->e);
    return NULL;
}

START_TEST(two_connections_in_flight)
{
    mock_http *m = start_server(false, true);
    etsn_http_config c = neg_config(mock_http_url(m), PASSWORD);
    etsn_error e;
    etsn_http *h1 = etsn_http_new(&c, &e), *h2 = etsn_http_new(&c, &e);
    ck_assert(h1 && h2);
    post_job j1 = {.h = h1, .msg = "first", .reply = ETSN_BUF_INIT};
    etsn_error_clear(&j1.e);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, post_thread, &j1), 0);
    /* Wait until the first is inside the handler, then send the second. */
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&S.mu);
        int calls = S.calls;
        pthread_mutex_unlock(&S.mu);
        if (calls >= 1) break;
        usleep(10000);
    }
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    ck_assert_msg(post_str(h2, "second", &reply, &status, &e) == 0, "%s", e.message);
    ck_assert_str_eq((char *)reply.data, "<echo>second");
    pthread_join(t, NULL);
    ck_assert_msg(j1.rc == 0, "%s", j1.e.message);
    ck_assert_str_eq((char *)j1.reply.data, "<echo>first");
    ck_assert(S.first_saw_second);
    ck_assert(S.conn_ids[0] != S.conn_ids[1]);
    etsn_buf_free(&reply);
    etsn_buf_free(&j1.reply);
    etsn_http_free(h1);
    etsn_http_free(h2);
    mock_http_stop(m);
}
END_TEST

typedef struct {
    etsn_http *h;
    int delay_ms;
} cancel_job;

static void *cancel_thread(void *arg)
{
    cancel_job *j = arg;
    usleep((useconds_t)j->delay_ms * 1000);
    etsn_http_cancel(j->h);
    return NULL;
}

START_TEST(cancel_aborts_post)
{
    mock_http *m = start_server(false, true);
    etsn_http_config c = neg_config(mock_http_url(m), PASSWORD);
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    /* Authenticate first so the cancel hits the blocked request. */
    ck_assert_int_eq(post_str(h, "warm", &reply, &status, &e), 0);
    cancel_job cj = {.h = h, .delay_ms = 300};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_thread, &cj), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(post_str(h, "block", &reply, &status, &e), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(t, NULL);
    ck_assert_uint_eq(e.winrm_code, 995);
    ck_assert(t1.tv_sec - t0.tv_sec < 3);
    pthread_mutex_lock(&S.mu);
    S.release_blocker = true;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    /* The handle stays usable: it reconnects and authenticates again. */
    ck_assert_msg(post_str(h, "again", &reply, &status, &e) == 0, "%s", e.message);
    ck_assert_str_eq((char *)reply.data, "<echo>again");
    etsn_buf_free(&reply);
    etsn_http_free(h);
    mock_http_stop(m);
}
END_TEST

START_TEST(oversized_body_is_413)
{
    mock_http *m = start_server(false, false);
    etsn_http_config c = neg_config(mock_http_url(m), PASSWORD);
    c.encrypt = false;
    etsn_error e;
    etsn_error_clear(&e);
    etsn_http *h = etsn_http_new(&c, &e);
    ck_assert(h != NULL);
    size_t big = (size_t)17 * 1024 * 1024;
    uint8_t *body = malloc(big);
    ck_assert(body != NULL);
    memset(body, 'a', big);
    etsn_buf reply = ETSN_BUF_INIT;
    long status = 0;
    ck_assert_int_eq(etsn_http_post(h, body, big, &reply, &status, &e), -1);
    ck_assert_int_eq(e.http_status, 413);
    ck_assert(has_event("too-large"));
    free(body);
    /* Plain SOAP is served when encryption is not required. */
    ck_assert_msg(post_str(h, "<small/>", &reply, &status, &e) == 0, "%s", e.message);
    ck_assert_str_eq((char *)reply.data, "<echo><small/>");
    etsn_buf_free(&reply);
    etsn_http_free(h);
    mock_http_stop(m);
}
END_TEST

int main(void)
{
    pthread_mutex_init(&S.mu, NULL);
    pthread_cond_init(&S.cv, NULL);
    if (setup_env() < 0) {
        fprintf(stderr, "test_http_server: cannot set up the temp dir or certificate\n");
        return 1;
    }
    Suite *s = suite_create("http_server");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, negotiate_encrypted_echo_three_posts);
    tcase_add_test(tc, negotiate_wrong_password_is_access_denied);
    tcase_add_test(tc, unencrypted_negotiate_over_http_refused);
    tcase_add_test(tc, wrong_path_is_404_text);
    tcase_add_test(tc, connection_refused_text);
    tcase_add_test(tc, basic_over_http_refused_without_connecting);
    tcase_add_test(tc, https_basic_with_ca_file);
    tcase_add_test(tc, https_untrusted_certificate_text);
    tcase_add_test(tc, https_name_mismatch_text);
    tcase_add_test(tc, https_negotiate_with_channel_binding);
    tcase_add_test(tc, two_connections_in_flight);
    tcase_add_test(tc, ipv6_loopback_listen);
    tcase_add_test(tc, bad_listen_address_is_refused);
    tcase_add_test(tc, cancel_aborts_post);
    tcase_add_test(tc, oversized_body_is_413);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup_env();
    return failed ? 1 : 0;
}
