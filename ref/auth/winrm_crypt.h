/* WinRM message encryption over HTTP (MS-WSMV 2.2.9.1):
 * multipart/encrypted bodies with protocol
 * application/HTTP-SPNEGO-session-encrypted (Negotiate/NTLM) or
 * application/HTTP-Kerberos-session-encrypted (Kerberos). */
#ifndef ETSN_WINRM_CRYPT_H
#define ETSN_WINRM_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gss_auth.h"

/* The Content-Type header value for an encrypted body under mech. */
const char *etsn_winrm_crypt_content_type(etsn_mech mech);

/* Seals a SOAP body. content_type is the original type, e.g.
 * "application/soap+xml;charset=UTF-8". body receives the multipart bytes. */
int etsn_winrm_encrypt(etsn_gss *g, etsn_mech mech, const char *content_type, const uint8_t *plain,
                       size_t len, etsn_buf *body, char *err, size_t errlen);
/* Opens one; checks the declared Length against the plaintext. */
int etsn_winrm_decrypt(etsn_gss *g, const uint8_t *body, size_t len, etsn_buf *plain, char *err,
                       size_t errlen);
/* The parts of a multipart/encrypted body (MS-WSMV 2.2.9.1.1), borrowed
 * from the body: the signature or token header after its 4-byte little-endian
 * length, the sealed bytes, and the OriginalContent Length. */
typedef struct {
    bool kerberos; /* protocol application/HTTP-Kerberos-session-encrypted */
    const uint8_t *header;
    size_t header_len;
    const uint8_t *sealed;
    size_t sealed_len;
    size_t declared;
} etsn_winrm_parts;
/* Frames a body as Windows, pywinrm and pypsrp lay it out, without
 * decrypting it (etsn_winrm_decrypt and the capture importer share it).
 * Returns 0, or -1 with err set when the framing is wrong. */
int etsn_winrm_split(const uint8_t *body, size_t len, etsn_winrm_parts *out, char *err,
                     size_t errlen);
/* True when a Content-Type header says the body is encrypted. */
int etsn_winrm_is_encrypted(const char *content_type);

#endif
