/* Offline NTLMv2 unsealing: the MS-NLMP 4.2.4 test vectors, then a real
 * handshake between our GSSAPI initiator and acceptor (what etsn and
 * etsn-mockd run) whose tokens and sealed bodies are opened with only the
 * password. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/base64.h"
#include "../core/psrp_crypto.h"
#include "gss_auth.h"
#include "ntlm_unseal.h"
#include "winrm_crypt.h"

#define DOMAIN "TESTDOM"
#define USER "alice"
#define PASSWORD "S3cret-pa55!"

static char tmpdir[64], users_path[128], krb5_conf[128];

static int setup_env(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/etsn-unseal-XXXXXX");
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

/* ---- MS-NLMP 4.2.4 (NTLMv2 authentication) ---- */

static const uint8_t SERVER_CHALLENGE[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
/* 4.2.4.1.1 NTOWFv2("Password", "User", "Domain") */
static const uint8_t NTOWFV2[16] = {0x0c, 0x86, 0x8a, 0x40, 0x3b, 0xfd, 0x7a, 0x93,
                                    0xa3, 0x00, 0x1e, 0xf2, 0x2e, 0xf0, 0x2e, 0x3f};
/* 4.2.4.2.2 NTProofStr, and the temp it covers (time 0, client challenge aa..). */
static const uint8_t NT_PROOF[16] = {0x68, 0xcd, 0x0a, 0xb8, 0x51, 0xe5, 0x1c, 0x96,
                                     0xaa, 0xbc, 0x92, 0x7b, 0xeb, 0xef, 0x6a, 0x1c};
static const uint8_t TEMP[] = {
    0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x0c, 0x00, 0x44, 0x00, 0x6f, 0x00, 0x6d, 0x00, 0x61, 0x00, 0x69, 0x00,
    0x6e, 0x00, 0x01, 0x00, 0x0c, 0x00, 0x53, 0x00, 0x65, 0x00, 0x72, 0x00, 0x76, 0x00,
    0x65, 0x00, 0x72, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
/* 4.2.4.2.3 EncryptedRandomSessionKey (RandomSessionKey 0x55 x 16). */
static const uint8_t ENC_KEY[16] = {0xc5, 0xda, 0xd2, 0x54, 0x4f, 0xc9, 0x79, 0x90,
                                    0x94, 0xce, 0x1c, 0xe9, 0x0b, 0xc9, 0xd0, 0x3e};
/* 4.2.4 NegotiateFlags of the CHALLENGE_MESSAGE: 33 82 8a e2. */
#define SPEC_FLAGS 0xe28a8233u
/* 4.2.4.4 GSS_WrapEx of "Plaintext" (UTF-16LE) with sequence number 0. */
static const uint8_t SEALED[18] = {0x54, 0xe5, 0x01, 0x65, 0xbf, 0x19, 0x36, 0xdc, 0x99,
                                   0x60, 0x20, 0xc1, 0x81, 0x1b, 0x0f, 0x06, 0xfb, 0x5f};
static const uint8_t SIGNATURE[16] = {0x01, 0x00, 0x00, 0x00, 0x7f, 0xb3, 0x8e, 0xc5,
                                      0xc5, 0x5d, 0x49, 0x76, 0x00, 0x00, 0x00, 0x00};

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}

/* Appends a payload field's bytes and fills its Len/MaxLen/Offset at off. */
static void add_field(etsn_buf *m, size_t off, const void *data, size_t len)
{
    put16(m->data + off, len);
    put16(m->data + off + 2, len);
    put32(m->data + off + 4, (uint32_t)m->len);
    etsn_buf_append(m, data, len);
}

static void utf16(const char *s, etsn_buf *out)
{
    etsn_buf_reset(out);
    ck_assert_int_eq(etsn_utf8_to_utf16le(s, strlen(s), out), 0);
}

/* The CHALLENGE and AUTHENTICATE messages of 4.2.4 (payload order ours). */
static void spec_messages(etsn_buf *chal, etsn_buf *auth)
{
    uint8_t hdr[64] = "NTLMSSP";
    etsn_buf_reset(chal);
    put32(hdr + 8, 2);
    put32(hdr + 20, SPEC_FLAGS);
    memcpy(hdr + 24, SERVER_CHALLENGE, 8);
    etsn_buf_append(chal, hdr, 48);

    memset(hdr + 8, 0, sizeof hdr - 8);
    put32(hdr + 8, 3);
    put32(hdr + 60, SPEC_FLAGS);
    etsn_buf_reset(auth);
    etsn_buf_append(auth, hdr, 64);
    uint8_t lm[24] = {0}, nt[16 + sizeof TEMP];
    memcpy(nt, NT_PROOF, 16);
    memcpy(nt + 16, TEMP, sizeof TEMP);
    etsn_buf s = ETSN_BUF_INIT;
    add_field(auth, 12, lm, sizeof lm);
    add_field(auth, 20, nt, sizeof nt);
    utf16("Domain", &s);
    add_field(auth, 28, s.data, s.len);
    utf16("User", &s);
    add_field(auth, 36, s.data, s.len);
    utf16("COMPUTER", &s);
    add_field(auth, 44, s.data, s.len);
    add_field(auth, 52, ENC_KEY, sizeof ENC_KEY);
    etsn_buf_free(&s);
}

START_TEST(test_spec_ntowfv2)
{
    char err[256];
    uint8_t key[16];
    etsn_ntlm_unseal *u = etsn_ntlm_unseal_new(err, sizeof err);
    ck_assert_msg(u != NULL, "%s", err);
    ck_assert_int_eq(etsn_ntlm_ntowfv2(u, "Password", "User", "Domain", key, err, sizeof err), 0);
    ck_assert_mem_eq(key, NTOWFV2, 16);
    /* The user name is upper-cased, the domain is not. */
    ck_assert_int_eq(etsn_ntlm_ntowfv2(u, "Password", "USER", "Domain", key, err, sizeof err), 0);
    ck_assert_mem_eq(key, NTOWFV2, 16);
    ck_assert_int_eq(etsn_ntlm_ntowfv2(u, "Password", "User", "DOMAIN", key, err, sizeof err), 0);
    ck_assert(memcmp(key, NTOWFV2, 16) != 0);
    etsn_ntlm_unseal_free(u);
}
END_TEST

/* Tokens -> NTProofStr -> SessionBaseKey -> RC4 key exchange -> SEALKEY and
 * SIGNKEY -> the sealed "Plaintext" of 4.2.4.4 with its checksum. */
START_TEST(test_spec_unseal)
{
    char err[256];
    etsn_buf chal = ETSN_BUF_INIT, auth = ETSN_BUF_INIT, plain = ETSN_BUF_INIT,
             want = ETSN_BUF_INIT;
    spec_messages(&chal, &auth);
    etsn_ntlm_unseal *u = etsn_ntlm_unseal_new(err, sizeof err);
    ck_assert_ptr_nonnull(u);
    ck_assert(!etsn_ntlm_unseal_has_handshake(u));
    ck_assert_int_eq(etsn_ntlm_unseal_add_token(u, false, chal.data, chal.len, err, sizeof err), 0);
    ck_assert_int_eq(etsn_ntlm_unseal_add_token(u, true, auth.data, auth.len, err, sizeof err), 0);
    ck_assert(etsn_ntlm_unseal_has_handshake(u));
    ck_assert_str_eq(etsn_ntlm_unseal_user(u), "User");
    ck_assert_str_eq(etsn_ntlm_unseal_domain(u), "Domain");
    ck_assert_int_eq(etsn_ntlm_unseal_derive(u, "Wrong", err, sizeof err), ETSN_NTLM_BAD_PASSWORD);
    ck_assert_str_eq(err, "The password does not match the captured NTLM exchange of Domain\\User");
    ck_assert_int_eq(
        etsn_ntlm_unseal_message(u, true, SIGNATURE, 16, SEALED, 18, &plain, err, sizeof err),
        ETSN_NTLM_ERROR);
    ck_assert_msg(etsn_ntlm_unseal_derive(u, "Password", err, sizeof err) == 0, "%s", err);
    ck_assert_msg(
        etsn_ntlm_unseal_message(u, true, SIGNATURE, 16, SEALED, 18, &plain, err, sizeof err) == 0,
        "%s", err);
    utf16("Plaintext", &want);
    ck_assert_uint_eq(plain.len, want.len);
    ck_assert_mem_eq(plain.data, want.data, want.len);
    /* The same bytes again: sequence number 0 is spent, the RC4 state moved on. */
    ck_assert_int_eq(
        etsn_ntlm_unseal_message(u, true, SIGNATURE, 16, SEALED, 18, &plain, err, sizeof err),
        ETSN_NTLM_BAD_MAC);
    ck_assert_uint_eq(plain.len, want.len);
    etsn_ntlm_unseal_free(u);
    etsn_buf_free(&chal);
    etsn_buf_free(&auth);
    etsn_buf_free(&plain);
    etsn_buf_free(&want);
}
END_TEST

/* A flipped bit in the data or the checksum fails the MAC. */
START_TEST(test_spec_tampered)
{
    char err[256];
    uint8_t key[16];
    memset(key, 0x55, sizeof key);
    for (int which = 0; which < 3; which++) {
        uint8_t sealed[18], sig[16];
        memcpy(sealed, SEALED, sizeof sealed);
        memcpy(sig, SIGNATURE, sizeof sig);
        if (which == 0) sealed[5] ^= 1;
        if (which == 1) sig[6] ^= 0x80;
        if (which == 2) sig[12] = 1; /* sequence number 1 where 0 is due */
        etsn_ntlm_unseal *u = etsn_ntlm_unseal_new(err, sizeof err);
        ck_assert_int_eq(etsn_ntlm_unseal_set_session_key(u, SPEC_FLAGS, key, err, sizeof err), 0);
        etsn_buf plain = ETSN_BUF_INIT;
        ck_assert_int_eq(
            etsn_ntlm_unseal_message(u, true, sig, 16, sealed, 18, &plain, err, sizeof err),
            ETSN_NTLM_BAD_MAC);
        ck_assert_uint_eq(plain.len, 0);
        etsn_buf_free(&plain);
        etsn_ntlm_unseal_free(u);
    }
}
END_TEST

/* ---- a real exchange: our initiator and acceptor (gss-ntlmssp) ---- */

typedef struct {
    etsn_buf hdr[8];
    bool from_client[8];
    int n;
} token_log;

/* Records a token as the HTTP header value carrying it. */
static void log_token(token_log *log, bool from_client, const etsn_buf *tok)
{
    ck_assert_int_lt(log->n, 8);
    etsn_buf *h = &log->hdr[log->n];
    *h = (etsn_buf)ETSN_BUF_INIT;
    etsn_buf_append_str(h, "Negotiate ");
    etsn_base64_encode(tok->data, tok->len, h);
    log->from_client[log->n++] = from_client;
}

static void handshake(etsn_gss *cli, etsn_gss *srv, token_log *log)
{
    char err[512];
    etsn_buf tok = ETSN_BUF_INIT, reply = ETSN_BUF_INIT;
    etsn_gss_status cs = etsn_gss_step(cli, NULL, 0, &tok, err, sizeof err), ss;
    ck_assert_msg(cs != ETSN_GSS_ERROR, "%s", err);
    while (tok.len > 0) {
        log_token(log, true, &tok);
        ss = etsn_gss_step(srv, tok.data, tok.len, &reply, err, sizeof err);
        ck_assert_msg(ss != ETSN_GSS_ERROR, "acceptor: %s", err);
        etsn_buf_reset(&tok);
        if (reply.len == 0) break;
        log_token(log, false, &reply);
        cs = etsn_gss_step(cli, reply.data, reply.len, &tok, err, sizeof err);
        ck_assert_msg(cs != ETSN_GSS_ERROR, "initiator: %s", err);
    }
    ck_assert(etsn_gss_complete(cli) && etsn_gss_complete(srv));
    etsn_buf_free(&tok);
    etsn_buf_free(&reply);
}

static void add_headers(etsn_ntlm_unseal *u, const token_log *log, int from, int to)
{
    char err[512];
    for (int i = from; i < to; i++)
        ck_assert_msg(etsn_ntlm_unseal_add_header(u, log->from_client[i],
                                                  (const char *)log->hdr[i].data, log->hdr[i].len,
                                                  err, sizeof err) == 0,
                      "token %d: %s", i, err);
}

static etsn_ntlm_unseal *unsealer(const token_log *log, int upto)
{
    char err[512];
    etsn_ntlm_unseal *u = etsn_ntlm_unseal_new(err, sizeof err);
    ck_assert_ptr_nonnull(u);
    add_headers(u, log, 0, upto);
    ck_assert(etsn_ntlm_unseal_has_handshake(u));
    ck_assert_str_eq(etsn_ntlm_unseal_user(u), USER);
    ck_assert_str_eq(etsn_ntlm_unseal_domain(u), DOMAIN);
    return u;
}

static void seal_and_open(etsn_gss *from, etsn_mech mech, etsn_ntlm_unseal *u, bool from_client,
                          const char *text)
{
    char err[512];
    etsn_buf body = ETSN_BUF_INIT, plain = ETSN_BUF_INIT;
    ck_assert_msg(etsn_winrm_encrypt(from, mech, NULL, (const uint8_t *)text, strlen(text), &body,
                                     err, sizeof err) == 0,
                  "%s", err);
    ck_assert(memmem(body.data, body.len, text, strlen(text)) == NULL);
    ck_assert_msg(
        etsn_ntlm_unseal_body(u, from_client, body.data, body.len, &plain, err, sizeof err) == 0,
        "%s: %s", from_client ? "request" : "response", err);
    ck_assert_str_eq((const char *)plain.data, text);
    etsn_buf_free(&body);
    etsn_buf_free(&plain);
}

/* late: the acceptor's last token (SPNEGO: its mechListMIC) reaches the
 * unsealer only after the first request was opened, as in a capture where
 * the AUTHENTICATE request carries a sealed body. */
static void check_real_exchange(etsn_mech mech, bool late)
{
    char err[512];
    token_log log = {0};
    etsn_gss *srv = etsn_gss_acceptor_new(users_path, "localhost", err, sizeof err);
    etsn_gss *cli = etsn_gss_initiator_new(mech, DOMAIN "\\" USER, PASSWORD, "localhost", NULL, 0,
                                           err, sizeof err);
    ck_assert_msg(srv && cli, "%s", err);
    handshake(cli, srv, &log);

    etsn_ntlm_unseal *bad = unsealer(&log, log.n);
    ck_assert_int_eq(etsn_ntlm_unseal_derive(bad, "not-" PASSWORD, err, sizeof err),
                     ETSN_NTLM_BAD_PASSWORD);
    ck_assert(strstr(err, "The password does not match") != NULL);
    ck_assert(strstr(err, PASSWORD) == NULL);
    etsn_ntlm_unseal_free(bad);

    int upto = late && !log.from_client[log.n - 1] ? log.n - 1 : log.n;
    etsn_ntlm_unseal *u = unsealer(&log, upto);
    ck_assert_msg(etsn_ntlm_unseal_derive(u, PASSWORD, err, sizeof err) == 0, "%s", err);
    if (upto < log.n) {
        seal_and_open(cli, mech, u, true, "<s:Envelope>with the AUTHENTICATE</s:Envelope>");
        add_headers(u, &log, upto, log.n);
    }
    /* Both directions, several messages each, interleaved as HTTP does. */
    for (int i = 0; i < 4; i++) {
        char req[64], rsp[64];
        snprintf(req, sizeof req, "<s:Envelope>request %d</s:Envelope>", i);
        snprintf(rsp, sizeof rsp, "<s:Envelope>response %d, longer</s:Envelope>", i);
        seal_and_open(cli, mech, u, true, req);
        seal_and_open(srv, mech, u, false, rsp);
    }
    etsn_ntlm_unseal_free(u);
    for (int i = 0; i < log.n; i++) etsn_buf_free(&log.hdr[i]);
    etsn_gss_free(cli);
    etsn_gss_free(srv);
}

START_TEST(test_real_spnego)
{
    check_real_exchange(ETSN_MECH_SPNEGO, false);
    check_real_exchange(ETSN_MECH_SPNEGO, true);
}
END_TEST

START_TEST(test_real_raw_ntlm)
{
    check_real_exchange(ETSN_MECH_NTLM, false);
}
END_TEST

/* Malformed tokens and bodies are errors, never crashes. */
START_TEST(test_malformed)
{
    char err[256];
    etsn_ntlm_unseal *u = etsn_ntlm_unseal_new(err, sizeof err);
    static const char *const headers[] = {
        "Negotiate !!!!",         /* not base64 */
        "Negotiate AAAA",         /* not a token */
        "Negotiate oQMwAaA=",     /* NegTokenResp, truncated SEQUENCE */
        "NTLM TlRMTVNTUAADAAAA",  /* AUTHENTICATE of 12 bytes */
        "NTLM TlRMTVNTUAAJAAAA",  /* unknown message type */
        "Negotiate YAYGBCsGAQU=", /* InitialContextToken with another OID */
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        ck_assert_msg(etsn_ntlm_unseal_add_header(u, true, headers[i], strlen(headers[i]), err,
                                                  sizeof err) == ETSN_NTLM_ERROR,
                      "%s", headers[i]);
    /* Other schemes and bare challenges are not NTLM tokens. */
    static const char *const ignored[] = {"Basic YWxpY2U6eA==", "Negotiate", "Kerberos",
                                          "Negotiate, Basic realm=\"x\""};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        ck_assert_int_eq(
            etsn_ntlm_unseal_add_header(u, false, ignored[i], strlen(ignored[i]), err, sizeof err),
            0);
    ck_assert(!etsn_ntlm_unseal_has_handshake(u));
    ck_assert(!etsn_ntlm_unseal_other_mech(u));
    ck_assert_int_eq(etsn_ntlm_unseal_derive(u, "x", err, sizeof err), ETSN_NTLM_ERROR);
    /* A NegTokenInit whose mechToken is not NTLM (Kerberos) is noted, not fatal. */
    static const uint8_t krb_init[] = {0x60, 0x12, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02,
                                       0xa0, 0x08, 0x30, 0x06, 0xa2, 0x04, 0x04, 0x02, 0x60, 0x00};
    ck_assert_int_eq(
        etsn_ntlm_unseal_add_token(u, true, krb_init, sizeof krb_init, err, sizeof err), 0);
    ck_assert(etsn_ntlm_unseal_other_mech(u));
    ck_assert_int_eq(etsn_ntlm_unseal_derive(u, "x", err, sizeof err), ETSN_NTLM_ERROR);
    ck_assert_msg(strstr(err, "Kerberos") != NULL, "%s", err);
    etsn_buf plain = ETSN_BUF_INIT;
    ck_assert_int_eq(
        etsn_ntlm_unseal_body(u, true, (const uint8_t *)"--x", 3, &plain, err, sizeof err),
        ETSN_NTLM_ERROR);
    etsn_buf_free(&plain);
    etsn_ntlm_unseal_free(u);
}
END_TEST

int main(void)
{
    if (setup_env() < 0) {
        fprintf(stderr, "cannot create the test directory\n");
        return 1;
    }
    Suite *s = suite_create("ntlm_unseal");
    TCase *tc = tcase_create("ntlm_unseal");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_spec_ntowfv2);
    tcase_add_test(tc, test_spec_unseal);
    tcase_add_test(tc, test_spec_tampered);
    tcase_add_test(tc, test_real_spnego);
    tcase_add_test(tc, test_real_raw_ntlm);
    tcase_add_test(tc, test_malformed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup_env();
    return failed ? 1 : 0;
}
