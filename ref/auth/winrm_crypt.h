/* WinRM message encryption over HTTP (MS-WSMV 2.2.9.1):
 * multipart/encrypted bodies with protocol
 * application/HTTP-SPNEGO-session-encrypted (Negotiate/NTLM) or
 * application/HTTP-Kerberos-session-encrypted (Kerberos). */
#ifndef ETSN_WINRM_CRYPT_H
#define ETSN_WINRM_CRYPT_H

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
/* True when a Content-Type header says the body is encrypted. */
int etsn_winrm_is_encrypted(const char *content_type);

#endif
