/* Unit tests for the PSRP key exchange and SecureString encryption
 * (psrp_crypto.c).
 *
 * Vectors:
 *  - recorded_public_key / recorded_session_key: the PublicKey and
 *    EncryptedSessionKey members of the PUBLIC_KEY / ENCRYPTED_SESSION_KEY
 *    messages in pypsrp's recording
 *    tests/tests_pypsrp/responses/test_psrp_pshost_ui_mocked_methods.yml
 *    (pypsrp client, Windows server), taken out of the base64 <rsp:Stream>
 *    fragments at development time. Public key material only; the session key
 *    can't be decrypted without the client's private key, so only its layout
 *    is checked.
 *  - The AES-256-CBC ciphertexts were computed independently at development
 *    time with
 *      printf 's\0e\0c\0r\0e\0t\0' | openssl enc -aes-256-cbc \
 *        -K 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
 *        -iv 00000000000000000000000000000000 | xxd -p
 *    (likewise for "password" and for the empty string). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "psrp_crypto.h"

/* ---- vectors ---- */

static const char recorded_public_key[] =
    "BgIAAACkAABSU0ExAAgAAAEAAQBvH62/q5haEUStHGs+p3e5TIR1xaL+Ab9pYjd1pB4oYN1Rbru+i2BpzCNAvmE+"
    "y018u0idwQnoE70Pvq16bcxeXiaXajuKrqx+e+cg/Yu0emyZZspUN8opTPXceSEVXR8jhpSrnpI6ziP0ek+/"
    "Mu7836HJ5DnikE6h7tSk1sRnJ3XVQFS8EbcfI+sigy30rJjZA/"
    "aD1HRpXpyoABoK8hSpihvnJcVNr3uY8DibjLSKIoeGF3nK"
    "0V3peMUC3cbxjvwOsGjFPBCuA/"
    "exOKkNuPEraLtEv1PvaFmRFUR0M9lj4WjKMhU8sle04IZJlYTvX6xuX8nYS1P3RsRdsqa0"
    "YpnD";

static const char recorded_session_key[] =
    "AQIAABBmAAAApAAAxoUb7uu1x7OuB4jQUEbrUuM2qy7CZ2lmyjOpQhI9KGP2L9ilhCvfdGxrmnPC0K184jUDnfEXpi5XAP"
    "Mq"
    "vQDzB34l+iZSJo9gzQYNw9+MlNf+sVF/"
    "qz6wu4xmGOZs9cJOhk3zFM5VMMUOxvSl0OC8FRQBh1MTEANqOYxQeYOhHduXBYOS"
    "9N9evq5NQf6UK2u/+wqeREmm6MJe0htbwa/"
    "0njNPeu0khedq9KWZq3zhBiP5egAhiUtnueOPsCZgMlubpE6nhFG3GGBO+8ji"
    "5aiwU5N0xzdgQgClha2Yey4a2VSWVZXMEcoTs7S15C0bAGMxDWlKQEuhgfa+jTu0Aw6Daw==";

/* The first 20 bytes of the recorded PUBLICKEYBLOB, typed from its hex. */
static const uint8_t publickeyblob_header[20] = {
    0x06, 0x02, 0x00, 0x00, /* PUBLICKEYBLOB, version 2, reserved */
    0x00, 0xA4, 0x00, 0x00, /* CALG_RSA_KEYX */
    0x52, 0x53, 0x41, 0x31, /* "RSA1" */
    0x00, 0x08, 0x00, 0x00, /* 2048 bits */
    0x01, 0x00, 0x01, 0x00, /* 65537 */
};
/* The recorded modulus' lowest two bytes (first in the blob) and highest
 * (last). */
static const uint8_t recorded_mod_first[2] = {0x6F, 0x1F};
static const uint8_t recorded_mod_last = 0xC3;

/* The first 12 bytes of the recorded SIMPLEBLOB. */
static const uint8_t simpleblob_header[12] = {
    0x01, 0x02, 0x00, 0x00, /* SIMPLEBLOB, version 2, reserved */
    0x10, 0x66, 0x00, 0x00, /* CALG_AES_256 */
    0x00, 0xA4, 0x00, 0x00, /* CALG_RSA_KEYX */
};

static const uint8_t aes_key[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t secret_utf16[12] = {'s', 0, 'e', 0, 'c', 0, 'r', 0, 'e', 0, 't', 0};
static const uint8_t secret_cipher[16] = {0x4b, 0x7d, 0xf8, 0x6b, 0xc4, 0x25, 0x99, 0x2a,
                                          0x1d, 0x56, 0x6a, 0xe3, 0x78, 0x55, 0x81, 0x3b};
static const uint8_t password_cipher[32] = {
    0xbb, 0x51, 0xd0, 0xc3, 0xa5, 0xe7, 0x19, 0xca, 0x7e, 0x76, 0xf4, 0x6e, 0x8e, 0x98, 0xd7, 0xfb,
    0x4f, 0x73, 0xbd, 0x42, 0x01, 0xb5, 0x07, 0x0a, 0x0f, 0xee, 0xc7, 0x8a, 0x60, 0x18, 0x28, 0xb9};
static const uint8_t empty_cipher[16] = {0x9f, 0x3b, 0x75, 0x04, 0x92, 0x6f, 0x8b, 0xd3,
                                         0x6e, 0x31, 0x18, 0xe9, 0x03, 0xa4, 0xcd, 0x4a};

/* ---- helpers (OpenSSL base64, independent of the code under test) ---- */

static size_t b64dec(const char *s, uint8_t *out, size_t cap)
{
    size_t len = strlen(s);
    ck_assert_uint_le(len / 4 * 3, cap);
    int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    ck_assert_int_ge(n, 0);
    size_t pad = 0;
    while (len > 0 && s[len - 1] == '=') len--, pad++;
    return (size_t)n - pad;
}

static char *b64enc(const uint8_t *data, size_t len)
{
    char *s = malloc(4 * ((len + 2) / 3) + 1);
    ck_assert_ptr_nonnull(s);
    EVP_EncodeBlock((unsigned char *)s, data, (int)len);
    return s;
}

/* Encrypts len bytes with a, decrypts with b, checks the sizes and content. */
static void check_round(const etsn_psrp_keys *a, const etsn_psrp_keys *b, size_t len)
{
    uint8_t plain[100];
    ck_assert_uint_le(len, sizeof plain);
    for (size_t i = 0; i < len; i++) plain[i] = (uint8_t)(i * 7 + 3);
    etsn_buf c = ETSN_BUF_INIT, p = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_secure_string_encrypt(a, plain, len, &c), 0);
    ck_assert_uint_eq(c.len, (len / 16 + 1) * 16);
    ck_assert_int_eq(etsn_secure_string_decrypt(b, c.data, c.len, &p), 0);
    ck_assert_uint_eq(p.len, len);
    if (len) ck_assert_mem_eq(p.data, plain, len);
    etsn_buf_free(&c);
    etsn_buf_free_secure(&p);
}

static const size_t round_lengths[] = {0, 1, 2, 12, 15, 16, 17, 31, 32, 33, 100};

/* A full exchange: fills *client and *server. */
static void exchange(etsn_psrp_keys **client, etsn_psrp_keys **server)
{
    char err[200] = "";
    *client = etsn_psrp_keys_client_new(err, sizeof err);
    ck_assert_msg(*client != NULL, "%s", err);
    ck_assert(!etsn_psrp_keys_ready(*client));
    etsn_buf pub = ETSN_BUF_INIT, sess = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_public_blob(*client, &pub), 0);
    *server = etsn_psrp_keys_server_new((const char *)pub.data, err, sizeof err);
    ck_assert_msg(*server != NULL, "%s", err);
    ck_assert(etsn_psrp_keys_ready(*server));
    ck_assert_int_eq(etsn_psrp_keys_session_key_blob(*server, &sess), 0);
    ck_assert_int_eq(
        etsn_psrp_keys_accept_session_key(*client, (const char *)sess.data, err, sizeof err), 0);
    ck_assert(etsn_psrp_keys_ready(*client));
    etsn_buf_free(&pub);
    etsn_buf_free(&sess);
}

/* ---- exchange ---- */

START_TEST(test_exchange_roundtrip)
{
    etsn_psrp_keys *client, *server;
    exchange(&client, &server);
    for (size_t i = 0; i < sizeof round_lengths / sizeof round_lengths[0]; i++) {
        check_round(client, server, round_lengths[i]);
        check_round(server, client, round_lengths[i]);
        check_round(client, client, round_lengths[i]);
    }
    etsn_psrp_keys_free(client);
    etsn_psrp_keys_free(server);
}
END_TEST

START_TEST(test_public_blob_layout)
{
    char err[200] = "";
    etsn_psrp_keys *client = etsn_psrp_keys_client_new(err, sizeof err);
    ck_assert_msg(client != NULL, "%s", err);
    etsn_buf pub = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_public_blob(client, &pub), 0);
    ck_assert_uint_eq(pub.len, strlen((const char *)pub.data));
    uint8_t blob[400];
    size_t n = b64dec((const char *)pub.data, blob, sizeof blob);
    ck_assert_uint_eq(n, 20 + 256);
    ck_assert_mem_eq(blob, publickeyblob_header, 20);
    ck_assert_uint_ge(blob[20 + 255], 0x80); /* full 2048-bit modulus */
    ck_assert_uint_eq(blob[20] & 1, 1);      /* odd: least significant first */

    /* The server re-exports the same blob. */
    etsn_psrp_keys *server = etsn_psrp_keys_server_new((const char *)pub.data, err, sizeof err);
    ck_assert_msg(server != NULL, "%s", err);
    etsn_buf again = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_public_blob(server, &again), 0);
    ck_assert_str_eq((const char *)again.data, (const char *)pub.data);

    /* Output appends. */
    etsn_buf pre = ETSN_BUF_INIT;
    etsn_buf_append_str(&pre, "x=");
    ck_assert_int_eq(etsn_psrp_keys_public_blob(client, &pre), 0);
    ck_assert_uint_eq(pre.len, 2 + pub.len);
    ck_assert_mem_eq(pre.data + 2, pub.data, pub.len);

    etsn_buf_free(&pre);
    etsn_buf_free(&again);
    etsn_buf_free(&pub);
    etsn_psrp_keys_free(server);
    etsn_psrp_keys_free(client);
}
END_TEST

START_TEST(test_session_blob_layout)
{
    etsn_psrp_keys *client, *server;
    exchange(&client, &server);
    etsn_buf sess = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_session_key_blob(server, &sess), 0);
    uint8_t blob[400];
    size_t n = b64dec((const char *)sess.data, blob, sizeof blob);
    ck_assert_uint_eq(n, 12 + 256);
    ck_assert_mem_eq(blob, simpleblob_header, 12);

    /* The ciphertext is byte-reversed: un-reversing it and decrypting with
     * OpenSSL directly gives a 32-byte key (checked through the API: a
     * second blob, a fresh PKCS#1 padding, still yields a working key). */
    char err[200] = "";
    ck_assert_int_eq(
        etsn_psrp_keys_accept_session_key(client, (const char *)sess.data, err, sizeof err), 0);
    check_round(client, server, 17);

    /* Roles: a client doesn't make session blobs; a server can't accept. */
    etsn_buf none = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_session_key_blob(client, &none), -1);
    ck_assert_uint_eq(none.len, 0);
    err[0] = 0;
    ck_assert_int_eq(
        etsn_psrp_keys_accept_session_key(server, (const char *)sess.data, err, sizeof err), -1);
    ck_assert_str_ne(err, "");

    etsn_buf_free(&sess);
    etsn_psrp_keys_free(client);
    etsn_psrp_keys_free(server);
}
END_TEST

START_TEST(test_recorded_public_key)
{
    uint8_t blob[400];
    size_t n = b64dec(recorded_public_key, blob, sizeof blob);
    ck_assert_uint_eq(n, 276);
    ck_assert_mem_eq(blob, publickeyblob_header, 20);
    ck_assert_mem_eq(blob + 20, recorded_mod_first, 2);
    ck_assert_uint_eq(blob[275], recorded_mod_last);

    char err[200] = "";
    etsn_psrp_keys *server = etsn_psrp_keys_server_new(recorded_public_key, err, sizeof err);
    ck_assert_msg(server != NULL, "%s", err);
    ck_assert(etsn_psrp_keys_ready(server));

    etsn_buf pub = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_public_blob(server, &pub), 0);
    ck_assert_str_eq((const char *)pub.data, recorded_public_key);

    /* Our SIMPLEBLOB for it has the recorded Windows one's size and header. */
    etsn_buf sess = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_session_key_blob(server, &sess), 0);
    uint8_t ours[400], theirs[400];
    size_t on = b64dec((const char *)sess.data, ours, sizeof ours);
    size_t tn = b64dec(recorded_session_key, theirs, sizeof theirs);
    ck_assert_uint_eq(tn, 12 + 256);
    ck_assert_uint_eq(on, tn);
    ck_assert_mem_eq(theirs, simpleblob_header, 12);
    ck_assert_mem_eq(ours, theirs, 12);

    /* Whitespace inside the base64 (line breaks) is tolerated. */
    etsn_buf wrapped = ETSN_BUF_INIT;
    for (size_t i = 0; recorded_public_key[i]; i++) {
        if (i && i % 64 == 0) etsn_buf_append_str(&wrapped, "\r\n");
        etsn_buf_append_byte(&wrapped, (uint8_t)recorded_public_key[i]);
    }
    etsn_psrp_keys *again = etsn_psrp_keys_server_new((const char *)wrapped.data, err, sizeof err);
    ck_assert_msg(again != NULL, "%s", err);

    etsn_buf_free(&wrapped);
    etsn_buf_free(&pub);
    etsn_buf_free(&sess);
    etsn_psrp_keys_free(again);
    etsn_psrp_keys_free(server);
}
END_TEST

/* server_new on a modified copy of the recorded blob must fail with a
 * reason. */
static void expect_public_rejected(const uint8_t *blob, size_t len, const char *what)
{
    char *b64 = b64enc(blob, len);
    char err[200] = "";
    etsn_psrp_keys *k = etsn_psrp_keys_server_new(b64, err, sizeof err);
    ck_assert_msg(k == NULL, "accepted: %s", what);
    ck_assert_msg(err[0] != 0, "no reason: %s", what);
    free(b64);
}

START_TEST(test_public_key_rejected)
{
    uint8_t good[400], b[400];
    size_t n = b64dec(recorded_public_key, good, sizeof good);
    ck_assert_uint_eq(n, 276);

    static const struct {
        size_t off;
        uint8_t val;
        const char *what;
    } edits[] = {
        {0, 0x07, "bType"},
        {1, 0x03, "bVersion"},
        {2, 0x01, "reserved"},
        {3, 0x01, "reserved hi"},
        {5, 0x24, "aiKeyAlg CALG_RSA_SIGN"},
        {4, 0x01, "aiKeyAlg low"},
        {8, 0x53, "magic"},
        {11, 0x32, "magic RSA2"},
        {12, 0x01, "bitlen 2049"},
        {13, 0x10, "bitlen 4096 for 256 bytes"},
        {13, 0x04, "bitlen 1024 for 256 bytes"},
        {16, 0x00, "even exponent"},
        {20, 0x6E, "even modulus"},
        {275, 0x00, "modulus shorter than bitlen"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(b, good, n);
        b[edits[i].off] = edits[i].val;
        expect_public_rejected(b, n, edits[i].what);
    }
    /* exponent 1 */
    memcpy(b, good, n);
    b[16] = 1, b[17] = 0, b[18] = 0, b[19] = 0;
    expect_public_rejected(b, n, "exponent 1");
    /* A consistent 1024-bit blob: too small. */
    memcpy(b, good, 20 + 128);
    b[13] = 0x04;
    b[20 + 127] |= 0x80;
    expect_public_rejected(b, 20 + 128, "1024-bit key");
    /* Lengths. */
    static const size_t cuts[] = {0, 1, 19, 20, 21, 148, 275};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        expect_public_rejected(good, cuts[i], "truncated");
    memcpy(b, good, n);
    b[n] = 0;
    expect_public_rejected(b, n + 1, "one byte extra");

    /* Not base64, or not a blob at all. */
    static const char *garbage[] = {
        "", "!!!!", "AAAA-", "QUJD=QUJD", "QUJ", "=", "BgIAAACkAABSU0Ex", "QUJD", "\x80\x81",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        char err[200] = "";
        ck_assert_ptr_null(etsn_psrp_keys_server_new(garbage[i], err, sizeof err));
        ck_assert_str_ne(err, "");
    }
    char err[200] = "";
    ck_assert_ptr_null(etsn_psrp_keys_server_new(NULL, err, sizeof err));
    ck_assert_str_ne(err, "");
    ck_assert_ptr_null(etsn_psrp_keys_server_new("", NULL, 0)); /* no err buffer: fine */
    /* The recorded session key is not a public key. */
    ck_assert_ptr_null(etsn_psrp_keys_server_new(recorded_session_key, err, sizeof err));
}
END_TEST

static void expect_session_rejected(etsn_psrp_keys *client, const uint8_t *blob, size_t len,
                                    const char *what)
{
    char *b64 = b64enc(blob, len);
    char err[200] = "";
    ck_assert_msg(etsn_psrp_keys_accept_session_key(client, b64, err, sizeof err) == -1,
                  "accepted: %s", what);
    ck_assert_msg(err[0] != 0, "no reason: %s", what);
    free(b64);
}

/* A padding error: OpenSSL 3.0/3.1 report it; 3.2+ (implicit rejection)
 * yield a pseudo-random message instead, almost never 32 bytes long. Either
 * way the client must not end up with the server's key. */
static void expect_session_not_taken(etsn_psrp_keys *client, const etsn_psrp_keys *server,
                                     const uint8_t *blob, size_t len, const char *what)
{
    char *b64 = b64enc(blob, len);
    char err[200] = "";
    int rc = etsn_psrp_keys_accept_session_key(client, b64, err, sizeof err);
    free(b64);
    if (rc != 0) {
        ck_assert_msg(err[0] != 0, "no reason: %s", what);
        return;
    }
    etsn_buf c = ETSN_BUF_INIT, p = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_secure_string_encrypt(server, secret_utf16, 12, &c), 0);
    int d = etsn_secure_string_decrypt(client, c.data, c.len, &p);
    ck_assert_msg(d != 0 || p.len != 12 || memcmp(p.data, secret_utf16, 12) != 0, "took: %s", what);
    etsn_buf_free(&c);
    etsn_buf_free(&p);
}

START_TEST(test_session_key_rejected)
{
    char err[200] = "";
    etsn_psrp_keys *client = etsn_psrp_keys_client_new(err, sizeof err);
    ck_assert_msg(client != NULL, "%s", err);
    etsn_buf pub = ETSN_BUF_INIT, sess = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_public_blob(client, &pub), 0);
    etsn_psrp_keys *server = etsn_psrp_keys_server_new((const char *)pub.data, err, sizeof err);
    ck_assert_msg(server != NULL, "%s", err);
    ck_assert_int_eq(etsn_psrp_keys_session_key_blob(server, &sess), 0);

    uint8_t good[400], b[400];
    size_t n = b64dec((const char *)sess.data, good, sizeof good);
    ck_assert_uint_eq(n, 268);

    /* Every header byte matters. */
    for (size_t i = 0; i < 12; i++) {
        memcpy(b, good, n);
        b[i] ^= 0x01;
        expect_session_rejected(client, b, n, "header");
    }
    /* Lengths. */
    static const size_t cuts[] = {0, 1, 11, 12, 13, 44, 267};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        expect_session_rejected(client, good, cuts[i], "truncated");
    memcpy(b, good, n);
    b[n] = 0;
    expect_session_rejected(client, b, n + 1, "one byte extra");
    /* Ciphertext >= modulus. */
    memcpy(b, good, n);
    memset(b + 12, 0xFF, 256);
    expect_session_rejected(client, b, n, "ciphertext above the modulus");
    /* Garbage. */
    static const char *garbage[] = {"", "!!!!", "AAAA-", "QUJD=QUJD", "QUJ", "\x80"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        err[0] = 0;
        ck_assert_int_eq(etsn_psrp_keys_accept_session_key(client, garbage[i], err, sizeof err),
                         -1);
        ck_assert_str_ne(err, "");
    }
    err[0] = 0;
    ck_assert_int_eq(etsn_psrp_keys_accept_session_key(client, NULL, err, sizeof err), -1);
    ck_assert_str_ne(err, "");
    ck_assert(!etsn_psrp_keys_ready(client)); /* failures leave no key behind */

    /* Bad padding inside the RSA ciphertext: a flipped byte, or the
     * ciphertext left big endian. */
    memcpy(b, good, n);
    b[12 + 100] ^= 0x40;
    expect_session_not_taken(client, server, b, n, "flipped ciphertext byte");
    memcpy(b, good, n);
    for (size_t i = 0; i < 256; i++) b[12 + i] = good[12 + 255 - i];
    expect_session_not_taken(client, server, b, n, "not byte-reversed");

    /* The right blob still works, and a later bad one leaves the key. */
    ck_assert_int_eq(
        etsn_psrp_keys_accept_session_key(client, (const char *)sess.data, err, sizeof err), 0);
    memcpy(b, good, n);
    b[0] = 0x07;
    expect_session_rejected(client, b, n, "after success");
    ck_assert(etsn_psrp_keys_ready(client));
    check_round(server, client, 16);

    /* The recorded blob was for another key: rejected, or (implicit
     * rejection) accepted as some unrelated key; never a crash. */
    (void)etsn_psrp_keys_accept_session_key(client, recorded_session_key, err, sizeof err);

    etsn_buf_free(&pub);
    etsn_buf_free(&sess);
    etsn_psrp_keys_free(client);
    etsn_psrp_keys_free(server);
}
END_TEST

/* ---- AES ---- */

START_TEST(test_aes_fixed_vectors)
{
    etsn_psrp_keys *k = etsn_psrp_keys_from_session_key(aes_key);
    ck_assert_ptr_nonnull(k);
    ck_assert(etsn_psrp_keys_ready(k));

    etsn_buf c = ETSN_BUF_INIT, p = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_secure_string_encrypt(k, secret_utf16, sizeof secret_utf16, &c), 0);
    ck_assert_uint_eq(c.len, 16);
    ck_assert_mem_eq(c.data, secret_cipher, 16);
    ck_assert_int_eq(etsn_secure_string_decrypt(k, secret_cipher, 16, &p), 0);
    ck_assert_uint_eq(p.len, 12);
    ck_assert_mem_eq(p.data, secret_utf16, 12);
    etsn_buf_free(&c);
    etsn_buf_free_secure(&p);

    /* "password": 16 bytes of UTF-16LE, so a whole block of padding. */
    etsn_buf u = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_utf8_to_utf16le("password", 8, &u), 0);
    ck_assert_int_eq(etsn_secure_string_encrypt(k, u.data, u.len, &c), 0);
    ck_assert_uint_eq(c.len, 32);
    ck_assert_mem_eq(c.data, password_cipher, 32);
    etsn_buf_free(&c);
    etsn_buf_free(&u);

    /* Empty text: one block of padding. */
    ck_assert_int_eq(etsn_secure_string_encrypt(k, NULL, 0, &c), 0);
    ck_assert_uint_eq(c.len, 16);
    ck_assert_mem_eq(c.data, empty_cipher, 16);
    ck_assert_int_eq(etsn_secure_string_decrypt(k, empty_cipher, 16, &p), 0);
    ck_assert_uint_eq(p.len, 0);
    etsn_buf_free(&c);

    /* Output appends. */
    etsn_buf_append_str(&p, "ab");
    ck_assert_int_eq(etsn_secure_string_decrypt(k, secret_cipher, 16, &p), 0);
    ck_assert_uint_eq(p.len, 14);
    ck_assert_mem_eq(p.data, "ab", 2);
    ck_assert_mem_eq(p.data + 2, secret_utf16, 12);
    ck_assert_uint_eq(p.data[p.len], 0);
    etsn_buf_free_secure(&p);

    /* Bad ciphertexts: a failure adds nothing. */
    uint8_t bad[32];
    memcpy(bad, password_cipher, 32);
    bad[15] ^= 0x01; /* CBC: turns the last padding byte 0x10 into 0x11 */
    etsn_buf_append_str(&p, "keep");
    ck_assert_int_eq(etsn_secure_string_decrypt(k, bad, 32, &p), -1);
    ck_assert_int_eq(etsn_secure_string_decrypt(k, secret_cipher, 0, &p), -1);
    ck_assert_int_eq(etsn_secure_string_decrypt(k, secret_cipher, 15, &p), -1);
    memcpy(bad, password_cipher, 32);
    ck_assert_int_eq(etsn_secure_string_decrypt(k, bad, 17, &p), -1);
    ck_assert_int_eq(etsn_secure_string_decrypt(k, NULL, 16, &p), -1);
    ck_assert_uint_eq(p.len, 4);
    ck_assert_str_eq((const char *)p.data, "keep");
    etsn_buf_free_secure(&p);

    /* A different key: the vector doesn't come out. */
    uint8_t other[32];
    memcpy(other, aes_key, 32);
    other[31] ^= 0x80;
    etsn_psrp_keys *k2 = etsn_psrp_keys_from_session_key(other);
    ck_assert_int_eq(etsn_secure_string_encrypt(k2, secret_utf16, 12, &c), 0);
    ck_assert_mem_ne(c.data, secret_cipher, 16);
    etsn_buf_free(&c);

    etsn_psrp_keys_free(k2);
    etsn_psrp_keys_free(k);
}
END_TEST

START_TEST(test_not_ready)
{
    char err[200] = "";
    etsn_psrp_keys *client = etsn_psrp_keys_client_new(err, sizeof err);
    ck_assert_msg(client != NULL, "%s", err);
    etsn_buf c = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_secure_string_encrypt(client, secret_utf16, 12, &c), -1);
    ck_assert_int_eq(etsn_secure_string_decrypt(client, secret_cipher, 16, &c), -1);
    ck_assert_int_eq(etsn_secure_string_encrypt(NULL, secret_utf16, 12, &c), -1);
    ck_assert_uint_eq(c.len, 0);
    ck_assert(!etsn_psrp_keys_ready(NULL));
    ck_assert_int_eq(etsn_psrp_keys_public_blob(NULL, &c), -1);
    /* A session-key-only set has no RSA key. */
    etsn_psrp_keys *k = etsn_psrp_keys_from_session_key(aes_key);
    ck_assert_int_eq(etsn_psrp_keys_public_blob(k, &c), -1);
    ck_assert_int_eq(etsn_psrp_keys_session_key_blob(k, &c), -1);
    ck_assert_int_eq(etsn_psrp_keys_accept_session_key(k, recorded_session_key, err, sizeof err),
                     -1);
    etsn_buf_free(&c);
    etsn_psrp_keys_free(k);
    etsn_psrp_keys_free(client);
    etsn_psrp_keys_free(NULL);
}
END_TEST

/* ---- UTF-8 / UTF-16LE ---- */

static void check_u8_u16(const char *u8, size_t u8len, const uint8_t *u16, size_t u16len)
{
    etsn_buf o = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_utf8_to_utf16le(u8, u8len, &o), 0);
    ck_assert_uint_eq(o.len, u16len);
    if (u16len) ck_assert_mem_eq(o.data, u16, u16len);
    etsn_buf_free(&o);
    ck_assert_int_eq(etsn_utf16le_to_utf8(u16, u16len, &o), 0);
    ck_assert_uint_eq(o.len, u8len);
    if (u8len) ck_assert_mem_eq(o.data, u8, u8len);
    ck_assert_uint_eq(o.data[o.len], 0);
    etsn_buf_free(&o);
}

START_TEST(test_utf_conversions)
{
    check_u8_u16("", 0, (const uint8_t *)"", 0);
    check_u8_u16("secret", 6, secret_utf16, 12);
    check_u8_u16("\xC3\xA9", 2, (const uint8_t *)"\xE9\x00", 2);                 /* é */
    check_u8_u16("\xDF\xBF", 2, (const uint8_t *)"\xFF\x07", 2);                 /* U+07FF */
    check_u8_u16("\xE2\x82\xAC", 3, (const uint8_t *)"\xAC\x20", 2);             /* € */
    check_u8_u16("\xEF\xBF\xBD", 3, (const uint8_t *)"\xFD\xFF", 2);             /* U+FFFD */
    check_u8_u16("\xEE\x80\x80", 3, (const uint8_t *)"\x00\xE0", 2);             /* U+E000 */
    check_u8_u16("\xF0\x9F\x98\x80", 4, (const uint8_t *)"\x3D\xD8\x00\xDE", 4); /* U+1F600 */
    check_u8_u16("\xF0\x90\x80\x80", 4, (const uint8_t *)"\x00\xD8\x00\xDC", 4); /* U+10000 */
    check_u8_u16("\xF4\x8F\xBF\xBF", 4, (const uint8_t *)"\xFF\xDB\xFF\xDF", 4); /* U+10FFFF */
    check_u8_u16("a\0b", 3, (const uint8_t *)"a\0\0\0b\0", 6);                   /* embedded NUL */
    check_u8_u16("p\xC3\xA4ss\xF0\x9F\x94\x91", 9,
                 (const uint8_t *)"p\0\xE4\0s\0s\0\x3D\xD8\x11\xDD", 12);

    /* Invalid UTF-8: rejected, nothing appended. */
    static const char *bad8[] = {
        "\x80",
        "\xBF",
        "\xC0\x80",
        "\xC1\xBF",
        "\xC3",
        "\xC3\x41",
        "\xE2\x82",
        "\xE0\x80\x80",
        "\xE0\x9F\xBF",
        "\xED\xA0\x80",
        "\xED\xBF\xBF",
        "\xF0\x80\x80\x80",
        "\xF0\x8F\xBF\xBF",
        "\xF4\x90\x80\x80",
        "\xF5\x80\x80\x80",
        "\xF8\x88\x80\x80\x80",
        "\xFF",
        "\xE2\x28\xA1",
        "ok\xF0\x9F\x98",
    };
    for (size_t i = 0; i < sizeof bad8 / sizeof bad8[0]; i++) {
        etsn_buf o = ETSN_BUF_INIT;
        etsn_buf_append_str(&o, "pre");
        ck_assert_msg(etsn_utf8_to_utf16le(bad8[i], strlen(bad8[i]), &o) == -1, "bad8[%zu]", i);
        ck_assert_uint_eq(o.len, 3);
        etsn_buf_free(&o);
    }

    /* UTF-16LE: odd length rejected; unpaired surrogates become U+FFFD. */
    etsn_buf o = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_utf16le_to_utf8((const uint8_t *)"a\0b", 3, &o), -1);
    ck_assert_uint_eq(o.len, 0);
    ck_assert_int_eq(etsn_utf16le_to_utf8((const uint8_t *)"\x00\xD8"
                                                           "A\0",
                                          4, &o),
                     0);
    ck_assert_uint_eq(o.len, 4);
    ck_assert_mem_eq(o.data,
                     "\xEF\xBF\xBD"
                     "A",
                     4);
    o.len = 0;
    ck_assert_int_eq(etsn_utf16le_to_utf8((const uint8_t *)"\x00\xDC\x00\xD8", 4, &o), 0);
    ck_assert_uint_eq(o.len, 6);
    ck_assert_mem_eq(o.data, "\xEF\xBF\xBD\xEF\xBF\xBD", 6);
    o.len = 0;
    /* high, high, low: the first is unpaired, the second pairs */
    ck_assert_int_eq(etsn_utf16le_to_utf8((const uint8_t *)"\x3D\xD8\x3D\xD8\x00\xDE", 6, &o), 0);
    ck_assert_uint_eq(o.len, 7);
    ck_assert_mem_eq(o.data, "\xEF\xBF\xBD\xF0\x9F\x98\x80", 7);
    /* appends */
    ck_assert_int_eq(etsn_utf16le_to_utf8((const uint8_t *)"x\0", 2, &o), 0);
    ck_assert_uint_eq(o.len, 8);
    ck_assert_uint_eq(o.data[7], 'x');
    etsn_buf_free(&o);
}
END_TEST

/* Every BMP code point but surrogates, and a spread above, survive a round
 * trip. */
START_TEST(test_utf_all_code_points)
{
    etsn_buf u8 = ETSN_BUF_INIT, u16 = ETSN_BUF_INIT, back = ETSN_BUF_INIT;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x10000 ? 1 : 97)) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        uint8_t e[4];
        size_t n;
        if (cp < 0x80) {
            e[0] = (uint8_t)cp, n = 1;
        } else if (cp < 0x800) {
            e[0] = (uint8_t)(0xC0 | cp >> 6), e[1] = (uint8_t)(0x80 | (cp & 0x3F)), n = 2;
        } else if (cp < 0x10000) {
            e[0] = (uint8_t)(0xE0 | cp >> 12), e[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
            e[2] = (uint8_t)(0x80 | (cp & 0x3F)), n = 3;
        } else {
            e[0] = (uint8_t)(0xF0 | cp >> 18), e[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
            e[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)), e[3] = (uint8_t)(0x80 | (cp & 0x3F));
            n = 4;
        }
        etsn_buf_append(&u8, e, n);
    }
    ck_assert_int_eq(etsn_utf8_to_utf16le((const char *)u8.data, u8.len, &u16), 0);
    ck_assert_int_eq(etsn_utf16le_to_utf8(u16.data, u16.len, &back), 0);
    ck_assert_uint_eq(back.len, u8.len);
    ck_assert_mem_eq(back.data, u8.data, u8.len);
    etsn_buf_free(&u8);
    etsn_buf_free(&u16);
    etsn_buf_free(&back);
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("psrp_crypto");
    TCase *tc = tcase_create("exchange");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_exchange_roundtrip);
    tcase_add_test(tc, test_public_blob_layout);
    tcase_add_test(tc, test_session_blob_layout);
    tcase_add_test(tc, test_recorded_public_key);
    tcase_add_test(tc, test_public_key_rejected);
    tcase_add_test(tc, test_session_key_rejected);
    tcase_add_test(tc, test_not_ready);
    suite_add_tcase(s, tc);

    tc = tcase_create("secure_string");
    tcase_add_test(tc, test_aes_fixed_vectors);
    suite_add_tcase(s, tc);

    tc = tcase_create("utf");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_utf_conversions);
    tcase_add_test(tc, test_utf_all_code_points);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crypto_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
