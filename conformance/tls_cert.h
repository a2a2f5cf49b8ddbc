/* Throwaway TLS material for cases: a self-signed certificate (it is its
 * own trust anchor, no CA) and its key, made with OpenSSL 3 when a run
 * starts. See docs/conformance.md, {tls_cert}. */
#ifndef ETSN_CONF_TLS_CERT_H
#define ETSN_CONF_TLS_CERT_H

#include <stddef.h>

/* Writes a P-256 key (PKCS#8 PEM, mode 0600) to key_path and a certificate
 * for CN=cn, valid from a minute ago for one day, to cert_path. san is an
 * OpenSSL subjectAltName value ("DNS:localhost,IP:127.0.0.1") or NULL.
 * Returns -1 with err set on failure. */
int conf_tls_make_cert(const char *cn, const char *san, const char *cert_path, const char *key_path,
                       char *err, size_t errlen);

#endif
