#include "../core/error.h"
#include "gss_auth.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <krb5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Spelled out here so the build does not depend on gss-ntlmssp-dev. */
static gss_OID_desc oid_spnego = {6, "\x2b\x06\x01\x05\x05\x02"};
static gss_OID_desc oid_ntlm = {10, "\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"};
static gss_OID_desc oid_krb5 = {9, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"};
/* Windows clients may announce Kerberos under Microsoft's mistyped OID. */
static gss_OID_desc oid_krb5_ms = {9, "\x2a\x86\x48\x82\xf7\x12\x01\x02\x02"};

/* An NTLM wrap token is signature (16) followed by the sealed bytes. */
#define NTLM_SIG_LEN 16

struct etsn_gss {
    bool initiator;
    bool complete;
    bool failed;   /* a leg failed: the context cannot be resumed */
    bool kerberos; /* the mechanism actually in use, which decides the wrap framing */
    bool have_cb;
    etsn_mech mech;
    gss_ctx_id_t ctx;
    gss_cred_id_t cred;
    gss_name_t target;
    gss_OID req_mech; /* initiator only; GSS_C_NO_OID never, the caller picks one */
    struct gss_channel_bindings_struct cb;
    uint8_t *cb_data;
    char *peer;
    char mech_name[16];
};

static bool oid_eq(gss_const_OID a, gss_const_OID b)
{
    return a && b && a->length == b->length && memcmp(a->elements, b->elements, a->length) == 0;
}

/* Appends to a fixed error buffer, truncating quietly; pos never passes
 * errlen - 1 so later appends stay in bounds. */
static void put(char *err, size_t errlen, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *err, size_t errlen, size_t *pos, const char *fmt, ...)
{
    if (*pos + 1 >= errlen) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err + *pos, errlen - *pos, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    *pos = (size_t)n >= errlen - *pos ? errlen - 1 : *pos + (size_t)n;
}

static void put_status(char *err, size_t errlen, size_t *pos, OM_uint32 code, int type,
                       gss_OID mech)
{
    OM_uint32 more = 0, minor;
    bool first = true;
    do {
        gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
        if (GSS_ERROR(gss_display_status(&minor, code, type, mech, &more, &msg))) break;
        put(err, errlen, pos, "%s%.*s", first ? "" : "; ", (int)msg.length,
            (const char *)msg.value);
        first = false;
        gss_release_buffer(&minor, &msg);
    } while (more != 0);
    if (first) put(err, errlen, pos, "code %u", (unsigned)code);
}

/* Both halves go into the text: the major code says which step broke, the
 * mechanism's minor code usually says why. */
static void gss_err(char *err, size_t errlen, const char *what, OM_uint32 major, OM_uint32 minor,
                    gss_OID mech)
{
    if (!err || !errlen) return;
    size_t pos = 0;
    err[0] = 0;
    put(err, errlen, &pos, "%s failed: ", what);
    put_status(err, errlen, &pos, major, GSS_C_GSS_CODE, GSS_C_NO_OID);
    if (minor == 0) return;
    put(err, errlen, &pos, " (");
    put_status(err, errlen, &pos, minor, GSS_C_MECH_CODE, mech);
    put(err, errlen, &pos, ")");
}

static gss_OID mech_oid(etsn_mech mech)
{
    switch (mech) {
    case ETSN_MECH_SPNEGO:
        return &oid_spnego;
    case ETSN_MECH_NTLM:
        return &oid_ntlm;
    case ETSN_MECH_KERBEROS:
        return &oid_krb5;
    }
    return GSS_C_NO_OID;
}

static int import_service(const char *host, gss_name_t *out, char *err, size_t errlen)
{
    etsn_buf s = ETSN_BUF_INIT;
    if (etsn_buf_printf(&s, "HTTP@%s", host) < 0) {
        etsn_errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    gss_buffer_desc nb = {s.len, s.data};
    OM_uint32 minor, major = gss_import_name(&minor, &nb, GSS_C_NT_HOSTBASED_SERVICE, out);
    etsn_buf_free(&s);
    if (GSS_ERROR(major)) {
        gss_err(err, errlen, "gss_import_name(service)", major, minor, GSS_C_NO_OID);
        return -1;
    }
    return 0;
}

/* Whether Kerberos could serve an explicit user name and password. With a
 * password the krb5 mechanism asks the realm's KDC for a ticket (an AS
 * exchange, so DNS for the KDC's name, and with dns_lookup_kdc SRV queries),
 * so Kerberos stays in the SPNEGO list only where a realm is known:
 *  - "user@REALM" names its realm;
 *  - "DOMAIN\\user" is a NetBIOS domain, which only a Windows domain member
 *    can map to a realm (through its domain controller locator); MIT parses
 *    it as the principal DOMAINuser@<default realm>, a name no KDC holds;
 *  - a plain "user" lives in the default realm, when krb5.conf names one.
 * Without a password the mechanism takes a ticket from the cache, which
 * needs no lookup to acquire, so nothing is restricted then. */
static bool kerberos_possible(const char *user, const char *password)
{
    if (!password || strchr(user, '@')) return true;
    if (strchr(user, '\\')) return false;
    krb5_context kc = NULL;
    char *realm = NULL;
    if (krb5_init_context(&kc) != 0) return false;
    bool have = krb5_get_default_realm(kc, &realm) == 0 && realm && *realm;
    if (realm) krb5_free_default_realm(kc, realm);
    krb5_free_context(kc);
    return have;
}

/* NTLM alone under SPNEGO, for a credential Kerberos cannot serve. The
 * password reaches gss-ntlmssp through its credential store
 * ("ntlmssp_password") rather than gss_acquire_cred_with_password, which
 * hands it to every mechanism SPNEGO knows: the krb5 one would spend it at
 * once on an AS exchange with the default realm's KDC. The krb5 element then
 * only looks for a ticket cache (a local file) and, finding none, drops out;
 * gss_set_neg_mechs keeps it out of the mechanism list either way. */
static OM_uint32 acquire_ntlm_only(OM_uint32 *minor, gss_name_t name, const char *password,
                                   gss_cred_id_t *cred)
{
    gss_key_value_element_desc el = {"ntlmssp_password", password};
    gss_key_value_set_desc store = {1, &el};
    gss_OID_set_desc mechs = {1, &oid_spnego};
    OM_uint32 major = gss_acquire_cred_from(minor, name, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE,
                                            &store, cred, NULL, NULL);
    if (GSS_ERROR(major)) return major;
    gss_OID_set_desc ntlm = {1, &oid_ntlm};
    return gss_set_neg_mechs(minor, *cred, &ntlm);
}

static OM_uint32 acquire_initiator(OM_uint32 *minor, etsn_mech mech, gss_name_t name,
                                   const char *user, const char *password, gss_cred_id_t *cred)
{
    gss_OID_set_desc mechs = {1, mech_oid(mech)};
    if (!password)
        return gss_acquire_cred(minor, name, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, cred, NULL,
                                NULL);
    if (mech == ETSN_MECH_SPNEGO && !kerberos_possible(user, password))
        return acquire_ntlm_only(minor, name, password, cred);
    /* The buffer points into the caller's string: nothing of ours to wipe,
     * and the mechanisms keep their own copies. */
    gss_buffer_desc pb = {strlen(password), (void *)password};
    return gss_acquire_cred_with_password(minor, name, &pb, GSS_C_INDEFINITE, &mechs,
                                          GSS_C_INITIATE, cred, NULL, NULL);
}

etsn_gss *etsn_gss_initiator_new(etsn_mech mech, const char *user, const char *password,
                                 const char *target_host, const uint8_t *channel_binding,
                                 size_t channel_binding_len, char *err, size_t errlen)
{
    if (!target_host || !*target_host || !mech_oid(mech)) {
        etsn_errbuf_set(err, errlen, "gss initiator: bad arguments");
        return NULL;
    }
    etsn_gss *g = calloc(1, sizeof(*g));
    if (!g) {
        etsn_errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    g->initiator = true;
    g->mech = mech;
    g->req_mech = mech_oid(mech);
    g->ctx = GSS_C_NO_CONTEXT;
    g->cred = GSS_C_NO_CREDENTIAL;
    g->target = GSS_C_NO_NAME;
    if (channel_binding &&
        etsn_gss_set_channel_binding(g, channel_binding, channel_binding_len, err, errlen) < 0)
        goto fail;
    if (import_service(target_host, &g->target, err, errlen) < 0) goto fail;

    if (user) {
        OM_uint32 minor, major;
        gss_name_t name = GSS_C_NO_NAME;
        gss_buffer_desc ub = {strlen(user), (void *)user};
        major = gss_import_name(&minor, &ub, GSS_C_NT_USER_NAME, &name);
        if (GSS_ERROR(major)) {
            gss_err(err, errlen, "gss_import_name(user)", major, minor, GSS_C_NO_OID);
            goto fail;
        }
        major = acquire_initiator(&minor, g->mech, name, user, password, &g->cred);
        OM_uint32 m2;
        gss_release_name(&m2, &name);
        if (GSS_ERROR(major)) {
            gss_err(err, errlen, "gss_acquire_cred", major, minor, g->req_mech);
            goto fail;
        }
    }
    return g;
fail:
    etsn_gss_free(g);
    return NULL;
}

int etsn_gss_set_channel_binding(etsn_gss *g, const uint8_t *data, size_t len, char *err,
                                 size_t errlen)
{
    if (g->ctx != GSS_C_NO_CONTEXT) {
        etsn_errbuf_set(err, errlen, "channel binding must be set before the first leg");
        return -1;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        etsn_errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    if (len) memcpy(copy, data, len);
    free(g->cb_data);
    g->cb_data = copy;
    memset(&g->cb, 0, sizeof(g->cb));
    g->cb.initiator_addrtype = GSS_C_AF_UNSPEC;
    g->cb.acceptor_addrtype = GSS_C_AF_UNSPEC;
    g->cb.application_data.length = len;
    g->cb.application_data.value = copy;
    g->have_cb = true;
    return 0;
}

etsn_gss *etsn_gss_acceptor_new(const char *ntlm_user_file, const char *service_host, char *err,
                                size_t errlen)
{
    if (!service_host || !*service_host) {
        etsn_errbuf_set(err, errlen, "gss acceptor: no service host");
        return NULL;
    }
    etsn_gss *g = calloc(1, sizeof(*g));
    if (!g) {
        etsn_errbuf_set(err, errlen, "out of memory");
        return NULL;
    }
    g->ctx = GSS_C_NO_CONTEXT;
    g->cred = GSS_C_NO_CREDENTIAL;
    g->target = GSS_C_NO_NAME;
    g->mech = ETSN_MECH_SPNEGO;

    gss_name_t name = GSS_C_NO_NAME;
    if (import_service(service_host, &name, err, errlen) < 0) goto fail;

    gss_key_value_element_desc el[2];
    OM_uint32 n = 0;
    if (ntlm_user_file) el[n++] = (gss_key_value_element_desc){"ntlmssp_keyfile", ntlm_user_file};
    const char *kt = getenv("KRB5_KTNAME");
    if (kt && *kt) el[n++] = (gss_key_value_element_desc){"keytab", kt};
    gss_key_value_set_desc store = {n, el};

    /* SPNEGO must be in the set: without its own credential element the
     * mechglue would hand SPNEGO tokens a default credential, which knows
     * nothing of the user file. NTLM and Kerberos are listed for the raw
     * tokens; any one of them succeeding is enough. Kerberos only with a
     * keytab: MIT 1.20 leaks a principal on every failed acceptor acquire
     * (krb5 ticket 9189), and without keys it could never succeed. */
    gss_OID_desc set_elems[3] = {oid_spnego, oid_ntlm, oid_krb5};
    gss_OID_set_desc mechs = {kt && *kt ? 3 : 2, set_elems};
    OM_uint32 minor, m2;
    OM_uint32 major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT,
                                            n ? &store : GSS_C_NO_CRED_STORE, &g->cred, NULL, NULL);
    gss_release_name(&m2, &name);
    if (GSS_ERROR(major)) {
        gss_err(err, errlen, "gss_acquire_cred_from", major, minor, GSS_C_NO_OID);
        goto fail;
    }
    return g;
fail:
    etsn_gss_free(g);
    return NULL;
}

/* After completion: which mechanism really ran, even under SPNEGO. */
static int record_mech(etsn_gss *g, char *err, size_t errlen)
{
    OM_uint32 minor, major;
    gss_OID mech = GSS_C_NO_OID;
    major = gss_inquire_context(&minor, g->ctx, NULL, NULL, NULL, &mech, NULL, NULL, NULL);
    if (GSS_ERROR(major)) {
        gss_err(err, errlen, "gss_inquire_context", major, minor, GSS_C_NO_OID);
        return -1;
    }
    if (oid_eq(mech, &oid_krb5) || oid_eq(mech, &oid_krb5_ms)) {
        g->kerberos = true;
        snprintf(g->mech_name, sizeof(g->mech_name), "kerberos");
    } else if (oid_eq(mech, &oid_ntlm)) {
        g->kerberos = false;
        snprintf(g->mech_name, sizeof(g->mech_name), "ntlm");
    } else {
        etsn_errbuf_set(err, errlen, "negotiated an unsupported GSSAPI mechanism");
        return -1;
    }
    return 0;
}

static int take_token(gss_buffer_desc *tok, etsn_buf *out, char *err, size_t errlen)
{
    OM_uint32 minor;
    int rc = 0;
    if (tok->length && etsn_buf_append(out, tok->value, tok->length) < 0) {
        etsn_errbuf_set(err, errlen, "out of memory");
        rc = -1;
    }
    gss_release_buffer(&minor, tok);
    return rc;
}

etsn_gss_status etsn_gss_step(etsn_gss *g, const uint8_t *in, size_t in_len, etsn_buf *out,
                              char *err, size_t errlen)
{
    etsn_buf_reset(out);
    if (g->failed) {
        etsn_errbuf_set(err, errlen, "security context failed earlier");
        return ETSN_GSS_ERROR;
    }
    if (g->complete) {
        /* Nothing more is expected once established; a stray token means
         * the peers disagree about the state. */
        if (in_len == 0) return ETSN_GSS_COMPLETE;
        etsn_errbuf_set(err, errlen, "security context already complete");
        return ETSN_GSS_ERROR;
    }
    if (!g->initiator && (!in || in_len == 0)) {
        etsn_errbuf_set(err, errlen, "acceptor needs an input token");
        return ETSN_GSS_ERROR;
    }
    gss_buffer_desc itok = {in ? in_len : 0, (void *)in};
    gss_buffer_desc otok = GSS_C_EMPTY_BUFFER;
    gss_channel_bindings_t cb = g->have_cb ? &g->cb : GSS_C_NO_CHANNEL_BINDINGS;
    OM_uint32 major, minor;
    gss_OID actual = GSS_C_NO_OID;

    if (g->initiator) {
        OM_uint32 flags = GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG |
                          GSS_C_CONF_FLAG | GSS_C_REPLAY_FLAG;
        major = gss_init_sec_context(&minor, g->cred, &g->ctx, g->target, g->req_mech, flags,
                                     GSS_C_INDEFINITE, cb, in ? &itok : GSS_C_NO_BUFFER, &actual,
                                     &otok, NULL, NULL);
    } else {
        gss_name_t src = GSS_C_NO_NAME;
        major = gss_accept_sec_context(&minor, &g->ctx, g->cred, &itok, cb, &src, &actual, &otok,
                                       NULL, NULL, NULL);
        if (major == GSS_S_COMPLETE && src != GSS_C_NO_NAME) {
            gss_buffer_desc dn = GSS_C_EMPTY_BUFFER;
            OM_uint32 m2;
            if (!GSS_ERROR(gss_display_name(&m2, src, &dn, NULL))) {
                free(g->peer);
                g->peer = strndup(dn.value, dn.length);
                gss_release_buffer(&m2, &dn);
            }
        }
        if (src != GSS_C_NO_NAME) {
            OM_uint32 m2;
            gss_release_name(&m2, &src);
        }
    }

    if (GSS_ERROR(major)) {
        OM_uint32 m2;
        g->failed = true;
        gss_release_buffer(&m2, &otok);
        gss_err(err, errlen, g->initiator ? "gss_init_sec_context" : "gss_accept_sec_context",
                major, minor, actual);
        return ETSN_GSS_ERROR;
    }
    if (take_token(&otok, out, err, errlen) < 0) goto fail;
    if (major & GSS_S_CONTINUE_NEEDED) return ETSN_GSS_CONTINUE;

    if (record_mech(g, err, errlen) < 0) goto fail;
    if (!g->initiator && !g->peer) {
        etsn_errbuf_set(err, errlen, "authenticated peer has no name");
        goto fail;
    }
    g->complete = true;
    return ETSN_GSS_COMPLETE;
fail:
    g->failed = true;
    etsn_buf_reset(out);
    return ETSN_GSS_ERROR;
}

bool etsn_gss_complete(const etsn_gss *g)
{
    return g && g->complete;
}

const char *etsn_gss_mech_name(const etsn_gss *g)
{
    return g && g->complete ? g->mech_name : NULL;
}

const char *etsn_gss_peer_name(const etsn_gss *g)
{
    return g ? g->peer : NULL;
}

static int wrap_ntlm(etsn_gss *g, const uint8_t *plain, size_t len, etsn_buf *header,
                     etsn_buf *sealed, char *err, size_t errlen)
{
    gss_buffer_desc in = {len, (void *)plain};
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    OM_uint32 minor, m2;
    int conf = 0;
    OM_uint32 major = gss_wrap(&minor, g->ctx, 1, GSS_C_QOP_DEFAULT, &in, &conf, &out);
    if (GSS_ERROR(major)) {
        gss_err(err, errlen, "gss_wrap", major, minor, &oid_ntlm);
        return -1;
    }
    int rc = -1;
    if (!conf) {
        etsn_errbuf_set(err, errlen, "gss_wrap did not encrypt");
    } else if (out.length != len + NTLM_SIG_LEN) {
        etsn_errbuf_set(err, errlen, "gss_wrap: unexpected NTLM token length %zu", out.length);
    } else if (etsn_buf_append(header, out.value, NTLM_SIG_LEN) < 0 ||
               etsn_buf_append(sealed, (uint8_t *)out.value + NTLM_SIG_LEN, len) < 0) {
        etsn_errbuf_set(err, errlen, "out of memory");
    } else {
        rc = 0;
    }
    gss_release_buffer(&m2, &out);
    return rc;
}

static int wrap_krb5(etsn_gss *g, const uint8_t *plain, size_t len, etsn_buf *header,
                     etsn_buf *sealed, char *err, size_t errlen)
{
    gss_iov_buffer_desc iov[3];
    memset(iov, 0, sizeof(iov));
    iov[0].type = GSS_IOV_BUFFER_TYPE_HEADER;
    iov[1].type = GSS_IOV_BUFFER_TYPE_DATA;
    iov[1].buffer.length = len;
    iov[2].type = GSS_IOV_BUFFER_TYPE_PADDING;
    OM_uint32 minor;
    int conf = 0;
    OM_uint32 major = gss_wrap_iov_length(&minor, g->ctx, 1, GSS_C_QOP_DEFAULT, &conf, iov, 3);
    if (GSS_ERROR(major)) {
        gss_err(err, errlen, "gss_wrap_iov_length", major, minor, &oid_krb5);
        return -1;
    }
    size_t hlen = iov[0].buffer.length, plen = iov[2].buffer.length;
    if (etsn_buf_reserve(header, hlen) < 0 || etsn_buf_reserve(sealed, len + plen) < 0) {
        etsn_errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    /* Encrypt in place inside the output buffers: data then padding, which
     * is how WinRM lays the sealed part out. */
    uint8_t *h = header->data + header->len, *d = sealed->data + sealed->len;
    if (len) memcpy(d, plain, len);
    iov[0].buffer.value = h;
    iov[1].buffer.value = d;
    iov[2].buffer.value = d + len;
    major = gss_wrap_iov(&minor, g->ctx, 1, GSS_C_QOP_DEFAULT, &conf, iov, 3);
    if (GSS_ERROR(major) || !conf) {
        etsn_secure_zero(d, len);
        if (GSS_ERROR(major))
            gss_err(err, errlen, "gss_wrap_iov", major, minor, &oid_krb5);
        else
            etsn_errbuf_set(err, errlen, "gss_wrap_iov did not encrypt");
        return -1;
    }
    header->len += iov[0].buffer.length;
    header->data[header->len] = 0;
    sealed->len += len + iov[2].buffer.length;
    sealed->data[sealed->len] = 0;
    return 0;
}

int etsn_gss_wrap(etsn_gss *g, const uint8_t *plain, size_t len, etsn_buf *header, etsn_buf *sealed,
                  char *err, size_t errlen)
{
    if (!g || !g->complete) {
        etsn_errbuf_set(err, errlen, "gss_wrap: security context not established");
        return -1;
    }
    return g->kerberos ? wrap_krb5(g, plain, len, header, sealed, err, errlen)
                       : wrap_ntlm(g, plain, len, header, sealed, err, errlen);
}

static int unwrap_ntlm(etsn_gss *g, const uint8_t *header, size_t header_len, const uint8_t *sealed,
                       size_t sealed_len, etsn_buf *plain, char *err, size_t errlen)
{
    if (header_len != NTLM_SIG_LEN) {
        etsn_errbuf_set(err, errlen, "gss_unwrap: NTLM signature must be 16 bytes, got %zu",
                        header_len);
        return -1;
    }
    if (sealed_len > SIZE_MAX - NTLM_SIG_LEN) {
        etsn_errbuf_set(err, errlen, "gss_unwrap: message too large");
        return -1;
    }
    etsn_buf tok = ETSN_BUF_INIT;
    if (etsn_buf_append(&tok, header, header_len) < 0 ||
        etsn_buf_append(&tok, sealed, sealed_len) < 0) {
        etsn_buf_free(&tok);
        etsn_errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    gss_buffer_desc in = {tok.len, tok.data};
    gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
    OM_uint32 minor, m2;
    int conf = 0;
    OM_uint32 major = gss_unwrap(&minor, g->ctx, &in, &out, &conf, NULL);
    etsn_buf_free(&tok);
    if (GSS_ERROR(major)) {
        gss_err(err, errlen, "gss_unwrap", major, minor, &oid_ntlm);
        return -1;
    }
    int rc = -1;
    if (!conf)
        etsn_errbuf_set(err, errlen, "gss_unwrap: message was not encrypted");
    else if (etsn_buf_append(plain, out.value, out.length) < 0)
        etsn_errbuf_set(err, errlen, "out of memory");
    else
        rc = 0;
    /* The plaintext may carry credentials (PSCredential, SecureString). */
    if (out.value) etsn_secure_zero(out.value, out.length);
    gss_release_buffer(&m2, &out);
    return rc;
}

static int unwrap_krb5(etsn_gss *g, const uint8_t *header, size_t header_len, const uint8_t *sealed,
                       size_t sealed_len, etsn_buf *plain, char *err, size_t errlen)
{
    /* MIT decrypts in place and may touch the header too, so both are
     * copied; the data copy lands directly in the caller's buffer. */
    uint8_t *h = malloc(header_len ? header_len : 1);
    if (!h || etsn_buf_reserve(plain, sealed_len) < 0) {
        free(h);
        etsn_errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    if (header_len) memcpy(h, header, header_len);
    uint8_t *d = plain->data + plain->len;
    if (sealed_len) memcpy(d, sealed, sealed_len);
    gss_iov_buffer_desc iov[2];
    memset(iov, 0, sizeof(iov));
    iov[0].type = GSS_IOV_BUFFER_TYPE_HEADER;
    iov[0].buffer.length = header_len;
    iov[0].buffer.value = h;
    iov[1].type = GSS_IOV_BUFFER_TYPE_DATA;
    iov[1].buffer.length = sealed_len;
    iov[1].buffer.value = d;
    OM_uint32 minor;
    int conf = 0;
    OM_uint32 major = gss_unwrap_iov(&minor, g->ctx, &conf, NULL, iov, 2);
    free(h);
    if (GSS_ERROR(major) || !conf) {
        etsn_secure_zero(d, sealed_len);
        plain->data[plain->len] = 0;
        if (GSS_ERROR(major))
            gss_err(err, errlen, "gss_unwrap_iov", major, minor, &oid_krb5);
        else
            etsn_errbuf_set(err, errlen, "gss_unwrap_iov: message was not encrypted");
        return -1;
    }
    /* The data buffer may shrink when the sender added padding. */
    size_t n = iov[1].buffer.length;
    if (n > sealed_len || (n && iov[1].buffer.value != d)) {
        etsn_secure_zero(d, sealed_len);
        plain->data[plain->len] = 0;
        etsn_errbuf_set(err, errlen, "gss_unwrap_iov: unexpected output layout");
        return -1;
    }
    if (n < sealed_len) etsn_secure_zero(d + n, sealed_len - n);
    plain->len += n;
    plain->data[plain->len] = 0;
    return 0;
}

int etsn_gss_unwrap(etsn_gss *g, const uint8_t *header, size_t header_len, const uint8_t *sealed,
                    size_t sealed_len, etsn_buf *plain, char *err, size_t errlen)
{
    if (!g || !g->complete) {
        etsn_errbuf_set(err, errlen, "gss_unwrap: security context not established");
        return -1;
    }
    return g->kerberos ? unwrap_krb5(g, header, header_len, sealed, sealed_len, plain, err, errlen)
                       : unwrap_ntlm(g, header, header_len, sealed, sealed_len, plain, err, errlen);
}

void etsn_gss_free(etsn_gss *g)
{
    if (!g) return;
    OM_uint32 minor;
    /* Deleting the context destroys the session keys held by the mechanism. */
    if (g->ctx != GSS_C_NO_CONTEXT) gss_delete_sec_context(&minor, &g->ctx, GSS_C_NO_BUFFER);
    if (g->cred != GSS_C_NO_CREDENTIAL) gss_release_cred(&minor, &g->cred);
    if (g->target != GSS_C_NO_NAME) gss_release_name(&minor, &g->target);
    free(g->cb_data);
    free(g->peer);
    free(g);
}
