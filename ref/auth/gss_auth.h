/* GSSAPI security contexts for WinRM: SPNEGO (Negotiate), raw NTLM through
 * gss-ntlmssp, and Kerberos, as initiator (etsn) or acceptor (etsn-mockd).
 * No sockets here: tokens in, tokens out. */
#ifndef ETSN_GSS_AUTH_H
#define ETSN_GSS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"

typedef enum {
    ETSN_MECH_SPNEGO,   /* HTTP scheme "Negotiate" */
    ETSN_MECH_NTLM,     /* raw NTLM inside "Negotiate" (what pywinrm sends) */
    ETSN_MECH_KERBEROS, /* HTTP scheme "Kerberos" */
} etsn_mech;

typedef enum {
    ETSN_GSS_ERROR = -1,
    ETSN_GSS_COMPLETE = 0,
    ETSN_GSS_CONTINUE = 1,
} etsn_gss_status;

typedef struct etsn_gss etsn_gss;

/* user: "DOMAIN\\user", "user@REALM" or plain "user"; NULL with password
 * NULL uses the default credentials. target_host names the SPN HTTP/<host>.
 * channel_binding: tls-server-end-point bytes, or NULL. */
etsn_gss *etsn_gss_initiator_new(etsn_mech mech, const char *user, const char *password,
                                 const char *target_host, const uint8_t *channel_binding,
                                 size_t channel_binding_len, char *err, size_t errlen);

/* ntlm_user_file: lines DOMAIN:USER:PASSWORD for gss-ntlmssp; may be NULL
 * when only Kerberos is accepted (keytab from KRB5_KTNAME). */
etsn_gss *etsn_gss_acceptor_new(const char *ntlm_user_file, const char *service_host, char *err,
                                size_t errlen);

/* Sets the channel binding (tls-server-end-point bytes) before the first
 * leg; for an acceptor this makes a missing or different binding fail. */
int etsn_gss_set_channel_binding(etsn_gss *g, const uint8_t *data, size_t len, char *err,
                                 size_t errlen);

/* One leg. in may be NULL for the initiator's first call. out receives the
 * token to send (possibly empty). */
etsn_gss_status etsn_gss_step(etsn_gss *g, const uint8_t *in, size_t in_len, etsn_buf *out,
                              char *err, size_t errlen);
bool etsn_gss_complete(const etsn_gss *g);
/* "ntlm" or "kerberos": the mechanism negotiated (after completion). */
const char *etsn_gss_mech_name(const etsn_gss *g);
/* Acceptor: the authenticated client name, e.g. "DOMAIN\\user". */
const char *etsn_gss_peer_name(const etsn_gss *g);

/* Sealing for WinRM message encryption. header gets the signature/token
 * header (16 bytes for NTLM), sealed the encrypted bytes. */
int etsn_gss_wrap(etsn_gss *g, const uint8_t *plain, size_t len, etsn_buf *header, etsn_buf *sealed,
                  char *err, size_t errlen);
int etsn_gss_unwrap(etsn_gss *g, const uint8_t *header, size_t header_len, const uint8_t *sealed,
                    size_t sealed_len, etsn_buf *plain, char *err, size_t errlen);

void etsn_gss_free(etsn_gss *g);

#endif
