/* Transcript writer and the envelope decoding it shares with the reader
 * (transcript.h). The SOAP envelope is parsed with libxml2, every base64
 * element that carries PSRP is swapped for <etsn:psrp> (fragments as
 * elements, completed messages as CLIXML), secrets are scrubbed, and the
 * tree is written out indented. MS-PSRP 2.2.4 fragments may split a message
 * over several envelopes (a long PIPELINE_OUTPUT over several Receive
 * responses), so reassembly state lives per stream across exchanges. */
#include "transcript.h"
#include "transcript_priv.h"

#include "base64.h"
#include "buf.h"
#include "fragment.h"
#include "message.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>

#define NS_PWSH "http://schemas.microsoft.com/powershell"
#define BAD_XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* ------------------------------------------------------------------------ */
/* per-stream reassembly                                                     */

typedef struct {
    char key[200]; /* shell|command|direction */
    etsn_defrag *d;
    uint64_t used;
} tstream;

struct etsn_tdecoder {
    tstream s[ETSN_TRANSCRIPT_MAX_STREAMS];
    uint64_t tick;
};

etsn_tdecoder *etsn_tdecoder_new(void)
{
    return calloc(1, sizeof(etsn_tdecoder));
}

void etsn_tdecoder_free(etsn_tdecoder *d)
{
    if (!d) return;
    for (size_t i = 0; i < ETSN_TRANSCRIPT_MAX_STREAMS; i++) etsn_defrag_free(d->s[i].d);
    free(d);
}

/* The stream's defragmenter; a new stream takes a free slot or the least
 * recently used one. */
static tstream *stream_for(etsn_tdecoder *d, const char *key)
{
    tstream *victim = &d->s[0];
    for (size_t i = 0; i < ETSN_TRANSCRIPT_MAX_STREAMS; i++) {
        tstream *s = &d->s[i];
        if (s->d && strcmp(s->key, key) == 0) {
            s->used = ++d->tick;
            return s;
        }
        if (!s->d) {
            if (victim->d) victim = s;
        } else if (victim->d && s->used < victim->used) {
            victim = s;
        }
    }
    etsn_defrag_free(victim->d);
    victim->d = etsn_defrag_new(ETSN_TRANSCRIPT_MAX_MESSAGE, 16);
    if (!victim->d) return NULL;
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->used = ++d->tick;
    return victim;
}

/* ------------------------------------------------------------------------ */
/* small helpers                                                             */

static bool local_is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static bool ns_is(const xmlNode *n, const char *uri)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, uri) == 0;
}

static bool has_element_child(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) return true;
    return false;
}

/* Valid UTF-8 holding only characters XML 1.0 can carry as text. */
static bool xml_text_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int len = (int)(n - i > 4 ? 4 : n - i);
        int c = xmlGetUTF8Char(p + i, &len);
        if (c < 0 || len <= 0) return false;
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
        if (c == 0xFFFE || c == 0xFFFF) return false;
        i += (size_t)len;
    }
    return true;
}

static void set_propf(xmlNodePtr n, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_propf(xmlNodePtr n, const char *name, const char *fmt, ...)
{
    char v[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    xmlSetProp(n, (const xmlChar *)name, (const xmlChar *)v);
}

/* A child in the transcript namespace holding text; with ns NULL the child
 * declares the namespace itself (it sits inside a foreign envelope). */
static xmlNodePtr etsn_child(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
    xmlNodePtr e = xmlNewDocNode(parent->doc, NULL, (const xmlChar *)name, NULL);
    if (!e) return NULL;
    if (!ns) ns = xmlNewNs(e, (const xmlChar *)ETSN_TRANSCRIPT_NS, (const xmlChar *)"etsn");
    xmlSetNs(e, ns);
    if (text) xmlNodeAddContent(e, (const xmlChar *)text);
    return xmlAddChild(parent, e);
}

static void add_bytes(xmlNodePtr parent, xmlNsPtr ns, const uint8_t *p, size_t n)
{
    etsn_buf b = ETSN_BUF_INIT;
    if (etsn_base64_encode(p, n, &b) == 0) {
        xmlNodePtr e = etsn_child(parent, ns, "bytes", b.data ? (char *)b.data : "");
        if (e) xmlSetProp(e, (const xmlChar *)"encoding", (const xmlChar *)"base64");
    }
    etsn_buf_free(&b);
}

/* <etsn:NAME> with the text when the bytes are XML-safe UTF-8, else
 * <etsn:bytes> base64. */
static void add_text_or_bytes(xmlNodePtr parent, xmlNsPtr ns, const char *text_name,
                              const uint8_t *p, size_t n)
{
    if (!xml_text_ok(p, n)) {
        add_bytes(parent, ns, p, n);
        return;
    }
    etsn_buf t = ETSN_BUF_INIT;
    if (etsn_buf_append(&t, p, n) == 0) {
        xmlNodePtr e = etsn_child(parent, ns, text_name, t.data ? (char *)t.data : "");
        if (e && strcmp(text_name, "text") == 0)
            xmlSetProp(e, (const xmlChar *)"encoding", (const xmlChar *)"utf-8");
    }
    etsn_buf_free_secure(&t);
}

/* ------------------------------------------------------------------------ */
/* PSRP payloads                                                             */

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

/* One <etsn:fragment> per fragment header (MS-PSRP 2.2.4). Returns false
 * when the bytes are not whole fragments. */
static bool add_fragments(xmlNodePtr psrp, xmlNsPtr ns, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (len - off >= ETSN_FRAGMENT_HEADER_LEN) {
        const uint8_t *h = p + off;
        uint32_t blob =
            (uint32_t)h[17] << 24 | (uint32_t)h[18] << 16 | (uint32_t)h[19] << 8 | h[20];
        if (psrp) {
            xmlNodePtr f = xmlNewChild(psrp, ns, (const xmlChar *)"fragment", NULL);
            set_propf(f, "object-id", "%" PRIu64, be64(h));
            set_propf(f, "fragment-id", "%" PRIu64, be64(h + 8));
            set_propf(f, "start", "%s", h[16] & ETSN_FRAGMENT_START ? "true" : "false");
            set_propf(f, "end", "%s", h[16] & ETSN_FRAGMENT_END ? "true" : "false");
            set_propf(f, "bytes", "%" PRIu32, blob);
        }
        if (blob > len - off - ETSN_FRAGMENT_HEADER_LEN) return false;
        off += ETSN_FRAGMENT_HEADER_LEN + blob;
    }
    return off == len;
}

/* One <etsn:message>: header attributes and the body as XML (or raw). */
static void add_message(xmlNodePtr psrp, xmlNsPtr ns, const uint8_t *data, size_t len)
{
    xmlNodePtr mn = xmlNewChild(psrp, ns, (const xmlChar *)"message", NULL);
    etsn_message m;
    if (!mn) return;
    if (etsn_message_decode(data, len, &m) < 0) {
        set_propf(mn, "error", "%zu bytes, shorter than a message header", len);
        add_text_or_bytes(mn, ns, "raw", data, len);
        return;
    }
    if (m.destination == ETSN_DEST_SERVER || m.destination == ETSN_DEST_CLIENT)
        set_propf(mn, "destination", "%s", m.destination == ETSN_DEST_SERVER ? "server" : "client");
    else
        set_propf(mn, "destination", "%" PRIu32, m.destination);
    set_propf(mn, "type", "0x%08" PRIX32, m.type);
    const char *name = etsn_message_type_name(m.type);
    if (name) set_propf(mn, "name", "%s", name);
    char g[37];
    etsn_guid_format(&m.rpid, g, false);
    set_propf(mn, "rpid", "%s", g);
    etsn_guid_format(&m.pid, g, false);
    set_propf(mn, "pid", "%s", g);
    if (m.len == 0) return;
    xmlDocPtr body = m.len < INT32_MAX ? xmlReadMemory((const char *)m.data, (int)m.len, NULL,
                                                       "UTF-8", BAD_XML_OPTS)
                                       : NULL;
    xmlNodePtr root = body ? xmlDocGetRootElement(body) : NULL;
    if (root && !body->intSubset && !body->extSubset) {
        xmlNodePtr copy = xmlDocCopyNode(root, psrp->doc, 1);
        if (copy) xmlAddChild(mn, copy);
    } else {
        add_text_or_bytes(mn, ns, "raw", m.data, m.len);
    }
    xmlFreeDoc(body);
}

typedef struct {
    xmlNodePtr psrp;
    xmlNsPtr ns;
    size_t count;
} collect_ctx;

static int on_object(void *ctx, uint64_t object_id, const uint8_t *data, size_t len)
{
    collect_ctx *c = ctx;
    (void)object_id;
    if (++c->count > ETSN_TRANSCRIPT_MAX_MESSAGES) return 1;
    add_message(c->psrp, c->ns, data, len);
    return 0;
}

/* Replaces the carrier's text by <etsn:psrp>. */
static void decode_psrp(etsn_tdecoder *d, xmlNodePtr carrier, const uint8_t *p, size_t len,
                        const char *key)
{
    xmlNodePtr psrp = xmlNewDocNode(carrier->doc, NULL, (const xmlChar *)"psrp", NULL);
    if (!psrp) return;
    xmlNsPtr ns = xmlNewNs(psrp, (const xmlChar *)ETSN_TRANSCRIPT_NS, (const xmlChar *)"etsn");
    xmlSetNs(psrp, ns);
    xmlAddChild(carrier, psrp);
    bool whole = add_fragments(psrp, ns, p, len);
    tstream *s = stream_for(d, key);
    char err[160] = "";
    collect_ctx c = {psrp, ns, 0};
    if (!s) {
        set_propf(psrp, "error", "out of memory");
    } else if (etsn_defrag_feed(s->d, p, len, on_object, &c, err, sizeof err) != 0 || !whole) {
        /* Framing is lost on this stream: start it afresh next time. */
        set_propf(psrp, "error", "%s", err[0] ? err : "incomplete fragment");
        etsn_defrag_free(s->d);
        s->d = NULL;
        add_bytes(psrp, ns, p, len); /* nothing is lost */
    }
}

/* ------------------------------------------------------------------------ */
/* walking an envelope                                                       */

static const char *attr(const xmlNode *n, const char *name, char *buf, size_t size)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v) return NULL;
    snprintf(buf, size, "%s", (const char *)v);
    xmlFree(v);
    return buf;
}

/* Learns the shell kind, ShellId and CommandId from a request. */
static void learn_env(const xmlNode *n, etsn_tenv *env, int depth)
{
    for (; n && depth < 12; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        char v[64];
        if (local_is(n, "ResourceURI")) {
            xmlChar *t = xmlNodeGetContent(n);
            const char *s = t ? (const char *)t : "";
            while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') s++;
            env->psrp = strncasecmp(s, ETSN_PSRP_SHELL_PREFIX, strlen(ETSN_PSRP_SHELL_PREFIX)) == 0;
            xmlFree(t);
        } else if (local_is(n, "Selector") && attr(n, "Name", v, sizeof v) &&
                   strcmp(v, "ShellId") == 0) {
            xmlChar *t = xmlNodeGetContent(n);
            snprintf(env->shell_id, sizeof env->shell_id, "%s", t ? (const char *)t : "");
            xmlFree(t);
        } else if (local_is(n, "Shell") && !env->shell_id[0] && attr(n, "ShellId", v, sizeof v)) {
            snprintf(env->shell_id, sizeof env->shell_id, "%s", v);
        }
        if (!env->command_id[0] && attr(n, "CommandId", v, sizeof v))
            snprintf(env->command_id, sizeof env->command_id, "%s", v);
        learn_env(n->children, env, depth + 1);
    }
}

typedef struct {
    etsn_tdecoder *d;
    const etsn_tenv *env;
    const char *dir;
} walk_ctx;

/* Which kind of payload an element carries: 1 PSRP, 2 shell text, 0 none. */
static int carrier_kind(const xmlNode *n, const etsn_tenv *env)
{
    if (ns_is(n, NS_PWSH) && (local_is(n, "creationXml") || local_is(n, "connectXml") ||
                              local_is(n, "connectResponseXml")))
        return 1;
    if (!ns_is(n, ETSN_WSMAN_SHELL_NS)) return 0;
    if (local_is(n, "Arguments")) return env->psrp == 1 ? 1 : 0;
    if (local_is(n, "Stream")) return env->psrp == 0 ? 2 : 1;
    return 0;
}

static void decode_carrier(walk_ctx *w, xmlNodePtr n, int kind)
{
    xmlChar *text = xmlNodeGetContent(n);
    size_t tlen = text ? strlen((const char *)text) : 0;
    etsn_buf bytes = ETSN_BUF_INIT;
    if (tlen == 0 || strspn((const char *)text, " \t\r\n") == tlen ||
        etsn_base64_decode((const char *)text, tlen, &bytes) < 0) {
        xmlFree(text);
        return; /* empty (End="true") or not base64: left as it is */
    }
    xmlFree(text);
    while (n->children) {
        xmlNodePtr c = n->children;
        xmlUnlinkNode(c);
        xmlFreeNode(c);
    }
    /* Unknown shell kind (no ResourceURI seen): PSRP when it frames as fragments. */
    if (kind == 1 && w->env->psrp < 0 && !add_fragments(NULL, NULL, bytes.data, bytes.len))
        kind = 2;
    if (kind == 2) {
        add_text_or_bytes(n, NULL, "text", bytes.data, bytes.len);
    } else {
        char v[64], key[200];
        const char *cmd = attr(n, "CommandId", v, sizeof v);
        if (!cmd && n->parent) cmd = attr(n->parent, "CommandId", v, sizeof v);
        if (!cmd) cmd = w->env->command_id;
        snprintf(key, sizeof key, "%s|%s|%s", w->env->shell_id, cmd, w->dir);
        decode_psrp(w->d, n, bytes.data, bytes.len, key);
    }
    etsn_buf_free_secure(&bytes);
}

static void walk(walk_ctx *w, xmlNodePtr n, int depth)
{
    for (; n && depth < 64; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        int kind = carrier_kind(n, w->env);
        if (kind && !has_element_child(n))
            decode_carrier(w, n, kind);
        else if (!kind)
            walk(w, n->children, depth + 1);
    }
}

xmlDocPtr etsn_tdecode(etsn_tdecoder *d, const uint8_t *body, size_t len, bool request,
                       etsn_tenv *env)
{
    if (!body || len == 0 || len > ETSN_WSMAN_MAX_ENVELOPE) return NULL;
    xmlDocPtr doc = xmlReadMemory((const char *)body, (int)len, NULL, NULL, BAD_XML_OPTS);
    if (!doc) return NULL;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || doc->intSubset || doc->extSubset) {
        xmlFreeDoc(doc);
        return NULL;
    }
    if (request) {
        memset(env, 0, sizeof *env);
        env->psrp = -1;
        learn_env(root, env, 0);
    }
    walk_ctx w = {d, env, request ? "c2s" : "s2c"};
    walk(&w, root, 0);
    return doc;
}

/* ------------------------------------------------------------------------ */
/* scrubbing                                                                 */

/* Replaces every occurrence of secret in s; NULL when there is none. */
static char *replace_secret(const char *s, const char *secret)
{
    if (!secret || !secret[0] || !strstr(s, secret)) return NULL;
    etsn_buf b = ETSN_BUF_INIT;
    size_t sl = strlen(secret);
    for (const char *p = s, *q; *p; p = q + sl) {
        q = strstr(p, secret);
        if (!q) {
            etsn_buf_append_str(&b, p);
            break;
        }
        etsn_buf_append(&b, p, (size_t)(q - p));
        etsn_buf_append_str(&b, ETSN_TRANSCRIPT_SCRUBBED);
        if (!q[sl]) break;
    }
    if (!b.data) etsn_buf_append_str(&b, "");
    return etsn_buf_steal(&b);
}

static bool is_key_message(const xmlNode *n)
{
    if (!local_is(n, "message") || !ns_is(n, ETSN_TRANSCRIPT_NS)) return false;
    xmlChar *t = xmlGetProp(n, (const xmlChar *)"type");
    unsigned long type = t ? strtoul((const char *)t, NULL, 0) : 0;
    xmlFree(t);
    /* MS-PSRP 2.2.2.3/2.2.2.4: the client's RSA public key and the session
     * key wrapped with it; together with a capture they would reveal every
     * SecureString of the session. */
    return type == ETSN_MSG_PUBLIC_KEY || type == ETSN_MSG_ENCRYPTED_SESSION_KEY;
}

static void scrub_attrs(xmlNodePtr n, const char *secret)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
        char *r = v ? replace_secret((const char *)v, secret) : NULL;
        if (r) xmlSetNsProp(n, a->ns, a->name, (const xmlChar *)r);
        free(r);
        xmlFree(v);
    }
}

static void scrub(xmlNodePtr n, const char *secret, bool in_key, int depth)
{
    for (; n && depth < 256; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            char *r = n->content ? replace_secret((const char *)n->content, secret) : NULL;
            if (r) xmlNodeSetContent(n, (const xmlChar *)r);
            free(r);
            continue;
        }
        if (n->type != XML_ELEMENT_NODE) continue;
        scrub_attrs(n, secret);
        /* <SS>: a SecureString (MS-PSRP 2.2.5.1.24), encrypted with the
         * session key; <S> inside a key-exchange message: the key itself. */
        if ((!n->ns && local_is(n, "SS")) || (in_key && !n->ns && local_is(n, "S"))) {
            xmlNodeSetContent(n, (const xmlChar *)ETSN_TRANSCRIPT_SCRUBBED);
            continue;
        }
        scrub(n->children, secret, in_key || is_key_message(n), depth + 1);
    }
}

void etsn_tscrub_tree(xmlNodePtr root, const char *secret)
{
    scrub(root, secret, false, 0);
}

/* ------------------------------------------------------------------------ */
/* the writer                                                                */

struct etsn_transcript_writer {
    etsn_transcript_sink sink;
    void *ctx;
    bool scrub;
    char *secret;
    uint64_t n;
    bool failed, finished;
    etsn_tdecoder *dec;
};

static int emit(etsn_transcript_writer *w, etsn_buf *b, etsn_error *err)
{
    if (w->failed) {
        etsn_error_set(err, 0, "The transcript could not be written.");
        return -1;
    }
    if (b->len && w->sink(w->ctx, b->data, b->len) < 0) {
        w->failed = true;
        etsn_error_set(err, 0, "The transcript could not be written.");
        return -1;
    }
    return 0;
}

static void attr_out(etsn_buf *b, const char *name, const char *v)
{
    if (!v) return;
    etsn_buf_printf(b, " %s=\"", name);
    etsn_buf_append_xml_escaped(b, v, strlen(v));
    etsn_buf_append_str(b, "\"");
}

etsn_transcript_writer *etsn_transcript_writer_new(const etsn_transcript_meta *meta,
                                                   etsn_transcript_sink sink, void *ctx,
                                                   etsn_error *err)
{
    etsn_transcript_writer *w = calloc(1, sizeof *w);
    if (w) w->dec = etsn_tdecoder_new();
    if (!w || !w->dec || !sink || !meta) {
        etsn_error_set(err, 0, "Cannot start the transcript: out of memory.");
        etsn_transcript_writer_free(w);
        return NULL;
    }
    xmlInitParser();
    w->sink = sink;
    w->ctx = ctx;
    w->scrub = meta->scrub;
    if (meta->secret && meta->secret[0]) w->secret = strdup(meta->secret);
    char when[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_append_str(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<transcript format=\"1\"");
    attr_out(&b, "source", meta->source);
    attr_out(&b, "recorded", when);
    attr_out(&b, "endpoint", meta->endpoint);
    attr_out(&b, "auth", meta->auth);
    attr_out(&b, "sealed", meta->sealed ? "true" : "false");
    attr_out(&b, "scrubbed", meta->scrub ? "true" : "false");
    etsn_buf_append_str(&b, " xmlns:etsn=\"" ETSN_TRANSCRIPT_NS "\">\n");
    int rc = b.data ? emit(w, &b, err) : -1;
    etsn_buf_free(&b);
    if (rc < 0) {
        etsn_transcript_writer_free(w);
        return NULL;
    }
    return w;
}

/* A body that is not XML: its text (secret scrubbed) or base64. */
static void body_raw(etsn_transcript_writer *w, etsn_buf *b, const uint8_t *p, size_t n)
{
    etsn_buf t = ETSN_BUF_INIT;
    etsn_buf_append(&t, p, n);
    char *r = w->scrub && t.data ? replace_secret((const char *)t.data, w->secret) : NULL;
    const char *s = r ? r : (const char *)t.data;
    size_t sl = r ? strlen(r) : n;
    if (s && xml_text_ok((const uint8_t *)s, sl)) {
        etsn_buf_append_str(b, "      <etsn:raw>");
        etsn_buf_append_xml_escaped(b, s, sl);
        etsn_buf_append_str(b, "</etsn:raw>\n");
    } else {
        etsn_buf_append_str(b, "      <etsn:bytes encoding=\"base64\">");
        etsn_base64_encode(p, n, b);
        etsn_buf_append_str(b, "</etsn:bytes>\n");
    }
    free(r);
    etsn_buf_free_secure(&t);
}

static int body_out(etsn_transcript_writer *w, etsn_buf *b, const char *tag, const uint8_t *p,
                    size_t n, bool request, etsn_tenv *env)
{
    if (!p || n == 0) return etsn_buf_printf(b, "    <%s/>\n", tag);
    etsn_buf_printf(b, "    <%s>\n", tag);
    xmlDocPtr doc = etsn_tdecode(w->dec, p, n, request, env);
    if (!doc) {
        if (request) memset(env, 0, sizeof *env), env->psrp = -1;
        body_raw(w, b, p, n);
    } else {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        if (w->scrub) etsn_tscrub_tree(root, w->secret);
        xmlBufferPtr xb = xmlBufferCreate();
        if (!xb) {
            xmlFreeDoc(doc);
            return -1;
        }
        xmlNodeDump(xb, doc, root, 3, 1);
        etsn_buf_append_str(b, "      ");
        etsn_buf_append(b, xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
        etsn_buf_append_str(b, "\n");
        xmlBufferFree(xb);
        xmlFreeDoc(doc);
    }
    return etsn_buf_printf(b, "    </%s>\n", tag);
}

int etsn_transcript_add(etsn_transcript_writer *w, const etsn_transcript_exchange *x,
                        etsn_error *err)
{
    if (!w || !x || w->finished) {
        etsn_error_set(err, 0, "The transcript is closed.");
        return -1;
    }
    etsn_buf b = ETSN_BUF_INIT;
    etsn_tenv env = {.psrp = -1};
    etsn_buf_printf(&b,
                    "  <exchange n=\"%" PRIu64 "\" conn=\"%" PRIu64
                    "\" start-ms=\"%.3f\" duration-ms=\"%.3f\" status=\"%d\">\n",
                    ++w->n, x->conn, x->start_ms, x->duration_ms, x->status);
    int rc = body_out(w, &b, "request", x->request, x->request_len, true, &env);
    rc |= body_out(w, &b, "response", x->response, x->response_len, false, &env);
    rc |= etsn_buf_append_str(&b, "  </exchange>\n");
    if (rc < 0) {
        etsn_error_set(err, 0, "Cannot write the transcript: out of memory.");
        etsn_buf_free_secure(&b);
        return -1;
    }
    rc = emit(w, &b, err);
    /* Unscrubbed transcripts may hold key material: do not leave it in freed memory. */
    etsn_buf_free_secure(&b);
    return rc;
}

int etsn_transcript_finish(etsn_transcript_writer *w, etsn_error *err)
{
    if (!w || w->finished) return 0;
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_append_str(&b, "</transcript>\n");
    int rc = emit(w, &b, err);
    etsn_buf_free(&b);
    w->finished = true;
    return rc;
}

void etsn_transcript_writer_free(etsn_transcript_writer *w)
{
    if (!w) return;
    if (w->secret) {
        etsn_secure_zero(w->secret, strlen(w->secret));
        free(w->secret);
    }
    etsn_tdecoder_free(w->dec);
    free(w);
}
