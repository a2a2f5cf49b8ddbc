/* Transcript reader (transcript.h): libxml2's streaming reader walks the
 * file, each <exchange> is expanded alone and freed before the next, so a
 * transcript of any length is read in the memory of one exchange. Each
 * envelope goes through the same decoding as the writer (transcript.c), which
 * turns PSRP base64 of an HTTP capture into messages and leaves envelopes
 * already decoded alone; the messages are then collected from <etsn:message>. */
#include "transcript.h"
#include "transcript_priv.h"

#include "base64.h"
#include "buf.h"
#include "message.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlreader.h>

struct etsn_transcript_reader {
    xmlTextReaderPtr xr;
    etsn_transcript_source src;
    void *ctx;
    etsn_transcript_info info;
    etsn_tdecoder *dec;
    bool done, positioned;
};

static int io_read(void *ctx, char *buf, int len)
{
    etsn_transcript_reader *r = ctx;
    return r->src(r->ctx, buf, (size_t)len);
}

static int io_close(void *ctx)
{
    (void)ctx;
    return 0;
}

static bool is_etsn(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ETSN_TRANSCRIPT_NS) == 0 &&
           strcmp((const char *)n->name, name) == 0;
}

static char *reader_attr(xmlTextReaderPtr xr, const char *name)
{
    xmlChar *v = xmlTextReaderGetAttribute(xr, (const xmlChar *)name);
    char *s = v ? strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

static bool attr_true(xmlTextReaderPtr xr, const char *name)
{
    char *v = reader_attr(xr, name);
    bool t = v && strcmp(v, "true") == 0;
    free(v);
    return t;
}

/* Moves to the root element and reads the <transcript> attributes. */
static int read_start(etsn_transcript_reader *r, etsn_error *err)
{
    int rc;
    /* After xmlTextReaderNext the reader already stands on the next node. */
    while ((rc = r->positioned ? 1 : xmlTextReaderRead(r->xr)) == 1) {
        r->positioned = false;
        int type = xmlTextReaderNodeType(r->xr);
        if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
            etsn_error_set(err, 0, "A transcript must not contain a DTD.");
            return -1;
        }
        if (type == XML_READER_TYPE_ELEMENT) break;
    }
    const char *name = rc == 1 ? (const char *)xmlTextReaderConstLocalName(r->xr) : NULL;
    if (!name || strcmp(name, "transcript") != 0) {
        etsn_error_set(err, 0, "Not a transcript: the root element must be <transcript>.");
        return -1;
    }
    char *fmt = reader_attr(r->xr, "format");
    r->info.format = fmt ? atoi(fmt) : 0;
    free(fmt);
    if (r->info.format != 1) {
        etsn_error_set(err, 0, "Transcript format %d is not supported (expected 1).",
                       r->info.format);
        return -1;
    }
    r->info.source = reader_attr(r->xr, "source");
    r->info.recorded = reader_attr(r->xr, "recorded");
    r->info.endpoint = reader_attr(r->xr, "endpoint");
    r->info.auth = reader_attr(r->xr, "auth");
    r->info.sealed = attr_true(r->xr, "sealed");
    r->info.scrubbed = attr_true(r->xr, "scrubbed");
    r->done = xmlTextReaderIsEmptyElement(r->xr) == 1;
    return 0;
}

static etsn_transcript_reader *reader_init(etsn_transcript_reader *r, etsn_error *err)
{
    if (!r->xr || !(r->dec = etsn_tdecoder_new())) {
        etsn_error_set(err, 0, "Cannot read the transcript: out of memory.");
        etsn_transcript_reader_free(r);
        return NULL;
    }
    if (read_start(r, err) < 0) {
        etsn_transcript_reader_free(r);
        return NULL;
    }
    return r;
}

#define READ_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

etsn_transcript_reader *etsn_transcript_reader_new(etsn_transcript_source src, void *ctx,
                                                   etsn_error *err)
{
    etsn_transcript_reader *r = calloc(1, sizeof *r);
    if (!r) {
        etsn_error_set(err, 0, "Cannot read the transcript: out of memory.");
        return NULL;
    }
    r->src = src;
    r->ctx = ctx;
    r->xr = xmlReaderForIO(io_read, io_close, r, NULL, NULL, READ_OPTS);
    return reader_init(r, err);
}

etsn_transcript_reader *etsn_transcript_reader_new_memory(const void *data, size_t len,
                                                          etsn_error *err)
{
    etsn_transcript_reader *r = calloc(1, sizeof *r);
    if (!r || len > INT32_MAX) {
        free(r);
        etsn_error_set(err, 0, "Cannot read the transcript: too large.");
        return NULL;
    }
    r->xr = xmlReaderForMemory(data, (int)len, NULL, NULL, READ_OPTS);
    return reader_init(r, err);
}

const etsn_transcript_info *etsn_transcript_reader_info(const etsn_transcript_reader *r)
{
    return &r->info;
}

void etsn_transcript_reader_free(etsn_transcript_reader *r)
{
    if (!r) return;
    if (r->xr) xmlFreeTextReader(r->xr);
    etsn_tdecoder_free(r->dec);
    free(r->info.source);
    free(r->info.recorded);
    free(r->info.endpoint);
    free(r->info.auth);
    free(r);
}

/* ------------------------------------------------------------------------ */
/* one exchange                                                              */

static char *dump(xmlDocPtr doc, xmlNodePtr n, size_t *len)
{
    xmlBufferPtr xb = xmlBufferCreate();
    if (!xb) return NULL;
    xmlNodeDump(xb, doc, n, 0, 0);
    *len = (size_t)xmlBufferLength(xb);
    char *s = malloc(*len + 1);
    if (s) {
        memcpy(s, xmlBufferContent(xb), *len);
        s[*len] = 0;
    }
    xmlBufferFree(xb);
    return s;
}

/* Drops the indentation the writer added: whitespace-only text beside
 * elements (CLIXML never mixes text and elements, so no data is lost). */
static void strip_indent(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children, next; c; c = next) {
        next = c->next;
        if (c->type == XML_TEXT_NODE && xmlIsBlankNode(c) && (c->prev || c->next) &&
            (c->prev ? c->prev : c->next)->type != XML_TEXT_NODE) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        } else if (c->type == XML_ELEMENT_NODE) {
            strip_indent(c);
        }
    }
}

static bool parse_guid_attr(const xmlNode *n, const char *name, etsn_guid *g)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    bool ok = v && etsn_guid_parse((const char *)v, g);
    xmlFree(v);
    return ok;
}

static uint32_t parse_u32_attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    uint32_t u = 0;
    if (v && strcmp((const char *)v, "server") == 0)
        u = ETSN_DEST_SERVER;
    else if (v && strcmp((const char *)v, "client") == 0)
        u = ETSN_DEST_CLIENT;
    else if (v)
        u = (uint32_t)strtoul((const char *)v, NULL, 0);
    xmlFree(v);
    return u;
}

static char *prop_dup(const xmlNode *n, const char *name)
{
    xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
    char *s = v ? strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

/* The carrier of a <etsn:psrp>: its stream name and CommandId. */
static void message_origin(const xmlNode *psrp, etsn_transcript_message *m)
{
    const xmlNode *carrier = psrp->parent;
    if (!carrier || carrier->type != XML_ELEMENT_NODE) return;
    if (strcmp((const char *)carrier->name, "Stream") == 0) {
        m->stream = prop_dup(carrier, "Name");
        m->command_id = prop_dup(carrier, "CommandId");
    } else {
        m->stream = strdup((const char *)carrier->name);
        m->command_id = prop_dup(carrier, "CommandId");
        if (!m->command_id && carrier->parent)
            m->command_id = prop_dup(carrier->parent, "CommandId");
    }
}

static int add_message(etsn_transcript_record *rec, xmlDocPtr doc, xmlNodePtr mn, bool client)
{
    if (rec->n_msgs >= ETSN_TRANSCRIPT_MAX_MESSAGES) return -1;
    etsn_transcript_message *grown =
        realloc(rec->msgs, (rec->n_msgs + 1) * sizeof(etsn_transcript_message));
    if (!grown) return -1;
    rec->msgs = grown;
    etsn_transcript_message *m = &rec->msgs[rec->n_msgs++];
    memset(m, 0, sizeof *m);
    m->from_client = client;
    m->destination = parse_u32_attr(mn, "destination");
    m->type = parse_u32_attr(mn, "type");
    parse_guid_attr(mn, "rpid", &m->rpid);
    parse_guid_attr(mn, "pid", &m->pid);
    message_origin(mn->parent, m);
    xmlNodePtr body = NULL;
    for (xmlNodePtr c = mn->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            body = c;
            break;
        }
    if (body && (is_etsn(body, "raw") || is_etsn(body, "bytes"))) {
        xmlChar *t = xmlNodeGetContent(body);
        m->body = strdup(t ? (const char *)t : "");
        m->body_len = m->body ? strlen(m->body) : 0;
        m->raw = true;
        xmlFree(t);
    } else if (body) {
        strip_indent(body);
        m->body = dump(doc, body, &m->body_len);
    } else {
        m->body = strdup("");
    }
    return m->body ? 0 : -1;
}

static int collect(etsn_transcript_record *rec, xmlDocPtr doc, xmlNodePtr n, bool client, int depth)
{
    for (; n && depth < 64; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (is_etsn(n, "message")) {
            if (n->parent && is_etsn(n->parent, "psrp") && add_message(rec, doc, n, client) < 0)
                return -1;
        } else if (collect(rec, doc, n->children, client, depth + 1) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Removes <etsn:psrp>/<etsn:text>/<etsn:bytes> so that etsn_wsman_parse sees
 * empty payloads. */
static void strip_etsn(xmlNodePtr n)
{
    for (xmlNodePtr c = n ? n->children : NULL, next; c; c = next) {
        next = c->next;
        if (is_etsn(c, "psrp") || is_etsn(c, "text") || is_etsn(c, "bytes")) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        } else if (c->type == XML_ELEMENT_NODE) {
            strip_etsn(c);
        }
    }
}

static void parse_envelope(xmlDocPtr doc, bool *has, etsn_wsman_msg *msg)
{
    strip_etsn(xmlDocGetRootElement(doc));
    size_t len = 0;
    char *s = dump(doc, xmlDocGetRootElement(doc), &len);
    char why[160];
    *has = s && etsn_wsman_parse((const uint8_t *)s, len, msg, why, sizeof why) == 0;
    free(s);
}

/* One <request>/<response>: the body through the decoder, then its messages. */
static int read_body(etsn_transcript_reader *r, xmlNodePtr el, bool request, etsn_tenv *env,
                     etsn_transcript_record *rec)
{
    xmlNodePtr body = NULL;
    for (xmlNodePtr c = el->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            body = c;
            break;
        }
    char **xml = request ? &rec->request_xml : &rec->response_xml;
    size_t *xml_len = request ? &rec->request_xml_len : &rec->response_xml_len;
    if (!body) return 0;
    if (is_etsn(body, "raw") || is_etsn(body, "bytes")) {
        xmlChar *t = xmlNodeGetContent(body);
        const char *text = t ? (const char *)t : "";
        etsn_buf b = ETSN_BUF_INIT;
        int rc = is_etsn(body, "raw") ? etsn_buf_append_str(&b, text)
                                      : etsn_base64_decode(text, strlen(text), &b);
        xmlFree(t);
        if (rc < 0 || etsn_buf_append_byte(&b, 0) < 0) {
            etsn_buf_free(&b);
            return -1;
        }
        *xml_len = b.len - 1;
        *xml = etsn_buf_steal(&b);
        return 0;
    }
    /* Copy into a document of its own so that namespaces declared on
     * <transcript> come along, then decode as the writer does. */
    xmlDocPtr tmp = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr copy = tmp ? xmlDocCopyNode(body, tmp, 1) : NULL;
    if (!copy) {
        xmlFreeDoc(tmp);
        return -1;
    }
    xmlDocSetRootElement(tmp, copy);
    size_t len = 0;
    char *s = dump(tmp, copy, &len);
    xmlFreeDoc(tmp);
    xmlDocPtr doc = s ? etsn_tdecode(r->dec, (const uint8_t *)s, len, request, env) : NULL;
    free(s);
    if (!doc) return -1;
    int rc = collect(rec, doc, xmlDocGetRootElement(doc), request, 0);
    if (rc == 0) *xml = dump(doc, xmlDocGetRootElement(doc), xml_len);
    if (rc == 0 && *xml) {
        if (request)
            parse_envelope(doc, &rec->has_request, &rec->request);
        else
            parse_envelope(doc, &rec->has_response, &rec->response);
    }
    xmlFreeDoc(doc);
    return rc == 0 && *xml ? 0 : -1;
}

static double num_attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    double d = v ? strtod((const char *)v, NULL) : 0;
    xmlFree(v);
    return d;
}

static int read_exchange(etsn_transcript_reader *r, xmlNodePtr ex, etsn_transcript_record *rec,
                         etsn_error *err)
{
    rec->n = (uint64_t)num_attr(ex, "n");
    rec->conn = (uint64_t)num_attr(ex, "conn");
    rec->start_ms = num_attr(ex, "start-ms");
    rec->duration_ms = num_attr(ex, "duration-ms");
    rec->status = (int)num_attr(ex, "status");
    etsn_tenv env = {.psrp = -1};
    for (xmlNodePtr c = ex->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        bool request = strcmp((const char *)c->name, "request") == 0;
        if (!request && strcmp((const char *)c->name, "response") != 0) continue;
        if (read_body(r, c, request, &env, rec) < 0) {
            etsn_error_set(err, 0, "Exchange %" PRIu64 ": the %s cannot be read.", rec->n,
                           request ? "request" : "response");
            return -1;
        }
    }
    return 0;
}

int etsn_transcript_next(etsn_transcript_reader *r, etsn_transcript_record **out, etsn_error *err)
{
    *out = NULL;
    if (r->done) return 0;
    int rc;
    /* After xmlTextReaderNext the reader already stands on the next node. */
    while ((rc = r->positioned ? 1 : xmlTextReaderRead(r->xr)) == 1) {
        r->positioned = false;
        int type = xmlTextReaderNodeType(r->xr);
        int depth = xmlTextReaderDepth(r->xr);
        if (type == XML_READER_TYPE_END_ELEMENT && depth == 0) {
            r->done = true;
            return 0;
        }
        if (type != XML_READER_TYPE_ELEMENT || depth != 1) continue;
        if (strcmp((const char *)xmlTextReaderConstLocalName(r->xr), "exchange") != 0) continue;
        xmlNodePtr ex = xmlTextReaderExpand(r->xr);
        if (!ex) break;
        etsn_transcript_record *rec = calloc(1, sizeof *rec);
        if (!rec || read_exchange(r, ex, rec, err) < 0) {
            if (!rec) etsn_error_set(err, 0, "Cannot read the transcript: out of memory.");
            etsn_transcript_record_free(rec);
            return -1;
        }
        rc = xmlTextReaderNext(r->xr);
        if (rc < 0) {
            etsn_transcript_record_free(rec);
            break;
        }
        r->positioned = rc == 1;
        *out = rec;
        return 1;
    }
    if (rc == 0) {
        etsn_error_set(err, 0, "The transcript ends before </transcript>.");
        return -1;
    }
    etsn_error_set(err, 0, "The transcript is not well-formed XML (line %d).",
                   xmlTextReaderGetParserLineNumber(r->xr));
    return -1;
}

void etsn_transcript_record_free(etsn_transcript_record *rec)
{
    if (!rec) return;
    for (size_t i = 0; i < rec->n_msgs; i++) {
        free(rec->msgs[i].body);
        free(rec->msgs[i].stream);
        free(rec->msgs[i].command_id);
    }
    free(rec->msgs);
    if (rec->has_request) etsn_wsman_msg_free(&rec->request);
    if (rec->has_response) etsn_wsman_msg_free(&rec->response);
    free(rec->request_xml);
    free(rec->response_xml);
    free(rec);
}

void etsn_transcript_record_exchange(const etsn_transcript_record *rec, etsn_transcript_exchange *x)
{
    memset(x, 0, sizeof *x);
    x->conn = rec->conn;
    x->start_ms = rec->start_ms;
    x->duration_ms = rec->duration_ms;
    x->status = rec->status;
    x->request = (const uint8_t *)rec->request_xml;
    x->request_len = rec->request_xml ? rec->request_xml_len : 0;
    x->response = (const uint8_t *)rec->response_xml;
    x->response_len = rec->response_xml ? rec->response_xml_len : 0;
}
