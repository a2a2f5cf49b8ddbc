/* libFuzzer target for the PSRP key exchange parsers and SecureString
 * decryption (psrp_crypto.c).
 *
 * Byte 0 picks what the rest is fed to:
 *   0  as text: a PublicKey member (etsn_psrp_keys_server_new)
 *   1  as a raw PUBLICKEYBLOB, base64-encoded first (reaches the blob checks)
 *   2  as text: an EncryptedSessionKey member, to a client key pair
 *   3  as a raw SIMPLEBLOB, base64-encoded first
 *   4  as SecureString ciphertext under a fixed key; whatever decrypts must
 *      encrypt back to the same bytes (zero IV, so encryption is
 *      deterministic)
 *   5  as UTF-8: what converts must come back unchanged from UTF-16LE
 *   6  as UTF-16LE: the UTF-8 produced must be valid (convert it back)
 * Every failure of the key parsers must come with a reason.
 *
 * Build: clang -fsanitize=fuzzer,address -Iref/core ref/core/fuzz_psrp_crypto.c
 *        ref/core/psrp_crypto.c ref/core/buf.c -lcrypto
 * Replay without libFuzzer: compile with -DETSN_FUZZ_STANDALONE and pass
 * input files as arguments. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "psrp_crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fixed_key[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

/* RSA key generation is slow: one client key pair for the whole run. It
 * stays reachable through this pointer, so it is no leak. */
static etsn_psrp_keys *shared_client;

static etsn_psrp_keys *client_keys(void)
{
    if (!shared_client) {
        char err[200];
        shared_client = etsn_psrp_keys_client_new(err, sizeof err);
        if (!shared_client) abort();
    }
    return shared_client;
}

/* NUL-terminated copy of data; NULL when out of memory. */
static char *as_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return NULL;
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

static char *as_base64(const uint8_t *data, size_t size)
{
    if (size > 60000) return NULL;
    char *s = malloc(4 * ((size + 2) / 3) + 1);
    if (!s) return NULL;
    EVP_EncodeBlock((unsigned char *)s, data, (int)size);
    return s;
}

static void feed_public(char *b64)
{
    if (!b64) return;
    char err[200];
    err[0] = 0;
    etsn_psrp_keys *k = etsn_psrp_keys_server_new(b64, err, sizeof err);
    if (!k) {
        if (err[0] == 0) abort();
    } else {
        /* An accepted key must export and encrypt a session key. */
        etsn_buf out = ETSN_BUF_INIT;
        if (!etsn_psrp_keys_ready(k)) abort();
        if (etsn_psrp_keys_public_blob(k, &out) != 0) abort();
        out.len = 0;
        if (etsn_psrp_keys_session_key_blob(k, &out) != 0) abort();
        etsn_buf_free(&out);
        etsn_psrp_keys_free(k);
    }
    free(b64);
}

static void feed_session(char *b64)
{
    if (!b64) return;
    char err[200];
    err[0] = 0;
    if (etsn_psrp_keys_accept_session_key(client_keys(), b64, err, sizeof err) != 0 && err[0] == 0)
        abort();
    free(b64);
}

static void feed_cipher(const uint8_t *data, size_t size)
{
    etsn_psrp_keys *k = etsn_psrp_keys_from_session_key(fixed_key);
    if (!k) return;
    etsn_buf plain = ETSN_BUF_INIT, again = ETSN_BUF_INIT;
    if (etsn_secure_string_decrypt(k, data, size, &plain) == 0) {
        if (plain.len >= size) abort();
        if (etsn_secure_string_encrypt(k, plain.data, plain.len, &again) != 0) abort();
        if (again.len != size || memcmp(again.data, data, size) != 0) abort();
    } else if (plain.len != 0) {
        abort();
    }
    etsn_buf_free_secure(&plain);
    etsn_buf_free(&again);
    etsn_psrp_keys_free(k);
}

static void feed_utf8(const uint8_t *data, size_t size)
{
    etsn_buf u16 = ETSN_BUF_INIT, u8 = ETSN_BUF_INIT;
    if (etsn_utf8_to_utf16le((const char *)data, size, &u16) == 0) {
        if (u16.len % 2 != 0 || u16.len > 2 * size) abort();
        if (etsn_utf16le_to_utf8(u16.data, u16.len, &u8) != 0) abort();
        if (u8.len != size || (size && memcmp(u8.data, data, size) != 0)) abort();
    } else if (u16.len != 0) {
        abort();
    }
    etsn_buf_free(&u16);
    etsn_buf_free(&u8);
}

static void feed_utf16(const uint8_t *data, size_t size)
{
    etsn_buf u8 = ETSN_BUF_INIT, u16 = ETSN_BUF_INIT;
    int rc = etsn_utf16le_to_utf8(data, size, &u8);
    if ((rc == 0) != (size % 2 == 0)) abort();
    if (rc == 0) {
        if (etsn_utf8_to_utf16le((const char *)u8.data, u8.len, &u16) != 0) abort();
        /* Only unpaired surrogates change (to U+FFFD): lengths match. */
        if (u16.len != size) abort();
    }
    etsn_buf_free(&u8);
    etsn_buf_free(&u16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0] % 7;
    data++;
    size--;
    switch (mode) {
    case 0:
        feed_public(as_text(data, size));
        break;
    case 1:
        feed_public(as_base64(data, size));
        break;
    case 2:
        feed_session(as_text(data, size));
        break;
    case 3:
        feed_session(as_base64(data, size));
        break;
    case 4:
        feed_cipher(data, size);
        break;
    case 5:
        feed_utf8(data, size);
        break;
    default:
        feed_utf16(data, size);
        break;
    }
    return 0;
}

#ifdef ETSN_FUZZ_STANDALONE
#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    int rc = etsn_fuzz_replay(argc, argv);
    etsn_psrp_keys_free(shared_client);
    return rc;
}
#endif
