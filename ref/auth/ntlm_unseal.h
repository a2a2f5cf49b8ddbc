/* Offline NTLMv2 unsealing: given the NTLM handshake of one captured TCP
 * connection and the user's password, derives the session keys (MS-NLMP
 * 3.3.2, 3.4.5) and opens the WinRM message-encrypted bodies of both
 * directions (MS-WSMV 2.2.9.1.1), checking every signature (MS-NLMP 3.4.4.2).
 * This is what a capture importer needs; the live client and etsn-mockd use
 * GSSAPI (gss_auth.h) instead.
 *
 * No I/O. MD4 and RC4 come from OpenSSL 3's legacy provider, loaded into a
 * library context private to each etsn_ntlm_unseal (never the default one).
 * Every function returns 0 on success or a negative ETSN_NTLM_* code with a
 * message in err. */
#ifndef ETSN_NTLM_UNSEAL_H
#define ETSN_NTLM_UNSEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"

#define ETSN_NTLM_ERROR -1        /* malformed token or body, out of memory, crypto failure */
#define ETSN_NTLM_BAD_PASSWORD -2 /* the NTProofStr does not match: wrong password */
#define ETSN_NTLM_BAD_MAC -3      /* a sealed message's signature does not verify */

/* Largest SPNEGO/NTLM token accepted, decoded. */
#define ETSN_NTLM_MAX_TOKEN 65536

typedef struct etsn_ntlm_unseal etsn_ntlm_unseal;

/* NULL (err set) when memory is short or OpenSSL's legacy provider (MD4,
 * RC4) cannot be loaded. */
etsn_ntlm_unseal *etsn_ntlm_unseal_new(char *err, size_t errlen);

/* One Authorization (from_client) or WWW-Authenticate header value, e.g.
 * "Negotiate YEgGBisG..." or "NTLM TlRMTVNT...". The token may be SPNEGO
 * (NegTokenInit or NegTokenResp, RFC 4178) wrapping NTLM, or raw NTLMSSP.
 * Values of other schemes (Basic, Kerberos) and empty tokens are ignored
 * (return 0). NEGOTIATE, CHALLENGE and AUTHENTICATE are remembered, the
 * latest of each kind winning (a connection may authenticate again). */
int etsn_ntlm_unseal_add_header(etsn_ntlm_unseal *u, bool from_client, const char *value,
                                size_t len, char *err, size_t errlen);
/* The same for a token already base64-decoded. */
int etsn_ntlm_unseal_add_token(etsn_ntlm_unseal *u, bool from_client, const uint8_t *tok,
                               size_t len, char *err, size_t errlen);

/* True once a CHALLENGE and an AUTHENTICATE were seen. */
bool etsn_ntlm_unseal_has_handshake(const etsn_ntlm_unseal *u);
/* True when a SPNEGO token carried another mechanism's token (Kerberos);
 * such tokens are otherwise ignored. */
bool etsn_ntlm_unseal_other_mech(const etsn_ntlm_unseal *u);
/* Counts the AUTHENTICATE messages taken: a caller derives again when it
 * changed (a connection that authenticates anew). */
unsigned etsn_ntlm_unseal_generation(const etsn_ntlm_unseal *u);
/* The user and domain the AUTHENTICATE names, UTF-8; "" before it. */
const char *etsn_ntlm_unseal_user(const etsn_ntlm_unseal *u);
const char *etsn_ntlm_unseal_domain(const etsn_ntlm_unseal *u);

/* Derives the NTLMv2 keys from the handshake and the password (UTF-8),
 * checking the NTProofStr first: ETSN_NTLM_BAD_PASSWORD when the password
 * is not the one the client used. Resets both directions' RC4 state and
 * sequence numbers. A direction's SPNEGO mechListMIC, when one was seen by
 * the time that direction's first message is opened, is accounted for then
 * (it consumes a sequence number, then the RC4 state is reset, as MS-SPNG
 * 3.3.5.1 and Windows do). */
int etsn_ntlm_unseal_derive(etsn_ntlm_unseal *u, const char *password, char *err, size_t errlen);

/* Opens one sealed message: sig is the 16-byte NTLMSSP_MESSAGE_SIGNATURE.
 * Messages of one direction must come in the order they were sent (the RC4
 * state carries over). The plaintext is appended to plain; on
 * ETSN_NTLM_BAD_MAC nothing is appended. */
int etsn_ntlm_unseal_message(etsn_ntlm_unseal *u, bool from_client, const uint8_t *sig,
                             size_t sig_len, const uint8_t *sealed, size_t sealed_len,
                             etsn_buf *plain, char *err, size_t errlen);
/* Opens a whole multipart/encrypted HTTP body (winrm_crypt.h framing) and
 * checks the OriginalContent Length. */
int etsn_ntlm_unseal_body(etsn_ntlm_unseal *u, bool from_client, const uint8_t *body, size_t len,
                          etsn_buf *plain, char *err, size_t errlen);

/* Zeroes every key before freeing. NULL is fine. */
void etsn_ntlm_unseal_free(etsn_ntlm_unseal *u);

/* ---- key derivation steps, exposed for the MS-NLMP 4.2.4 test vectors ---- */

/* NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UNICODE(password)),
 * UNICODE(Uppercase(user) + domain)). */
int etsn_ntlm_ntowfv2(etsn_ntlm_unseal *u, const char *password, const char *user,
                      const char *domain, uint8_t out[16], char *err, size_t errlen);
/* Installs an ExportedSessionKey directly with the given NegotiateFlags
 * (as 4.2.4.4 does with its RandomSessionKey), deriving SIGNKEY/SEALKEY. */
int etsn_ntlm_unseal_set_session_key(etsn_ntlm_unseal *u, uint32_t flags, const uint8_t key[16],
                                     char *err, size_t errlen);

#endif
