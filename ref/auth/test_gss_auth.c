/* In-process NTLM/SPNEGO handshakes through the MIT mechglue and
 * gss-ntlmssp, then sealing and WinRM multipart encryption on top. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gss_auth.h"
#include "winrm_crypt.h"

#define DOMAIN "TESTDOM"
#define USER "alice"
#define PASSWORD "S3cret-pa55!"

static char tmpdir[64];
static char users_path[128];
static char krb5_conf[128];

/* Runs once, before the runner, so forked and unforked tests see the same
 * environment. Kerberos is pointed at an empty configuration so SPNEGO
 * cannot wander off to the system's realm and its KDCs. */
static int setup_env(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/etsn-gss-XXXXXX");
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

typedef struct {
    etsn_gss *cli, *srv;
    int legs;
    char err[512];
} pair;

/* Pumps tokens until both sides finish or one fails; returns the failing
 * side's status (ETSN_GSS_ERROR) or ETSN_GSS_COMPLETE. */
static etsn_gss_status handshake(pair *p)
{
    etsn_buf tok = ETSN_BUF_INIT, reply = ETSN_BUF_INIT;
    etsn_gss_status cs = ETSN_GSS_CONTINUE, ss = ETSN_GSS_CONTINUE;
    p->legs = 0;
    cs = etsn_gss_step(p->cli, NULL, 0, &tok, p->err, sizeof(p->err));
    p->legs++;
    while (cs != ETSN_GSS_ERROR && p->legs < 20) {
        if (tok.len == 0) break;
        ss = etsn_gss_step(p->srv, tok.data, tok.len, &reply, p->err, sizeof(p->err));
        p->legs++;
        if (ss == ETSN_GSS_ERROR) break;
        if (reply.len == 0) break;
        cs = etsn_gss_step(p->cli, reply.data, reply.len, &tok, p->err, sizeof(p->err));
        p->legs++;
    }
    etsn_buf_free(&tok);
    etsn_buf_free(&reply);
    if (cs == ETSN_GSS_ERROR || ss == ETSN_GSS_ERROR) return ETSN_GSS_ERROR;
    return cs == ETSN_GSS_COMPLETE && ss == ETSN_GSS_COMPLETE ? ETSN_GSS_COMPLETE
                                                              : ETSN_GSS_CONTINUE;
}

static void make_pair(pair *p, etsn_mech mech, const char *user, const char *password)
{
    memset(p, 0, sizeof(*p));
    p->srv = etsn_gss_acceptor_new(users_path, "localhost", p->err, sizeof(p->err));
    ck_assert_msg(p->srv != NULL, "acceptor: %s", p->err);
    p->cli =
        etsn_gss_initiator_new(mech, user, password, "localhost", NULL, 0, p->err, sizeof(p->err));
    ck_assert_msg(p->cli != NULL, "initiator: %s", p->err);
}

static void free_pair(pair *p)
{
    etsn_gss_free(p->cli);
    etsn_gss_free(p->srv);
}

static void established(pair *p, etsn_mech mech)
{
    make_pair(p, mech, DOMAIN "\\" USER, PASSWORD);
    etsn_gss_status st = handshake(p);
    ck_assert_msg(st == ETSN_GSS_COMPLETE, "handshake: %s", p->err);
    ck_assert(etsn_gss_complete(p->cli));
    ck_assert(etsn_gss_complete(p->srv));
}

/* One sealed message from one side to the other. */
static void send_msg(etsn_gss *from, etsn_gss *to, const char *text)
{
    char err[512];
    size_t n = strlen(text);
    etsn_buf h = ETSN_BUF_INIT, s = ETSN_BUF_INIT, out = ETSN_BUF_INIT;
    ck_assert_msg(etsn_gss_wrap(from, (const uint8_t *)text, n, &h, &s, err, sizeof(err)) == 0,
                  "wrap: %s", err);
    ck_assert_uint_eq(h.len, 16);
    ck_assert_uint_eq(s.len, n);
    ck_assert(n == 0 || memcmp(s.data, text, n) != 0);
    ck_assert_msg(etsn_gss_unwrap(to, h.data, h.len, s.data, s.len, &out, err, sizeof(err)) == 0,
                  "unwrap: %s", err);
    ck_assert_uint_eq(out.len, n);
    ck_assert(memcmp(out.data, text, n) == 0);
    etsn_buf_free(&h);
    etsn_buf_free(&s);
    etsn_buf_free(&out);
}

static uint32_t sig_seq(const etsn_buf *h)
{
    return (uint32_t)h->data[12] | (uint32_t)h->data[13] << 8 | (uint32_t)h->data[14] << 16 |
           (uint32_t)h->data[15] << 24;
}

static void check_handshake(etsn_mech mech, int expect_legs)
{
    pair p;
    established(&p, mech);
    ck_assert_int_eq(p.legs, expect_legs);
    ck_assert_str_eq(etsn_gss_mech_name(p.cli), "ntlm");
    ck_assert_str_eq(etsn_gss_mech_name(p.srv), "ntlm");
    ck_assert_ptr_nonnull(etsn_gss_peer_name(p.srv));
    ck_assert_str_eq(etsn_gss_peer_name(p.srv), DOMAIN "\\" USER);
    /* Once established, an empty step is a no-op and a stray token an error. */
    etsn_buf out = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_gss_step(p.cli, NULL, 0, &out, p.err, sizeof(p.err)), ETSN_GSS_COMPLETE);
    ck_assert_int_eq(etsn_gss_step(p.srv, (const uint8_t *)"x", 1, &out, p.err, sizeof(p.err)),
                     ETSN_GSS_ERROR);
    etsn_buf_free(&out);
    free_pair(&p);
}

START_TEST(test_handshake_ntlm)
{
    check_handshake(ETSN_MECH_NTLM, 4);
}
END_TEST

/* Through SPNEGO the acceptor's final token (accept-completed + MIC) must be
 * fed back to the initiator: five steps in all. */
START_TEST(test_handshake_spnego)
{
    check_handshake(ETSN_MECH_SPNEGO, 5);
}
END_TEST

START_TEST(test_user_at_domain_form)
{
    pair p;
    make_pair(&p, ETSN_MECH_NTLM, USER "@" DOMAIN, PASSWORD);
    ck_assert_msg(handshake(&p) == ETSN_GSS_COMPLETE, "handshake: %s", p.err);
    ck_assert_str_eq(etsn_gss_peer_name(p.srv), DOMAIN "\\" USER);
    free_pair(&p);
}
END_TEST

static void check_wrap_both_ways(etsn_mech mech)
{
    pair p;
    established(&p, mech);
    send_msg(p.cli, p.srv, "<s:Envelope>first</s:Envelope>");
    send_msg(p.cli, p.srv, "second from client");
    send_msg(p.srv, p.cli, "first reply");
    send_msg(p.cli, p.srv, "third from client");
    send_msg(p.srv, p.cli, "second reply");
    send_msg(p.srv, p.cli, "third reply");
    free_pair(&p);
}

START_TEST(test_wrap_ntlm)
{
    check_wrap_both_ways(ETSN_MECH_NTLM);
}
END_TEST

START_TEST(test_wrap_spnego)
{
    check_wrap_both_ways(ETSN_MECH_SPNEGO);
}
END_TEST

/* Records where each mode starts numbering, so a change in gss-ntlmssp shows
 * up here rather than as a Windows interop failure. */
static uint32_t first_seq(etsn_mech mech)
{
    pair p;
    established(&p, mech);
    etsn_buf h = ETSN_BUF_INIT, s = ETSN_BUF_INIT, out = ETSN_BUF_INIT;
    ck_assert(etsn_gss_wrap(p.cli, (const uint8_t *)"a", 1, &h, &s, p.err, sizeof(p.err)) == 0);
    uint32_t first = sig_seq(&h);
    ck_assert(etsn_gss_unwrap(p.srv, h.data, h.len, s.data, s.len, &out, p.err, sizeof(p.err)) ==
              0);
    etsn_buf_reset(&h);
    etsn_buf_reset(&s);
    ck_assert(etsn_gss_wrap(p.cli, (const uint8_t *)"b", 1, &h, &s, p.err, sizeof(p.err)) == 0);
    ck_assert_uint_eq(sig_seq(&h), first + 1);
    ck_assert_uint_eq(h.data[0], 1); /* NTLMSSP_MESSAGE_SIGNATURE version */
    etsn_buf_free(&h);
    etsn_buf_free(&s);
    etsn_buf_free(&out);
    free_pair(&p);
    return first;
}

START_TEST(test_sequence_numbers)
{
    ck_assert_uint_eq(first_seq(ETSN_MECH_NTLM), 0);
    ck_assert_uint_eq(first_seq(ETSN_MECH_SPNEGO), 1);
}
END_TEST

START_TEST(test_flipped_byte)
{
    static const char msg[] = "tamper with me";
    for (int where = 0; where < 2; where++) {
        pair p;
        established(&p, ETSN_MECH_SPNEGO);
        etsn_buf h = ETSN_BUF_INIT, s = ETSN_BUF_INIT, out = ETSN_BUF_INIT;
        ck_assert(etsn_gss_wrap(p.cli, (const uint8_t *)msg, strlen(msg), &h, &s, p.err,
                                sizeof(p.err)) == 0);
        if (where == 0)
            h.data[6] ^= 0x01; /* checksum */
        else
            s.data[3] ^= 0x80;
        ck_assert_int_eq(
            etsn_gss_unwrap(p.srv, h.data, h.len, s.data, s.len, &out, p.err, sizeof(p.err)), -1);
        ck_assert_uint_eq(out.len, 0);
        ck_assert_ptr_nonnull(strstr(p.err, "gss_unwrap"));
        /* A short signature is refused before it reaches the mechanism. */
        ck_assert_int_eq(
            etsn_gss_unwrap(p.srv, h.data, 15, s.data, s.len, &out, p.err, sizeof(p.err)), -1);
        etsn_buf_free(&h);
        etsn_buf_free(&s);
        etsn_buf_free(&out);
        free_pair(&p);
    }
}
END_TEST

static void check_bad_login(etsn_mech mech, const char *user, const char *password)
{
    pair p;
    make_pair(&p, mech, user, password);
    ck_assert_int_eq(handshake(&p), ETSN_GSS_ERROR);
    ck_assert(!etsn_gss_complete(p.srv));
    ck_assert_ptr_null(etsn_gss_peer_name(p.srv));
    ck_assert_ptr_nonnull(strstr(p.err, "failed"));
    ck_assert_ptr_null(strstr(p.err, PASSWORD));
    etsn_buf h = ETSN_BUF_INIT, s = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_gss_wrap(p.srv, (const uint8_t *)"x", 1, &h, &s, p.err, sizeof(p.err)),
                     -1);
    etsn_buf_free(&h);
    etsn_buf_free(&s);
    free_pair(&p);
}

START_TEST(test_wrong_password)
{
    check_bad_login(ETSN_MECH_NTLM, DOMAIN "\\" USER, "wrong");
    check_bad_login(ETSN_MECH_SPNEGO, DOMAIN "\\" USER, "wrong");
    check_bad_login(ETSN_MECH_NTLM, DOMAIN "\\mallory", PASSWORD);
}
END_TEST

START_TEST(test_channel_binding)
{
    static const uint8_t cb[] = "tls-server-end-point:0123456789abcdef0123456789abcdef";
    static const uint8_t other[] = "tls-server-end-point:fedcba9876543210fedcba9876543210";
    for (int same = 1; same >= 0; same--) {
        pair p;
        memset(&p, 0, sizeof(p));
        p.srv = etsn_gss_acceptor_new(users_path, "localhost", p.err, sizeof(p.err));
        ck_assert_ptr_nonnull(p.srv);
        ck_assert_int_eq(
            etsn_gss_set_channel_binding(p.srv, cb, sizeof(cb) - 1, p.err, sizeof(p.err)), 0);
        p.cli = etsn_gss_initiator_new(ETSN_MECH_SPNEGO, DOMAIN "\\" USER, PASSWORD, "localhost",
                                       same ? cb : other, sizeof(cb) - 1, p.err, sizeof(p.err));
        ck_assert_ptr_nonnull(p.cli);
        etsn_gss_status st = handshake(&p);
        if (same)
            ck_assert_msg(st == ETSN_GSS_COMPLETE, "handshake: %s", p.err);
        else
            ck_assert_int_eq(st, ETSN_GSS_ERROR);
        free_pair(&p);
    }
}
END_TEST

static void encrypt_ok(etsn_gss *g, etsn_mech mech, const uint8_t *msg, size_t n, etsn_buf *body)
{
    char err[512];
    etsn_buf_reset(body);
    ck_assert_msg(etsn_winrm_encrypt(g, mech, NULL, msg, n, body, err, sizeof(err)) == 0,
                  "encrypt: %s", err);
}

static void decrypt_ok(etsn_gss *g, const etsn_buf *body, const uint8_t *msg, size_t n)
{
    char err[512];
    etsn_buf out = ETSN_BUF_INIT;
    ck_assert_msg(etsn_winrm_decrypt(g, body->data, body->len, &out, err, sizeof(err)) == 0,
                  "decrypt: %s", err);
    ck_assert_uint_eq(out.len, n);
    ck_assert(memcmp(out.data, msg, n) == 0);
    etsn_buf_free(&out);
}

static void check_winrm_roundtrip(etsn_mech mech)
{
    pair p;
    established(&p, mech);
    etsn_buf body = ETSN_BUF_INIT;
    static const char soap[] = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">"
                               "<s:Body/></s:Envelope>";
    size_t n = sizeof(soap) - 1;
    encrypt_ok(p.cli, mech, (const uint8_t *)soap, n, &body);

    char prefix[512];
    snprintf(prefix, sizeof(prefix),
             "--Encrypted Boundary\r\n"
             "\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n"
             "\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%zu\r\n"
             "--Encrypted Boundary\r\n"
             "\tContent-Type: application/octet-stream\r\n",
             n);
    size_t pl = strlen(prefix);
    static const char end[] = "--Encrypted Boundary--\r\n";
    ck_assert_uint_eq(body.len, pl + 4 + 16 + n + sizeof(end) - 1);
    ck_assert(memcmp(body.data, prefix, pl) == 0);
    ck_assert(memcmp(body.data + pl, "\x10\0\0\0", 4) == 0);
    ck_assert(memcmp(body.data + body.len - (sizeof(end) - 1), end, sizeof(end) - 1) == 0);
    decrypt_ok(p.srv, &body, (const uint8_t *)soap, n);

    /* Back the other way, then several in a row, including a large body. */
    encrypt_ok(p.srv, mech, (const uint8_t *)"reply", 5, &body);
    decrypt_ok(p.cli, &body, (const uint8_t *)"reply", 5);
    size_t big_n = 200000;
    uint8_t *big = malloc(big_n);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < big_n; i++) big[i] = (uint8_t)(i * 7 + 3);
    for (int i = 0; i < 3; i++) {
        encrypt_ok(p.cli, mech, big, big_n, &body);
        decrypt_ok(p.srv, &body, big, big_n);
        encrypt_ok(p.srv, mech, big, big_n - (size_t)i, &body);
        decrypt_ok(p.cli, &body, big, big_n - (size_t)i);
    }
    free(big);
    etsn_buf_free(&body);
    free_pair(&p);
}

START_TEST(test_winrm_roundtrip_ntlm)
{
    check_winrm_roundtrip(ETSN_MECH_NTLM);
}
END_TEST

START_TEST(test_winrm_roundtrip_spnego)
{
    check_winrm_roundtrip(ETSN_MECH_SPNEGO);
}
END_TEST

static void expect_reject(etsn_gss *g, const uint8_t *data, size_t len, const char *what)
{
    char err[512] = "";
    etsn_buf out = ETSN_BUF_INIT;
    ck_assert_msg(etsn_winrm_decrypt(g, data, len, &out, err, sizeof(err)) == -1,
                  "accepted a malformed body: %s", what);
    ck_assert_uint_eq(out.len, 0);
    ck_assert(err[0] != 0);
    etsn_buf_free(&out);
}

/* Replaces the first occurrence of from with to and checks rejection. */
static void reject_edit_bin(etsn_gss *g, const etsn_buf *body, const char *from, size_t fl,
                            const char *to, size_t tl)
{
    const uint8_t *at = memmem(body->data, body->len, from, fl);
    ck_assert_ptr_nonnull(at);
    size_t off = (size_t)(at - body->data);
    etsn_buf e = ETSN_BUF_INIT;
    ck_assert(etsn_buf_append(&e, body->data, off) == 0);
    ck_assert(etsn_buf_append(&e, to, tl) == 0);
    ck_assert(etsn_buf_append(&e, at + fl, body->len - off - fl) == 0);
    expect_reject(g, e.data, e.len, to);
    etsn_buf_free(&e);
}

static void reject_edit(etsn_gss *g, const etsn_buf *body, const char *from, const char *to)
{
    reject_edit_bin(g, body, from, strlen(from), to, strlen(to));
}

START_TEST(test_winrm_malformed)
{
    pair p;
    established(&p, ETSN_MECH_SPNEGO);
    etsn_buf body = ETSN_BUF_INIT;
    static const char msg[] = "<s:Envelope>payload</s:Envelope>";
    size_t n = sizeof(msg) - 1;
    encrypt_ok(p.cli, ETSN_MECH_SPNEGO, (const uint8_t *)msg, n, &body);

    /* Every proper prefix, copied so valgrind sees reads past its end. */
    for (size_t cut = 0; cut < body.len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        ck_assert_ptr_nonnull(c);
        memcpy(c, body.data, cut);
        expect_reject(p.srv, c, cut, "truncated");
        free(c);
    }
    expect_reject(p.srv, NULL, 0, "NULL");
    char len_str[32], len_more[32], len_less[32];
    snprintf(len_str, sizeof(len_str), "Length=%zu\r", n);
    snprintf(len_more, sizeof(len_more), "Length=%zu\r", n + 1);
    snprintf(len_less, sizeof(len_less), "Length=%zu\r", n - 1);
    reject_edit(p.srv, &body, len_str, len_more);
    reject_edit(p.srv, &body, len_str, len_less);
    reject_edit(p.srv, &body, len_str, "Length=\r");
    reject_edit(p.srv, &body, len_str, "Length=-5\r");
    reject_edit(p.srv, &body, len_str, "Length=99999999999999999999\r");
    /* The header length field sits right after the octet-stream line. */
    static const char hl_field[] = "octet-stream\r\n\x10\0\0\0";
    const size_t hl_len = sizeof(hl_field) - 1;
    reject_edit_bin(p.srv, &body, hl_field, hl_len, "octet-stream\r\n\xff\xff\xff\xff", hl_len);
    reject_edit_bin(p.srv, &body, hl_field, hl_len, "octet-stream\r\n\x10\0\1\0", hl_len);
    reject_edit_bin(p.srv, &body, hl_field, hl_len, "octet-stream\r\n\x11\0\0\0", hl_len);
    reject_edit(p.srv, &body, "--Encrypted Boundary\r\n", "--Encrypted Boundery\r\n");
    reject_edit(p.srv, &body, "--Encrypted Boundary--\r\n", "--Encrypted Boundary\r\n\r\n");
    reject_edit(p.srv, &body, "--Encrypted Boundary\r\n\tContent-Type: application/oct",
                "--Other\r\n\tContent-Type: application/oct");
    reject_edit(p.srv, &body, "SPNEGO-session", "CredSSP-session");
    reject_edit(p.srv, &body, "octet-stream", "octet-strean");
    reject_edit(p.srv, &body, "\r\n\tOriginalContent", "\n\tOriginalContent");
    /* Trailing garbage after the closing boundary. */
    etsn_buf extra = ETSN_BUF_INIT;
    ck_assert(etsn_buf_append(&extra, body.data, body.len) == 0);
    ck_assert(etsn_buf_append_str(&extra, "x") == 0);
    expect_reject(p.srv, extra.data, extra.len, "trailing byte");
    etsn_buf_free(&extra);

    /* None of the rejects reached the cipher: the intact body still opens. */
    decrypt_ok(p.srv, &body, (const uint8_t *)msg, n);
    /* Replaying it does not. */
    expect_reject(p.srv, body.data, body.len, "replay");
    etsn_buf_free(&body);
    free_pair(&p);
}
END_TEST

START_TEST(test_content_types)
{
    ck_assert_str_eq(etsn_winrm_crypt_content_type(ETSN_MECH_SPNEGO),
                     "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\";"
                     "boundary=\"Encrypted Boundary\"");
    ck_assert_str_eq(etsn_winrm_crypt_content_type(ETSN_MECH_NTLM),
                     etsn_winrm_crypt_content_type(ETSN_MECH_SPNEGO));
    ck_assert_str_eq(etsn_winrm_crypt_content_type(ETSN_MECH_KERBEROS),
                     "multipart/encrypted;protocol=\"application/HTTP-Kerberos-session-encrypted\";"
                     "boundary=\"Encrypted Boundary\"");
    ck_assert(etsn_winrm_is_encrypted(etsn_winrm_crypt_content_type(ETSN_MECH_SPNEGO)));
    ck_assert(etsn_winrm_is_encrypted("Multipart/Encrypted; protocol=x"));
    ck_assert(etsn_winrm_is_encrypted("multipart/x-multi-encrypted;protocol=x"));
    ck_assert(!etsn_winrm_is_encrypted("application/soap+xml;charset=UTF-8"));
    ck_assert(!etsn_winrm_is_encrypted("multipart/encryptedfoo"));
    ck_assert(!etsn_winrm_is_encrypted(NULL));
}
END_TEST

START_TEST(test_not_established)
{
    char err[256];
    etsn_gss *g = etsn_gss_initiator_new(ETSN_MECH_NTLM, DOMAIN "\\" USER, PASSWORD, "localhost",
                                         NULL, 0, err, sizeof(err));
    ck_assert_ptr_nonnull(g);
    etsn_buf h = ETSN_BUF_INIT, s = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_gss_wrap(g, (const uint8_t *)"x", 1, &h, &s, err, sizeof(err)), -1);
    ck_assert_ptr_null(etsn_gss_mech_name(g));
    etsn_gss_free(g);
    ck_assert_ptr_null(
        etsn_gss_initiator_new(ETSN_MECH_NTLM, NULL, NULL, "", NULL, 0, err, sizeof(err)));
    ck_assert_ptr_null(etsn_gss_acceptor_new(users_path, NULL, err, sizeof(err)));
    etsn_gss *a = etsn_gss_acceptor_new(users_path, "localhost", err, sizeof(err));
    ck_assert_ptr_nonnull(a);
    etsn_buf out = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_gss_step(a, NULL, 0, &out, err, sizeof(err)), ETSN_GSS_ERROR);
    ck_assert_int_eq(etsn_gss_step(a, (const uint8_t *)"garbage!", 8, &out, err, sizeof(err)),
                     ETSN_GSS_ERROR);
    etsn_buf_free(&out);
    etsn_gss_free(a);
    etsn_buf_free(&h);
    etsn_buf_free(&s);
}
END_TEST

int main(void)
{
    if (setup_env() < 0) {
        fprintf(stderr, "cannot create the test directory\n");
        return 1;
    }
    Suite *s = suite_create("gss_auth");
    TCase *tc = tcase_create("ntlm");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_handshake_ntlm);
    tcase_add_test(tc, test_handshake_spnego);
    tcase_add_test(tc, test_user_at_domain_form);
    tcase_add_test(tc, test_wrap_ntlm);
    tcase_add_test(tc, test_wrap_spnego);
    tcase_add_test(tc, test_sequence_numbers);
    tcase_add_test(tc, test_flipped_byte);
    tcase_add_test(tc, test_wrong_password);
    tcase_add_test(tc, test_channel_binding);
    tcase_add_test(tc, test_winrm_roundtrip_ntlm);
    tcase_add_test(tc, test_winrm_roundtrip_spnego);
    tcase_add_test(tc, test_winrm_malformed);
    tcase_add_test(tc, test_content_types);
    tcase_add_test(tc, test_not_established);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup_env();
    return failed ? 1 : 0;
}
