/* The capture importer without tshark: HTTP splitting, tshark's follow YAML,
 * and a whole sealed connection (a real SPNEGO handshake between our GSSAPI
 * initiator and acceptor, bodies sealed as etsn and etsn-mockd seal them)
 * imported with the password into a transcript. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ref/auth/gss_auth.h"
#include "../ref/auth/winrm_crypt.h"
#include "../ref/core/base64.h"
#include "capture.h"
#include "http_split.h"
#include "pcap_import.h"

#define DOMAIN "TESTDOM"
#define USER "alice"
#define PASSWORD "S3cret-pa55!"

static char tmpdir[64], users_path[128], krb5_conf[128];

static int setup_env(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/etsn-import-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    snprintf(users_path, sizeof(users_path), "%s/users", tmpdir);
    snprintf(krb5_conf, sizeof(krb5_conf), "%s/krb5.conf", tmpdir);
    FILE *f = fopen(users_path, "w");
    if (!f) return -1;
    fprintf(f, "%s:%s:%s\n", DOMAIN, USER, PASSWORD);
    fclose(f);
    f = fopen(krb5_conf, "w");
    if (!f) return -1;
    fputs("[libdefaults]\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n", f);
    fclose(f);
    setenv("KRB5_CONFIG", krb5_conf, 1);
    setenv("KRB5CCNAME", "MEMORY:etsn-test", 1);
    setenv("KRB5RCACHETYPE", "none", 1);
    unsetenv("KRB5_KTNAME");
    unsetenv("NTLM_USER_FILE");
    return 0;
}

static void cleanup_env(void)
{
    unlink(users_path);
    unlink(krb5_conf);
    rmdir(tmpdir);
}

/* ---- http_split ---- */

START_TEST(test_http_split)
{
    static const char req[] = "POST /wsman HTTP/1.1\r\nHost: h:5985\r\nAuthorization: Negotiate "
                              "AAAA\r\nContent-Length: 5\r\n\r\nhello"
                              "POST /wsman?x=1 HTTP/1.1\r\nHost: h:5985\r\nTransfer-Encoding: "
                              "chunked\r\nContent-Type: application/soap+xml\r\n\r\n"
                              "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                              "POST /wsman HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort";
    static const char rsp[] = "HTTP/1.1 100 Continue\r\n\r\n"
                              "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n"
                              "WWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n";
    char err[256];
    http_splitter *s = http_splitter_new(true);
    http_msg m;
    size_t off = 0, len = sizeof req - 1;
    ck_assert_int_eq(
        http_splitter_next(s, (const uint8_t *)req, len, &off, true, &m, err, sizeof err), 1);
    ck_assert_str_eq(m.method, "POST");
    ck_assert_str_eq((char *)m.url.data, "/wsman");
    ck_assert_str_eq((char *)m.host.data, "h:5985");
    ck_assert_uint_eq(m.n_auth, 1);
    ck_assert_str_eq((char *)m.auth[0].data, "Negotiate AAAA");
    ck_assert_str_eq((char *)m.body.data, "hello");
    ck_assert_uint_eq(m.start, 0);
    ck_assert_uint_eq(m.end, off);
    http_msg_free(&m);
    ck_assert_int_eq(
        http_splitter_next(s, (const uint8_t *)req, len, &off, true, &m, err, sizeof err), 1);
    ck_assert_str_eq((char *)m.url.data, "/wsman?x=1");
    ck_assert_str_eq((char *)m.body.data, "abcde"); /* chunked coding removed */
    ck_assert_str_eq((char *)m.content_type.data, "application/soap+xml");
    ck_assert_uint_eq(m.n_auth, 0);
    http_msg_free(&m);
    /* The capture ends inside the third request. */
    ck_assert_int_eq(
        http_splitter_next(s, (const uint8_t *)req, len, &off, true, &m, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "truncated") != NULL, "%s", err);
    http_splitter_free(s);

    s = http_splitter_new(false);
    off = 0;
    len = sizeof rsp - 1;
    ck_assert_int_eq(
        http_splitter_next(s, (const uint8_t *)rsp, len, &off, true, &m, err, sizeof err), 1);
    ck_assert_int_eq(m.status, 100);
    http_msg_free(&m);
    ck_assert_int_eq(
        http_splitter_next(s, (const uint8_t *)rsp, len, &off, true, &m, err, sizeof err), 1);
    ck_assert_int_eq(m.status, 401);
    ck_assert_uint_eq(m.n_auth, 2);
    ck_assert_str_eq((char *)m.auth[1].data, "Basic realm=\"x\"");
    http_msg_free(&m);
    ck_assert_int_eq(
        http_splitter_next(s, (const uint8_t *)rsp, len, &off, true, &m, err, sizeof err), 0);
    http_splitter_free(s);

    /* Not HTTP at all. */
    s = http_splitter_new(true);
    off = 0;
    ck_assert_int_eq(http_splitter_next(s, (const uint8_t *)"\x16\x03\x01garbage", 10, &off, true,
                                        &m, err, sizeof err),
                     -1);
    http_splitter_free(s);
}
END_TEST

/* ---- tshark's follow,tcp,yaml ---- */

static int read_yaml(const char *text, tcp_conv *c, char *err, size_t errlen)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    int rc = capture_read_follow_yaml(f, c, err, errlen);
    fclose(f);
    return rc;
}

START_TEST(test_follow_yaml)
{
    static const char yaml[] = "peers:\n"
                               "  - peer: 0\n    host: 127.0.0.1\n    port: 43684\n"
                               "  - peer: 1\n    host: 127.0.0.1\n    port: 5985\n"
                               "packets:\n"
                               "  - packet: 4\n    peer: 0\n    timestamp: 1000.250000000\n"
                               "    data: !!binary |\n      UE9TVCAv\n      d3NtYW4=\n"
                               "  - packet: 5\n    peer: 1\n    timestamp: 1000.500000000\n"
                               "    data: !!binary |\n      SFRUUA==\n"
                               "  - packet: 6\n    peer: 0\n    timestamp: 1001.000000000\n"
                               "    data: !!binary |\n      IEhUVFA=\n";
    char err[256];
    tcp_conv c = {0};
    ck_assert_msg(read_yaml(yaml, &c, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(c.client, "127.0.0.1:43684");
    ck_assert_str_eq(c.server, "127.0.0.1:5985");
    ck_assert_str_eq((char *)c.bytes[1].data, "POST /wsman HTTP");
    ck_assert_str_eq((char *)c.bytes[0].data, "HTTP");
    ck_assert(tcp_conv_time(&c, true, 0) == 1000.25);
    ck_assert(tcp_conv_time(&c, true, 10) == 1000.25);
    ck_assert(tcp_conv_time(&c, true, 12) == 1001.0);
    ck_assert(tcp_conv_time(&c, false, 3) == 1000.5);
    tcp_conv_free(&c);

    tcp_conv d = {0};
    ck_assert_int_eq(
        read_yaml("packets:\n  - peer: 0\n    data: !!binary |\n      Q===\n", &d, err, sizeof err),
        -1);
    ck_assert_msg(strstr(err, "base64") != NULL, "%s", err);
    tcp_conv_free(&d);
    ck_assert_int_eq(read_yaml("packets: [\n  - {", &d, err, sizeof err), -1);
    tcp_conv_free(&d);
}
END_TEST

/* ---- a whole sealed connection ---- */

static void http_request(etsn_buf *out, const char *auth, const char *ctype, const etsn_buf *body)
{
    etsn_buf_printf(out, "POST /wsman HTTP/1.1\r\nHost: server01:5985\r\n");
    if (auth) etsn_buf_printf(out, "Authorization: %s\r\n", auth);
    if (ctype) etsn_buf_printf(out, "Content-Type: %s\r\n", ctype);
    etsn_buf_printf(out, "Content-Length: %zu\r\n\r\n", body ? body->len : 0);
    if (body) etsn_buf_append(out, body->data, body->len);
}

static void http_response(etsn_buf *out, int status, const char *auth, const char *ctype,
                          const etsn_buf *body)
{
    etsn_buf_printf(out, "HTTP/1.1 %d X\r\n", status);
    if (auth) etsn_buf_printf(out, "WWW-Authenticate: %s\r\n", auth);
    if (ctype) etsn_buf_printf(out, "Content-Type: %s\r\n", ctype);
    etsn_buf_printf(out, "Content-Length: %zu\r\n\r\n", body ? body->len : 0);
    if (body) etsn_buf_append(out, body->data, body->len);
}

static char *negotiate(const etsn_buf *tok)
{
    etsn_buf h = ETSN_BUF_INIT;
    etsn_buf_append_str(&h, "Negotiate ");
    etsn_base64_encode(tok->data, tok->len, &h);
    return etsn_buf_steal(&h);
}

/* Adds a request/response pair at time t (seconds). */
static void add_pair(tcp_conv *c, double t, const etsn_buf *req, const etsn_buf *rsp)
{
    char err[256];
    ck_assert_int_eq(tcp_conv_add(c, true, t, req->data, req->len, err, sizeof err), 0);
    ck_assert_int_eq(tcp_conv_add(c, false, t + 0.002, rsp->data, rsp->len, err, sizeof err), 0);
}

/* The SPNEGO legs as HTTP, then n sealed SOAP exchanges. */
static void sealed_conversation(tcp_conv *c, int n, double t0, const char *label)
{
    char err[512];
    etsn_gss *srv = etsn_gss_acceptor_new(users_path, "localhost", err, sizeof err);
    etsn_gss *cli = etsn_gss_initiator_new(ETSN_MECH_SPNEGO, DOMAIN "\\" USER, PASSWORD,
                                           "localhost", NULL, 0, err, sizeof err);
    ck_assert_msg(srv && cli, "%s", err);
    etsn_buf tok = ETSN_BUF_INIT, reply = ETSN_BUF_INIT, req = ETSN_BUF_INIT, rsp = ETSN_BUF_INIT;
    double t = t0;
    ck_assert_int_ne(etsn_gss_step(cli, NULL, 0, &tok, err, sizeof err), ETSN_GSS_ERROR);
    while (tok.len > 0) {
        ck_assert_int_ne(etsn_gss_step(srv, tok.data, tok.len, &reply, err, sizeof err),
                         ETSN_GSS_ERROR);
        char *a = negotiate(&tok), *b = reply.len ? negotiate(&reply) : NULL;
        etsn_buf_reset(&req);
        etsn_buf_reset(&rsp);
        http_request(&req, a, "application/soap+xml;charset=UTF-8", NULL);
        http_response(&rsp, etsn_gss_complete(srv) ? 200 : 401, b, NULL, NULL);
        add_pair(c, t, &req, &rsp);
        t += 0.01;
        free(a);
        free(b);
        etsn_buf_reset(&tok);
        if (reply.len == 0) break;
        ck_assert_int_ne(etsn_gss_step(cli, reply.data, reply.len, &tok, err, sizeof err),
                         ETSN_GSS_ERROR);
    }
    const char *ctype = etsn_winrm_crypt_content_type(ETSN_MECH_SPNEGO);
    for (int i = 0; i < n; i++) {
        char text[160];
        etsn_buf body = ETSN_BUF_INIT;
        snprintf(text, sizeof text,
                 "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>%s%s "
                 "%d</s:Body></s:Envelope>",
                 label, "request", i);
        ck_assert_int_eq(etsn_winrm_encrypt(cli, ETSN_MECH_SPNEGO, NULL, (uint8_t *)text,
                                            strlen(text), &body, err, sizeof err),
                         0);
        etsn_buf_reset(&req);
        http_request(&req, NULL, ctype, &body);
        snprintf(text, sizeof text,
                 "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>%s%s "
                 "%d</s:Body></s:Envelope>",
                 label, "response", i);
        ck_assert_int_eq(etsn_winrm_encrypt(srv, ETSN_MECH_SPNEGO, NULL, (uint8_t *)text,
                                            strlen(text), &body, err, sizeof err),
                         0);
        etsn_buf_reset(&rsp);
        http_response(&rsp, 200, NULL, ctype, &body);
        add_pair(c, t, &req, &rsp);
        t += 0.5;
        etsn_buf_free(&body);
    }
    etsn_buf_free(&tok);
    etsn_buf_free(&reply);
    etsn_buf_free(&req);
    etsn_buf_free(&rsp);
    etsn_gss_free(cli);
    etsn_gss_free(srv);
}

static int buf_sink(void *ctx, const void *data, size_t len)
{
    return etsn_buf_append(ctx, data, len);
}

START_TEST(test_import_sealed)
{
    tcp_conv c = {0};
    sealed_conversation(&c, 3, 100.0, "");
    import_result r = {.password = PASSWORD};
    etsn_error err;
    etsn_error_clear(&err);
    ck_assert_msg(import_conv(&r, &c, 1, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_uint_eq(r.sealed_bodies, 6);
    ck_assert_uint_eq(r.connections, 1);
    ck_assert_str_eq(r.auth, "Negotiate");
    ck_assert_str_eq(r.endpoint, "http://server01:5985/wsman");
    etsn_buf out = ETSN_BUF_INIT;
    ck_assert_msg(import_write(&r, true, buf_sink, &out, &err) == 0, "%s", err.message);
    const char *x = (const char *)out.data;
    ck_assert_msg(strstr(x, "source=\"etsn-pcap-import\"") && strstr(x, "sealed=\"true\""), "%s",
                  x);
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "request %d", i);
        ck_assert_msg(strstr(x, want) != NULL, "%s missing", want);
        snprintf(want, sizeof want, "response %d", i);
        ck_assert_msg(strstr(x, want) != NULL, "%s missing", want);
    }
    /* Timings from the capture: the second exchange started 500 ms after the first. */
    ck_assert_msg(strstr(x, "start-ms=\"500.000\"") != NULL, "%s", x);
    ck_assert(strstr(x, PASSWORD) == NULL);
    etsn_buf_free(&out);
    import_result_free(&r);

    /* tshark saw the server first (the capture began mid-connection): the
     * directions are told apart by the requests. */
    tcp_conv sw = c;
    for (int d = 0; d < 2; d++) {
        sw.bytes[d] = c.bytes[1 - d];
        sw.marks[d] = c.marks[1 - d];
        sw.n_marks[d] = c.n_marks[1 - d];
        sw.cap_marks[d] = c.cap_marks[1 - d];
    }
    import_result r2 = {.password = PASSWORD};
    ck_assert_msg(import_conv(&r2, &sw, 1, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(r2.n, 3);
    ck_assert_uint_eq(r2.sealed_bodies, 6);
    import_result_free(&r2);

    /* A wrong password is told as such. */
    import_result bad = {.password = "wrong"};
    ck_assert_int_eq(import_conv(&bad, &c, 1, &err), IMPORT_BAD_PASSWORD);
    ck_assert_str_eq(err.message,
                     "The password does not match the captured NTLM exchange of TESTDOM\\alice.");
    import_result_free(&bad);
    tcp_conv_free(&c);
}
END_TEST

/* Sealed bodies without the handshake (a capture started too late), TLS
 * and non-HTTP connections. */
START_TEST(test_import_incomplete)
{
    tcp_conv c = {0}, late = {0};
    sealed_conversation(&c, 2, 100.0, "");
    /* Drop the handshake: keep the client bytes from the first sealed request. */
    const char *first = memmem(c.bytes[1].data, c.bytes[1].len, "multipart/encrypted", 19);
    ck_assert_ptr_nonnull(first);
    const uint8_t *p = c.bytes[1].data;
    size_t start = (size_t)((const uint8_t *)first - p);
    while (start > 0 && memcmp(p + start, "POST ", 5) != 0) start--;
    char msg[256];
    ck_assert_int_eq(
        tcp_conv_add(&late, true, 1, p + start, c.bytes[1].len - start, msg, sizeof msg), 0);
    import_result r = {.password = PASSWORD};
    etsn_error err;
    ck_assert_int_eq(import_conv(&r, &late, 1, &err), -1);
    ck_assert_msg(strstr(err.message, "no NTLM handshake") != NULL, "%s", err.message);
    import_result_free(&r);

    tcp_conv tls = {0};
    ck_assert_int_eq(
        tcp_conv_add(&tls, true, 1, (const uint8_t *)"\x16\x03\x01\x02\x00", 5, msg, sizeof msg),
        0);
    import_result r2 = {.password = PASSWORD};
    ck_assert_int_eq(import_conv(&r2, &tls, 1, &err), 0);
    ck_assert_uint_eq(r2.connections, 0);
    ck_assert_uint_eq(r2.n, 0);
    /* Kerberos-sealed bodies cannot be opened with a password, and say so. */
    tcp_conv krb = {0};
    etsn_buf req = ETSN_BUF_INIT, body = ETSN_BUF_INIT;
    etsn_buf_append_str(&body, "--Encrypted Boundary\r\n");
    http_request(&req, NULL, etsn_winrm_crypt_content_type(ETSN_MECH_KERBEROS), &body);
    ck_assert_int_eq(tcp_conv_add(&krb, true, 1, req.data, req.len, msg, sizeof msg), 0);
    import_result r3 = {.password = PASSWORD};
    ck_assert_int_eq(import_conv(&r3, &krb, 1, &err), -1);
    ck_assert_msg(strstr(err.message, "sealed with Kerberos") != NULL, "%s", err.message);
    etsn_buf_free(&req);
    etsn_buf_free(&body);
    tcp_conv_free(&krb);
    tcp_conv_free(&c);
    tcp_conv_free(&late);
    tcp_conv_free(&tls);
}
END_TEST

/* Two connections whose exchanges interleave in time are written in capture
 * order, each with its connection number. */
START_TEST(test_import_two_connections)
{
    tcp_conv a = {0}, b = {0};
    sealed_conversation(&a, 2, 100.0, "A-");
    sealed_conversation(&b, 2, 100.2, "B-");
    import_result r = {.password = PASSWORD};
    etsn_error err;
    ck_assert_msg(import_conv(&r, &a, 1, &err) == 0, "%s", err.message);
    ck_assert_msg(import_conv(&r, &b, 2, &err) == 0, "%s", err.message);
    ck_assert_uint_eq(r.n, 4);
    etsn_buf out = ETSN_BUF_INIT;
    ck_assert_msg(import_write(&r, true, buf_sink, &out, &err) == 0, "%s", err.message);
    const char *x = (const char *)out.data;
    const char *order[] = {"A-request 0", "B-request 0", "A-request 1", "B-request 1"};
    const char *prev = x;
    for (int i = 0; i < 4; i++) {
        const char *at = strstr(x, order[i]);
        ck_assert_msg(at && at > prev, "%s out of order", order[i]);
        prev = at;
    }
    ck_assert(strstr(x, "conn=\"2\"") != NULL);
    etsn_buf_free(&out);
    import_result_free(&r);
    tcp_conv_free(&a);
    tcp_conv_free(&b);
}
END_TEST

int main(void)
{
    if (setup_env() < 0) {
        fprintf(stderr, "cannot create the test directory\n");
        return 1;
    }
    Suite *s = suite_create("pcap_import");
    TCase *tc = tcase_create("pcap_import");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_http_split);
    tcase_add_test(tc, test_follow_yaml);
    tcase_add_test(tc, test_import_sealed);
    tcase_add_test(tc, test_import_incomplete);
    tcase_add_test(tc, test_import_two_connections);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup_env();
    return failed ? 1 : 0;
}
