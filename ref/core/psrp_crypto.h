/* The PSRP session key (MS-PSRP 3.1.5.4.4/3.2.5.4.4) and SecureString
 * encryption for protocol 2.3 and earlier: the client sends an RSA public
 * key (PUBLIC_KEY, a CAPI PUBLICKEYBLOB in base64), the server answers with
 * a 256-bit AES session key encrypted to it (ENCRYPTED_SESSION_KEY, a CAPI
 * SIMPLEBLOB), and every SecureString travels AES-256-CBC encrypted under
 * that key. Protocol 2.4 (pwsh 7.6) drops the exchange. OpenSSL 3 does the
 * cryptography; no I/O here. */
#ifndef ETSN_PSRP_CRYPTO_H
#define ETSN_PSRP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct etsn_psrp_keys etsn_psrp_keys;

/* ---- client ---- */
/* Generates the client's RSA key pair (2048 bits). */
etsn_psrp_keys *etsn_psrp_keys_client_new(char *err, size_t errlen);
/* The PublicKey member of PUBLIC_KEY: base64 of the PUBLICKEYBLOB. */
int etsn_psrp_keys_public_blob(const etsn_psrp_keys *k, etsn_buf *b64_out);
/* Takes the EncryptedSessionKey member of ENCRYPTED_SESSION_KEY. */
int etsn_psrp_keys_accept_session_key(etsn_psrp_keys *k, const char *b64, char *err, size_t errlen);

/* ---- server ---- */
/* From the client's PublicKey member: checks the blob, makes a random
 * session key. */
etsn_psrp_keys *etsn_psrp_keys_server_new(const char *public_b64, char *err, size_t errlen);
/* The EncryptedSessionKey member: base64 of the SIMPLEBLOB. */
int etsn_psrp_keys_session_key_blob(const etsn_psrp_keys *k, etsn_buf *b64_out);

/* ---- both ---- */
bool etsn_psrp_keys_ready(const etsn_psrp_keys *k); /* a session key is known */
/* SecureString bodies: plain is the UTF-16LE text; cipher the raw bytes
 * (the <SS> element carries their base64). Return 0 or -1. */
int etsn_secure_string_encrypt(const etsn_psrp_keys *k, const uint8_t *plain, size_t len,
                               etsn_buf *cipher);
int etsn_secure_string_decrypt(const etsn_psrp_keys *k, const uint8_t *cipher, size_t len,
                               etsn_buf *plain);
/* Zeroes every key before freeing. */
void etsn_psrp_keys_free(etsn_psrp_keys *k);

/* UTF-8 <-> UTF-16LE, for SecureString contents. */
int etsn_utf8_to_utf16le(const char *s, size_t len, etsn_buf *out);
int etsn_utf16le_to_utf8(const uint8_t *s, size_t len, etsn_buf *out);

/* ---- appended with psrp_crypto.c ---- */
/* Conversion rules: etsn_utf8_to_utf16le rejects (-1, nothing appended)
 * malformed UTF-8: overlong forms, encoded surrogates, code points above
 * U+10FFFF, stray or missing continuation bytes. Characters above U+FFFF
 * become surrogate pairs. etsn_utf16le_to_utf8 rejects an odd byte count and
 * turns an unpaired surrogate (which Windows strings may hold) into U+FFFD.
 * Every output function here appends to its etsn_buf. */

/* A key set that knows only the given AES-256 session key (no RSA key): for
 * tests and fixtures. Ready at once. NULL when memory runs out. */
etsn_psrp_keys *etsn_psrp_keys_from_session_key(const uint8_t key[32]);

#endif
