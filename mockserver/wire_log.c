#include "wire_log.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "../ref/core/base64.h"
#include "../ref/core/guid.h"
#include "report.h"

/* A value longer than this is cut (a pasted script block); the line says so. */
#define MAX_VALUE 2000
/* A PSRP message being reassembled is kept up to this many bytes. */
#define MAX_MESSAGE (4u * 1024u * 1024u)
/* Object ids reassembled at once (a pool and a few pipelines). */
#define MAX_PENDING 8
/* MS-PSRP 2.2.4: ObjectId (8) FragmentId (8) flags (1) BlobLength (4). */
#define FRAGMENT_HEADER 21
/* MS-PSRP 2.2.1: Destination (4) MessageType (4) RPID (16) PID (16). */
#define MESSAGE_HEADER 40
/* MS-PSRP 2.2.4: the E (end) bit of the fragment flags. */
#define FLAG_END 0x2

typedef struct {
    char **v;
    size_t n;
} strv;

typedef struct {
    size_t index, repeat;
    strv lines;
} entry;

typedef struct {
    bool used;
    uint64_t oid;
    etsn_buf data;
    bool overflow;
} pending;

struct mock_wire_log {
    entry *e;
    size_t n;
    size_t requests, bytes, dropped;
    pending pend[MAX_PENDING];
};

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int strv_push(strv *s, char *line)
{
    if (!line) return -1;
    char **v = realloc(s->v, (s->n + 1) * sizeof *v);
    if (!v) {
        free(line);
        return -1;
    }
    s->v = v;
    s->v[s->n++] = line;
    return 0;
}

/* key, sep, value with control characters shown as \n, \r, \t or \xNN so
 * that every line stays one line; values beyond MAX_VALUE bytes are cut. */
static int push_sep(strv *s, const char *key, char sep, const char *value)
{
    etsn_buf b = ETSN_BUF_INIT;
    int rc = etsn_buf_printf(&b, "%s%c", key, sep);
    size_t n = strlen(value ? value : "");
    for (size_t i = 0; value && i < n && i < MAX_VALUE && !rc; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '\n')
            rc = etsn_buf_append_str(&b, "\\n");
        else if (c == '\r')
            rc = etsn_buf_append_str(&b, "\\r");
        else if (c == '\t')
            rc = etsn_buf_append_str(&b, "\\t");
        else if (c < 0x20 || c == 0x7F)
            rc = etsn_buf_printf(&b, "\\x%02X", c);
        else
            rc = etsn_buf_append_byte(&b, c);
    }
    if (!rc && n > MAX_VALUE) rc = etsn_buf_printf(&b, "... (%zu bytes)", n);
    if (!rc) rc = etsn_buf_append_byte(&b, 0);
    if (rc) {
        etsn_buf_free(&b);
        return -1;
    }
    return strv_push(s, (char *)b.data);
}

static int push_kv(strv *s, const char *key, const char *value)
{
    return push_sep(s, key, ' ', value);
}

static int pushf(strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int pushf(strv *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = NULL;
    int rc = vasprintf(&line, fmt, ap);
    va_end(ap);
    return rc < 0 ? -1 : strv_push(s, line);
}

/* ---- XML by local name ---- */

static bool named(const xmlNode *n, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, local);
}

static xmlNode *child(const xmlNode *parent, const char *local)
{
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
        if (named(c, local)) return c;
    return NULL;
}

/* The element's text, blanks around it trimmed; caller frees. */
static char *text_of(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    if (!t) return strdup("");
    const char *s = (const char *)t;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    size_t len = strlen(s);
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        len--;
    char *r = strndup(s, len);
    xmlFree(t);
    return r;
}

static char *attr_of(const xmlNode *n, const char *name)
{
    xmlChar *a = xmlGetProp(n, (const xmlChar *)name);
    if (!a) return NULL;
    char *r = strdup((const char *)a);
    xmlFree(a);
    return r;
}

/* Each element read is remembered as "ns LOCAL URI" (once), listed last. */
static int note_ns(strv *ns, const xmlNode *n)
{
    const char *uri = n->ns && n->ns->href ? (const char *)n->ns->href : "(none)";
    char *line = NULL;
    if (asprintf(&line, "ns %s %s", (const char *)n->name, uri) < 0) return -1;
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i], line)) {
            free(line);
            return 0;
        }
    return strv_push(ns, line);
}

static int push_text(strv *s, strv *ns, const char *key, const xmlNode *n)
{
    char *t = text_of(n);
    int rc = t ? push_kv(s, key, t) : -1;
    free(t);
    return rc | note_ns(ns, n);
}

static int push_attr(strv *s, const char *key, const xmlNode *n, const char *attr)
{
    char *a = attr_of(n, attr);
    int rc = a ? push_kv(s, key, a) : 0;
    free(a);
    return rc;
}

/* ---- CLIXML fields that matter ---- */

/* Properties reported from a message's CLIXML, by their N attribute
 * (MS-PSRP 2.2.2.1 SESSION_CAPABILITY, 2.2.2.2 INIT_RUNSPACEPOOL,
 * 2.2.2.10 CREATE_PIPELINE with 2.2.3.11/12/13, 2.2.2.27 host responses). */
static const char *const fields[] = {"protocolversion",
                                     "PSVersion",
                                     "SerializationVersion",
                                     "MinRunspaces",
                                     "MaxRunspaces",
                                     "Cmd",
                                     "IsScript",
                                     "UseLocalScope",
                                     "MergeMyResult",
                                     "MergeToResult",
                                     "MergePreviousResults",
                                     "IsNested",
                                     "AddToHistory",
                                     "NoInput",
                                     "HostInfo",
                                     "ci",
                                     "mi",
                                     NULL};

static bool wanted(const char *name)
{
    for (size_t i = 0; fields[i]; i++)
        if (!strcmp(fields[i], name)) return true;
    return false;
}

/* An enum is <Obj N=..><TN/><ToString/><I32>n</I32></Obj>: its number. */
static int push_field(strv *s, const xmlNode *n, const char *name)
{
    char key[80];
    snprintf(key, sizeof key, "clixml %s", name);
    if (named(n, "Obj")) {
        const xmlNode *num = child(n, "I32");
        char *t = num ? text_of(num) : strdup("object");
        int rc = t ? push_sep(s, key, '=', t) : -1;
        free(t);
        return rc;
    }
    if (named(n, "Nil")) return push_sep(s, key, '=', "nil");
    if (named(n, "Ref")) return push_sep(s, key, '=', "ref");
    char *t = text_of(n);
    int rc = t ? push_sep(s, key, '=', t) : -1;
    free(t);
    return rc;
}

static int walk_clixml(strv *s, const xmlNode *n, int depth)
{
    int rc = 0;
    for (const xmlNode *c = n; c && !rc && depth < 64; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        char *name = attr_of(c, "N");
        if (name && wanted(name)) rc = push_field(s, c, name);
        free(name);
        if (!rc && c->children) rc = walk_clixml(s, c->children, depth + 1);
    }
    return rc;
}

static int clixml_fields(strv *s, const uint8_t *xml, size_t len)
{
    if (!len || len > INT_MAX) return 0;
    xmlDocPtr doc = xmlReadMemory((const char *)xml, (int)len, NULL, "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || doc->intSubset) {
        xmlFreeDoc(doc);
        return pushf(s, "clixml unparseable");
    }
    int rc = walk_clixml(s, xmlDocGetRootElement(doc), 0);
    xmlFreeDoc(doc);
    return rc;
}

/* ---- PSRP bytes ---- */

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int message_lines(strv *s, const uint8_t *m, size_t len)
{
    if (len < MESSAGE_HEADER) return pushf(s, "message truncated %zu bytes", len);
    etsn_guid rpid, pid;
    char rtext[37], ptext[37];
    etsn_guid_from_dotnet(m + 8, &rpid);
    etsn_guid_from_dotnet(m + 24, &pid);
    etsn_guid_format(&rpid, rtext, false);
    etsn_guid_format(&pid, ptext, false);
    const uint8_t *body = m + MESSAGE_HEADER;
    size_t blen = len - MESSAGE_HEADER;
    /* The UTF-8 byte order mark EF BB BF before the CLIXML (MS-PSRP 2.2.1). */
    bool bom = blen >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF;
    int rc = pushf(s, "message destination=0x%08X type=0x%08X bom=%s pid=%s rpid=%s", le32(m),
                   le32(m + 4),
                   blen == 0 ? "empty"
                   : bom     ? "yes"
                             : "no",
                   ptext, rtext);
    if (bom) {
        body += 3;
        blen -= 3;
    }
    return rc ? rc : clixml_fields(s, body, blen);
}

static pending *pending_for(mock_wire_log *w, uint64_t oid, bool start)
{
    pending *free_slot = NULL;
    for (size_t i = 0; i < MAX_PENDING; i++) {
        if (w->pend[i].used && w->pend[i].oid == oid) return &w->pend[i];
        if (!w->pend[i].used && !free_slot) free_slot = &w->pend[i];
    }
    if (!start) return NULL;
    if (!free_slot) free_slot = &w->pend[oid % MAX_PENDING]; /* an unfinished one is dropped */
    etsn_buf_reset(&free_slot->data);
    free_slot->used = true;
    free_slot->oid = oid;
    free_slot->overflow = false;
    return free_slot;
}

static int fragments(mock_wire_log *w, strv *s, const uint8_t *p, size_t len)
{
    size_t off = 0;
    int rc = 0;
    while (off < len && !rc) {
        if (len - off < FRAGMENT_HEADER) return pushf(s, "fragment truncated %zu bytes", len - off);
        uint64_t oid = be64(p + off), fid = be64(p + off + 8);
        uint8_t flags = p[off + 16];
        uint32_t blen = be32(p + off + 17);
        off += FRAGMENT_HEADER;
        if (blen > len - off)
            return pushf(s, "fragment object=%llu fragment=%llu truncated", (unsigned long long)oid,
                         (unsigned long long)fid);
        rc = pushf(s, "fragment object=%llu fragment=%llu flags=0x%02X length=%u",
                   (unsigned long long)oid, (unsigned long long)fid, flags, blen);
        /* Reassembly by the raw numbers: fragment 0 starts a message, the
         * end bit finishes it. */
        pending *pd = rc ? NULL : pending_for(w, oid, fid == 0);
        if (pd && fid == 0) {
            etsn_buf_reset(&pd->data);
            pd->overflow = false;
        }
        if (pd && !pd->overflow) {
            if (pd->data.len + blen > MAX_MESSAGE)
                pd->overflow = true;
            else if (etsn_buf_append(&pd->data, p + off, blen) < 0)
                rc = -1;
        }
        if (pd && !rc && (flags & FLAG_END)) {
            rc = pd->overflow ? pushf(s, "message over %u bytes, not decoded", MAX_MESSAGE)
                              : message_lines(s, pd->data.data, pd->data.len);
            pd->used = false;
            etsn_buf_reset(&pd->data);
        }
        off += blen;
    }
    return rc;
}

static int payload(mock_wire_log *w, strv *s, strv *ns, const char *where, const xmlNode *n)
{
    char *t = text_of(n);
    if (!t) return -1;
    int rc = pushf(s, "payload %s", where) | note_ns(ns, n);
    etsn_buf bytes = ETSN_BUF_INIT;
    if (!rc && *t) {
        if (etsn_base64_decode(t, strlen(t), &bytes) < 0)
            rc = pushf(s, "payload not base64");
        else
            rc = fragments(w, s, bytes.data, bytes.len);
    }
    etsn_buf_free(&bytes);
    free(t);
    return rc;
}

/* ---- SOAP ---- */

/* Header elements reported, in this order, whatever order they came in. */
static const struct {
    const char *local, *key;
} header_fields[] = {
    {"Action", "action"},
    {"To", "to"},
    {"ResourceURI", "resource-uri"},
    {"MaxEnvelopeSize", "max-envelope-size"},
    {"OperationTimeout", "operation-timeout"},
};

static int header_lines(strv *s, strv *ns, const xmlNode *h)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof header_fields / sizeof header_fields[0] && !rc; i++)
        for (const xmlNode *c = h->children; c && !rc; c = c->next)
            if (named(c, header_fields[i].local)) rc = push_text(s, ns, header_fields[i].key, c);
    const char *locales[][2] = {{"Locale", "locale"}, {"DataLocale", "data-locale"}};
    for (size_t i = 0; i < 2 && !rc; i++)
        for (const xmlNode *c = h->children; c && !rc; c = c->next)
            if (named(c, locales[i][0])) {
                xmlChar *l = xmlGetNsProp(c, (const xmlChar *)"lang", XML_XML_NAMESPACE);
                rc = push_kv(s, locales[i][1], l ? (const char *)l : "(no xml:lang)") |
                     note_ns(ns, c);
                xmlFree(l);
            }
    const char *sets[][3] = {{"OptionSet", "Option", "option"},
                             {"SelectorSet", "Selector", "selector"}};
    for (size_t i = 0; i < 2 && !rc; i++) {
        const xmlNode *set = child(h, sets[i][0]);
        for (const xmlNode *c = set ? set->children : NULL; c && !rc; c = c->next) {
            if (!named(c, sets[i][1])) continue;
            char *name = attr_of(c, "Name"), *value = text_of(c);
            char *kv = NULL;
            if (name && value && asprintf(&kv, "%s=%s", name, value) >= 0)
                rc = push_kv(s, sets[i][2], kv) | note_ns(ns, c);
            else
                rc = -1;
            free(kv);
            free(name);
            free(value);
        }
    }
    return rc;
}

static int body_lines(mock_wire_log *w, strv *s, strv *ns, const xmlNode *op)
{
    int rc = pushf(s, "body %s", (const char *)op->name) | note_ns(ns, op);
    if (named(op, "Shell")) {
        for (const xmlNode *c = op->children; c && !rc; c = c->next) {
            if (named(c, "InputStreams")) rc = push_text(s, ns, "input-streams", c);
            if (named(c, "OutputStreams")) rc = push_text(s, ns, "output-streams", c);
        }
        const xmlNode *cx = child(op, "creationXml");
        if (cx && !rc) rc = payload(w, s, ns, "creationXml", cx);
        return rc;
    }
    if (!rc) rc = push_attr(s, "command-id", op, "CommandId");
    if (named(op, "CommandLine")) {
        const xmlNode *a = child(op, "Arguments");
        if (a && !rc) rc = payload(w, s, ns, "Arguments", a);
    } else if (named(op, "Send")) {
        for (const xmlNode *c = op->children; c && !rc; c = c->next) {
            if (!named(c, "Stream")) continue;
            char *name = attr_of(c, "Name");
            rc = push_kv(s, "send-stream", name ? name : "(no Name)") |
                 push_attr(s, "command-id", c, "CommandId");
            char where[80];
            snprintf(where, sizeof where, "stream %s", name ? name : "(no Name)");
            free(name);
            if (!rc) rc = payload(w, s, ns, where, c);
        }
    } else if (named(op, "Receive")) {
        const xmlNode *d = child(op, "DesiredStream");
        if (d && !rc)
            rc = push_text(s, ns, "desired-stream", d) | push_attr(s, "command-id", d, "CommandId");
    } else if (named(op, "Signal")) {
        const xmlNode *c = child(op, "Code");
        if (c && !rc) rc = push_text(s, ns, "signal-code", c);
    } else if (named(op, "Connect") || named(op, "Reconnect")) {
        const xmlNode *c = child(op, "connectXml");
        if (c && !rc) rc = payload(w, s, ns, "connectXml", c);
    }
    return rc;
}

static int soap_lines(mock_wire_log *w, strv *s, const uint8_t *soap, size_t len)
{
    if (len > INT_MAX) return pushf(s, "unparseable %zu bytes", len);
    xmlDocPtr doc = xmlReadMemory((const char *)soap, (int)len, NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    const xmlNode *env = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!env || doc->intSubset || !named(env, "Envelope")) {
        xmlFreeDoc(doc);
        return pushf(s, "unparseable %zu bytes", len);
    }
    strv ns = {0};
    int rc = note_ns(&ns, env);
    const xmlNode *h = child(env, "Header"), *b = child(env, "Body");
    if (h && !rc) rc = note_ns(&ns, h) | header_lines(s, &ns, h);
    const xmlNode *op = NULL;
    for (const xmlNode *c = b ? b->children : NULL; c && !op; c = c->next)
        if (c->type == XML_ELEMENT_NODE) op = c;
    if (b && !rc) rc = note_ns(&ns, b);
    if (op && !rc) rc = body_lines(w, s, &ns, op);
    for (size_t i = 0; i < ns.n && !rc; i++) {
        rc = strv_push(s, ns.v[i]);
        ns.v[i] = NULL;
    }
    strv_free(&ns);
    xmlFreeDoc(doc);
    return rc;
}

/* ---- the log ---- */

mock_wire_log *mock_wire_log_new(void)
{
    return calloc(1, sizeof(mock_wire_log));
}

void mock_wire_log_free(mock_wire_log *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) strv_free(&w->e[i].lines);
    free(w->e);
    for (size_t i = 0; i < MAX_PENDING; i++) etsn_buf_free(&w->pend[i].data);
    free(w);
}

static bool same_lines(const strv *a, const strv *b)
{
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i])) return false;
    return true;
}

int mock_wire_log_request(mock_wire_log *w, const uint8_t *soap, size_t len)
{
    size_t index = ++w->requests;
    strv s = {0};
    if (soap_lines(w, &s, soap, len) < 0) {
        strv_free(&s);
        return -1;
    }
    if (w->n && same_lines(&w->e[w->n - 1].lines, &s)) {
        w->e[w->n - 1].repeat++;
        strv_free(&s);
        return 0;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < s.n; i++) bytes += strlen(s.v[i]) + 4;
    if (w->bytes + bytes > MOCK_WIRE_LOG_MAX_BYTES) {
        w->dropped++;
        strv_free(&s);
        return 0;
    }
    entry *e = realloc(w->e, (w->n + 1) * sizeof *e);
    if (!e) {
        strv_free(&s);
        return -1;
    }
    w->e = e;
    w->e[w->n++] = (entry){.index = index, .repeat = 1, .lines = s};
    w->bytes += bytes;
    return 0;
}

int mock_wire_log_json(const mock_wire_log *w, etsn_buf *out)
{
    int rc = etsn_buf_append_str(out, "[");
    for (size_t i = 0; w && i < w->n && !rc; i++) {
        const entry *e = &w->e[i];
        rc |= etsn_buf_printf(out, "%s\n    {\"request\": %zu, \"repeat\": %zu, \"lines\": [",
                              i ? "," : "", e->index, e->repeat);
        for (size_t j = 0; j < e->lines.n; j++) {
            rc |= etsn_buf_append_str(out, j ? ",\n      " : "\n      ");
            rc |= mock_json_string(out, e->lines.v[j]);
        }
        rc |= etsn_buf_append_str(out, "]}");
    }
    rc |= etsn_buf_append_str(out, w && w->n ? "\n  ]" : "]");
    return rc ? -1 : 0;
}

size_t mock_wire_log_dropped(const mock_wire_log *w)
{
    return w ? w->dropped : 0;
}
