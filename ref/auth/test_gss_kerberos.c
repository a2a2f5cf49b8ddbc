/* Kerberos through a throwaway MIT realm: a private KDC on 127.0.0.1,
 * started here by PID and stopped the same way. Exercises the wrap_iov
 * framing that NTLM never reaches. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gss_auth.h"
#include "winrm_crypt.h"

#define REALM "ETSN.TEST"
#define USER "alice"
#define PASSWORD "Kerb-pa55word"

extern char **environ;

static char dir[64];
static pid_t kdc_pid = -1;
static int kdc_port;

static int path_in(char *out, size_t n, const char *name)
{
    int r = snprintf(out, n, "%s/%s", dir, name);
    return r > 0 && (size_t)r < n ? 0 : -1;
}

static int write_text(const char *name, const char *text)
{
    char p[128];
    if (path_in(p, sizeof(p), name) < 0) return -1;
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Output is discarded: the admin tools are chatty and only the exit status
 * matters here. */
static pid_t spawn_quiet(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

static int run(char *const argv[])
{
    pid_t pid = spawn_quiet(argv);
    if (pid < 0) return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int kadmin(const char *query)
{
    char *argv[] = {"/usr/sbin/kadmin.local", "-r", REALM, "-q", (char *)query, NULL};
    return run(argv);
}

/* A port the kernel just handed out; the KDC binds it a moment later. */
static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(s);
    return port;
}

static int kdc_listening(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)kdc_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(s);
    return ok;
}

static void stop_kdc(void)
{
    if (kdc_pid <= 0) return;
    kill(kdc_pid, SIGTERM);
    int st;
    while (waitpid(kdc_pid, &st, 0) < 0 && errno == EINTR) {
    }
    kdc_pid = -1;
}

static void remove_dir(void)
{
    static const char *const files[] = {
        "krb5.conf",    "kdc.conf",        "http.keytab",          "principal",
        "principal.ok", "principal.kadm5", "principal.kadm5.lock", "stash",
        "kdc.pid",      "kadm5.acl"};
    char p[128];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (path_in(p, sizeof(p), files[i]) == 0) unlink(p);
    rmdir(dir);
}

static int start_realm(void)
{
    snprintf(dir, sizeof(dir), "/tmp/etsn-krb-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    kdc_port = free_port();
    if (kdc_port <= 0) return -1;

    char text[2048], kt[160], p[128], pidfile[128];
    snprintf(text, sizeof(text),
             "[libdefaults]\n default_realm = %s\n dns_lookup_kdc = false\n"
             " dns_lookup_realm = false\n rdns = false\n dns_canonicalize_hostname = false\n"
             "[realms]\n %s = {\n  kdc = 127.0.0.1:%d\n }\n"
             "[domain_realm]\n localhost = %s\n",
             REALM, REALM, kdc_port, REALM);
    if (write_text("krb5.conf", text) < 0) return -1;
    snprintf(text, sizeof(text),
             "[kdcdefaults]\n kdc_listen = 127.0.0.1:%d\n kdc_tcp_listen = 127.0.0.1:%d\n"
             "[realms]\n %s = {\n  database_name = %s/principal\n"
             "  key_stash_file = %s/stash\n  acl_file = %s/kadm5.acl\n }\n",
             kdc_port, kdc_port, REALM, dir, dir, dir);
    if (write_text("kdc.conf", text) < 0 || write_text("kadm5.acl", "") < 0) return -1;

    path_in(p, sizeof(p), "krb5.conf");
    setenv("KRB5_CONFIG", p, 1);
    path_in(p, sizeof(p), "kdc.conf");
    setenv("KRB5_KDC_PROFILE", p, 1);
    snprintf(kt, sizeof(kt), "FILE:%s/http.keytab", dir);
    setenv("KRB5_KTNAME", kt, 1);
    setenv("KRB5CCNAME", "MEMORY:etsn-krb-test", 1);
    setenv("KRB5RCACHETYPE", "none", 1);
    unsetenv("NTLM_USER_FILE");

    char *create[] = {"/usr/sbin/kdb5_util", "-r", REALM, "create", "-s", "-P",
                      "master-Key1",         NULL};
    if (run(create) < 0) return -1;
    if (kadmin("addprinc -pw " PASSWORD " " USER "@" REALM) < 0 ||
        kadmin("addprinc -randkey HTTP/localhost@" REALM) < 0)
        return -1;
    snprintf(text, sizeof(text), "ktadd -k %s/http.keytab HTTP/localhost@%s", dir, REALM);
    if (kadmin(text) < 0) return -1;

    path_in(pidfile, sizeof(pidfile), "kdc.pid");
    char *kdc[] = {"/usr/sbin/krb5kdc", "-n", "-P", pidfile, "-r", REALM, NULL};
    kdc_pid = spawn_quiet(kdc);
    if (kdc_pid < 0) return -1;
    for (int i = 0; i < 100; i++) {
        if (kdc_listening()) return 0;
        int st;
        if (waitpid(kdc_pid, &st, WNOHANG) == kdc_pid) {
            kdc_pid = -1;
            return -1;
        }
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    return -1;
}

typedef struct {
    etsn_gss *cli, *srv;
    int legs;
    char err[512];
} pair;

static etsn_gss_status handshake(pair *p)
{
    etsn_buf tok = ETSN_BUF_INIT, reply = ETSN_BUF_INIT;
    etsn_gss_status cs, ss = ETSN_GSS_CONTINUE;
    p->legs = 1;
    cs = etsn_gss_step(p->cli, NULL, 0, &tok, p->err, sizeof(p->err));
    while (cs != ETSN_GSS_ERROR && tok.len && p->legs < 20) {
        ss = etsn_gss_step(p->srv, tok.data, tok.len, &reply, p->err, sizeof(p->err));
        p->legs++;
        if (ss == ETSN_GSS_ERROR || reply.len == 0) break;
        cs = etsn_gss_step(p->cli, reply.data, reply.len, &tok, p->err, sizeof(p->err));
        p->legs++;
    }
    etsn_buf_free(&tok);
    etsn_buf_free(&reply);
    if (cs == ETSN_GSS_ERROR || ss == ETSN_GSS_ERROR) return ETSN_GSS_ERROR;
    return cs == ETSN_GSS_COMPLETE && ss == ETSN_GSS_COMPLETE ? ETSN_GSS_COMPLETE
                                                              : ETSN_GSS_CONTINUE;
}

static void established(pair *p, etsn_mech mech)
{
    memset(p, 0, sizeof(*p));
    p->srv = etsn_gss_acceptor_new(NULL, "localhost", p->err, sizeof(p->err));
    ck_assert_msg(p->srv != NULL, "acceptor: %s", p->err);
    p->cli = etsn_gss_initiator_new(mech, USER "@" REALM, PASSWORD, "localhost", NULL, 0, p->err,
                                    sizeof(p->err));
    ck_assert_msg(p->cli != NULL, "initiator: %s", p->err);
    ck_assert_msg(handshake(p) == ETSN_GSS_COMPLETE, "handshake: %s", p->err);
    ck_assert_str_eq(etsn_gss_mech_name(p->cli), "kerberos");
    ck_assert_str_eq(etsn_gss_mech_name(p->srv), "kerberos");
    ck_assert_str_eq(etsn_gss_peer_name(p->srv), USER "@" REALM);
}

static void free_pair(pair *p)
{
    etsn_gss_free(p->cli);
    etsn_gss_free(p->srv);
}

static void send_msg(etsn_gss *from, etsn_gss *to, const char *text)
{
    char err[512];
    size_t n = strlen(text);
    etsn_buf h = ETSN_BUF_INIT, s = ETSN_BUF_INIT, out = ETSN_BUF_INIT;
    ck_assert_msg(etsn_gss_wrap(from, (const uint8_t *)text, n, &h, &s, err, sizeof(err)) == 0,
                  "wrap: %s", err);
    /* AES (CFX): header holds token header, confounder and checksum; no
     * padding, so the sealed part is exactly as long as the plaintext. */
    ck_assert_uint_eq(h.len, 60);
    ck_assert_uint_eq(s.len, n);
    ck_assert_msg(etsn_gss_unwrap(to, h.data, h.len, s.data, s.len, &out, err, sizeof(err)) == 0,
                  "unwrap: %s", err);
    ck_assert_uint_eq(out.len, n);
    ck_assert(memcmp(out.data, text, n) == 0);
    etsn_buf_free(&h);
    etsn_buf_free(&s);
    etsn_buf_free(&out);
}

static void check_kerberos(etsn_mech mech, int legs)
{
    pair p;
    established(&p, mech);
    ck_assert_int_eq(p.legs, legs);
    send_msg(p.cli, p.srv, "<s:Envelope>one</s:Envelope>");
    send_msg(p.srv, p.cli, "reply one");
    send_msg(p.cli, p.srv, "two");
    send_msg(p.cli, p.srv, "three");
    send_msg(p.srv, p.cli, "reply two");
    free_pair(&p);
}

/* AP-REQ, AP-REP, and the initiator checking the AP-REP (mutual auth). */
START_TEST(test_raw_kerberos)
{
    check_kerberos(ETSN_MECH_KERBEROS, 3);
}
END_TEST

/* The framing follows the real mechanism even when SPNEGO picked it. */
START_TEST(test_spnego_kerberos)
{
    check_kerberos(ETSN_MECH_SPNEGO, 3);
}
END_TEST

START_TEST(test_tamper)
{
    static const char msg[] = "do not touch";
    for (int where = 0; where < 2; where++) {
        pair p;
        established(&p, ETSN_MECH_KERBEROS);
        etsn_buf h = ETSN_BUF_INIT, s = ETSN_BUF_INIT, out = ETSN_BUF_INIT;
        ck_assert(etsn_gss_wrap(p.cli, (const uint8_t *)msg, strlen(msg), &h, &s, p.err,
                                sizeof(p.err)) == 0);
        if (where == 0)
            h.data[h.len - 1] ^= 1;
        else
            s.data[0] ^= 1;
        ck_assert_int_eq(
            etsn_gss_unwrap(p.srv, h.data, h.len, s.data, s.len, &out, p.err, sizeof(p.err)), -1);
        ck_assert_uint_eq(out.len, 0);
        etsn_buf_free(&h);
        etsn_buf_free(&s);
        etsn_buf_free(&out);
        free_pair(&p);
    }
}
END_TEST

START_TEST(test_winrm_kerberos)
{
    pair p;
    established(&p, ETSN_MECH_KERBEROS);
    static const char soap[] = "<s:Envelope><s:Body>kerberos</s:Body></s:Envelope>";
    size_t n = sizeof(soap) - 1;
    etsn_buf body = ETSN_BUF_INIT, out = ETSN_BUF_INIT;
    ck_assert_msg(etsn_winrm_encrypt(p.cli, ETSN_MECH_KERBEROS, NULL, (const uint8_t *)soap, n,
                                     &body, p.err, sizeof(p.err)) == 0,
                  "encrypt: %s", p.err);
    static const char head[] = "--Encrypted Boundary\r\n"
                               "\tContent-Type: application/HTTP-Kerberos-session-encrypted\r\n";
    ck_assert(memcmp(body.data, head, sizeof(head) - 1) == 0);
    ck_assert_msg(etsn_winrm_decrypt(p.srv, body.data, body.len, &out, p.err, sizeof(p.err)) == 0,
                  "decrypt: %s", p.err);
    ck_assert_uint_eq(out.len, n);
    ck_assert(memcmp(out.data, soap, n) == 0);
    etsn_buf_reset(&out);
    ck_assert(etsn_winrm_encrypt(p.srv, ETSN_MECH_KERBEROS, NULL, (const uint8_t *)"ok", 2, &body,
                                 p.err, sizeof(p.err)) == 0);
    ck_assert_msg(etsn_winrm_decrypt(p.cli, body.data, body.len, &out, p.err, sizeof(p.err)) == 0,
                  "decrypt: %s", p.err);
    ck_assert_uint_eq(out.len, 2);
    etsn_buf_free(&body);
    etsn_buf_free(&out);
    free_pair(&p);
}
END_TEST

START_TEST(test_wrong_password)
{
    char err[512] = "";
    etsn_gss *srv = etsn_gss_acceptor_new(NULL, "localhost", err, sizeof(err));
    ck_assert_ptr_nonnull(srv);
    etsn_gss *cli = etsn_gss_initiator_new(ETSN_MECH_KERBEROS, USER "@" REALM, "wrong", "localhost",
                                           NULL, 0, err, sizeof(err));
    /* MIT asks the KDC lazily: the failure shows at acquire or at the
     * first leg, never as a completed context. */
    if (cli) {
        etsn_buf tok = ETSN_BUF_INIT;
        ck_assert_int_eq(etsn_gss_step(cli, NULL, 0, &tok, err, sizeof(err)), ETSN_GSS_ERROR);
        ck_assert_uint_eq(tok.len, 0);
        etsn_buf_free(&tok);
    }
    ck_assert_ptr_nonnull(strstr(err, "failed"));
    ck_assert_ptr_null(strstr(err, "wrong"));
    etsn_gss_free(cli);
    etsn_gss_free(srv);
}
END_TEST

int main(void)
{
    if (access("/usr/sbin/krb5kdc", X_OK) != 0 || access("/usr/sbin/kdb5_util", X_OK) != 0) {
        printf("krb5-kdc not installed: Kerberos tests skipped\n");
        return 0;
    }
    int failed = 1;
    if (start_realm() < 0) {
        fprintf(stderr, "cannot start the throwaway KDC\n");
    } else {
        Suite *s = suite_create("gss_kerberos");
        TCase *tc = tcase_create("kerberos");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_raw_kerberos);
        tcase_add_test(tc, test_spnego_kerberos);
        tcase_add_test(tc, test_tamper);
        tcase_add_test(tc, test_winrm_kerberos);
        tcase_add_test(tc, test_wrong_password);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
    }
    stop_kdc();
    remove_dir();
    return failed ? 1 : 0;
}
