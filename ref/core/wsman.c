/* WS-Management envelopes for the PSRP shell (MS-WSMV over SOAP 1.2).
 *
 * Parsing goes through a libxml2 tree and matches every element by namespace
 * URI and local name: Windows writes s:/a:/w:/p:, pypsrp writes wsa:/wsman:/
 * wsmv:, and other peers may use default namespaces, so prefixes mean nothing.
 * Building writes text directly, in the layout Windows clients and WinRM use,
 * because that is what real peers have been seen to accept. */
#include "wsman.h"

#include "base64.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/rand.h>

#define NS_SOAP "http://www.w3.org/2003/05/soap-envelope"
#define NS_ADDR "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define NS_TRANSFER "http://schemas.xmlsoap.org/ws/2004/09/transfer"
#define NS_WSMAN "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
#define NS_WSMV "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
#define NS_SHELL ETSN_WSMAN_SHELL_NS
#define NS_FAULT "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
#define NS_PWSH "http://schemas.microsoft.com/powershell"

#define ANONYMOUS NS_ADDR "/role/anonymous"

#define ACT_CREATE NS_TRANSFER "/Create"
#define ACT_DELETE NS_TRANSFER "/Delete"
#define ACT_GET NS_TRANSFER "/Get"
#define ACT_COMMAND NS_SHELL "/Command"
#define ACT_SEND NS_SHELL "/Send"
#define ACT_RECEIVE NS_SHELL "/Receive"
#define ACT_SIGNAL NS_SHELL "/Signal"
/* WinRM answers most errors with the WS-Man fault action, but header errors
 * (e.g. a bad OperationTimeout) with the WS-Addressing one. */
#define ACT_FAULT_WSMAN "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
#define ACT_FAULT_ADDR NS_ADDR "/fault"

static const struct {
    const char *uri;
    etsn_wsman_action action;
} action_table[] = {
    {ACT_CREATE, ETSN_WSMAN_CREATE},
    {ACT_COMMAND, ETSN_WSMAN_COMMAND},
    {ACT_SEND, ETSN_WSMAN_SEND},
    {ACT_RECEIVE, ETSN_WSMAN_RECEIVE},
    {ACT_SIGNAL, ETSN_WSMAN_SIGNAL},
    {ACT_DELETE, ETSN_WSMAN_DELETE},
    {ACT_CREATE "Response", ETSN_WSMAN_CREATE_RESPONSE},
    {ACT_COMMAND "Response", ETSN_WSMAN_COMMAND_RESPONSE},
    {ACT_SEND "Response", ETSN_WSMAN_SEND_RESPONSE},
    {ACT_RECEIVE "Response", ETSN_WSMAN_RECEIVE_RESPONSE},
    {ACT_SIGNAL "Response", ETSN_WSMAN_SIGNAL_RESPONSE},
    {ACT_DELETE "Response", ETSN_WSMAN_DELETE_RESPONSE},
    {ACT_GET, ETSN_WSMAN_GET},
    {ACT_GET "Response", ETSN_WSMAN_GET_RESPONSE},
    {ACT_FAULT_WSMAN, ETSN_WSMAN_FAULT},
    {ACT_FAULT_ADDR, ETSN_WSMAN_FAULT},
};

/* ------------------------------------------------------------------------ */
/* XML whitespace                                                           */

static bool xml_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ------------------------------------------------------------------------ */
/* small text helpers                                                        */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

/* Strips XML whitespace in place: values such as IDs and numbers may be
 * pretty-printed by some peers. */
static char *trim(char *s)
{
    size_t n = strlen(s);
    while (n && xml_space((unsigned char)s[n - 1])) n--;
    s[n] = 0;
    size_t i = 0;
    while (xml_space((unsigned char)s[i])) i++;
    if (i) memmove(s, s + i, n - i + 1);
    return s;
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *v = x;
    return 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
    uint64_t x;
    if (parse_u64(s, &x) < 0 || x > UINT32_MAX) return -1;
    *v = (uint32_t)x;
    return 0;
}

static int parse_i64(const char *s, int64_t *v)
{
    if (!s) return -1;
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    if (!isdigit((unsigned char)*d)) return -1;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *v = x;
    return 0;
}

int etsn_wsman_parse_duration(const char *s, uint32_t *ms)
{
    /* xs:duration restricted to what WS-Man timeouts use: days, hours,
     * minutes, seconds with an optional fraction. Years and months have no
     * fixed length, so they are refused rather than guessed. */
    if (!s || *s != 'P') return -1;
    const char *p = s + 1;
    uint64_t total = 0; /* milliseconds */
    bool in_time = false, any = false;
    int last = 0; /* rank of the last designator, enforcing D < H < M < S */
    while (*p) {
        if (*p == 'T') {
            if (in_time) return -1;
            in_time = true;
            p++;
            if (!*p) return -1;
            continue;
        }
        if (!isdigit((unsigned char)*p)) return -1;
        uint64_t whole = 0;
        while (isdigit((unsigned char)*p)) {
            whole = whole * 10 + (uint64_t)(*p - '0');
            if (whole > 100000000000ull) return -1;
            p++;
        }
        uint64_t frac_ms = 0;
        bool has_frac = false;
        if (*p == '.') {
            has_frac = true;
            p++;
            if (!isdigit((unsigned char)*p)) return -1;
            int digits = 0;
            while (isdigit((unsigned char)*p)) {
                if (digits < 3) frac_ms = frac_ms * 10 + (uint64_t)(*p - '0');
                digits++;
                p++;
            }
            while (digits < 3) {
                frac_ms *= 10;
                digits++;
            }
        }
        int rank;
        uint64_t unit;
        switch (*p) {
        case 'D':
            rank = 1, unit = 86400000ull;
            break;
        case 'H':
            rank = 2, unit = 3600000ull;
            break;
        case 'M':
            rank = 3, unit = 60000ull;
            break;
        case 'S':
            rank = 4, unit = 1000ull;
            break;
        default:
            return -1;
        }
        if ((rank == 1) == in_time || rank <= last || (has_frac && rank != 4)) return -1;
        last = rank;
        total += whole * unit + frac_ms;
        if (total > UINT32_MAX) return -1;
        any = true;
        p++;
    }
    if (!any) return -1;
    *ms = (uint32_t)total;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* parsing                                                                   */

typedef struct {
    etsn_wsman_msg *msg;
    char *err;
    size_t errlen;
} pctx;

__attribute__((format(printf, 2, 3))) static int fail(pctx *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool is_el(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *first_child(const xmlNode *parent, const char *ns, const char *name)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (is_el(n, ns, name)) return n;
    return NULL;
}

/* Concatenated text content of a node and its descendants, malloc'ed. */
static char *node_text(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = xstrdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

/* An attribute without a namespace (WS-Man attributes such as Name and
 * CommandId are unqualified), malloc'ed, or NULL when absent. */
static char *attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v) return NULL;
    char *s = xstrdup((const char *)v);
    xmlFree(v);
    return s;
}

static char *xml_lang(const xmlNode *n)
{
    xmlChar *v = xmlGetNsProp(n, (const xmlChar *)"lang", XML_XML_NAMESPACE);
    if (!v) return NULL;
    char *s = xstrdup((const char *)v);
    xmlFree(v);
    return s;
}

/* Stores value (taking ownership) in *dst. A header or attribute given twice
 * is refused: two different Actions or ShellIds in one envelope would let a
 * peer have the two ends of the connection disagree on its meaning. */
static int take(pctx *c, char **dst, char *value, const char *what)
{
    if (!value) return fail(c, "out of memory reading %s", what);
    if (*dst) {
        free(value);
        return fail(c, "duplicate %s", what);
    }
    *dst = value;
    return 0;
}

static int take_text(pctx *c, char **dst, const xmlNode *n, const char *what)
{
    char *t = node_text(n);
    return take(c, dst, t ? trim(t) : NULL, what);
}

/* Optional attribute into *dst; absent is fine. */
static int take_attr(pctx *c, char **dst, const xmlNode *n, const char *name, const char *what)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v) return 0;
    char *s = xstrdup((const char *)v);
    xmlFree(v);
    return take(c, dst, s ? trim(s) : NULL, what);
}

static bool is_true(const char *s)
{
    return s && (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0);
}

static int parse_selectors(pctx *c, const xmlNode *set)
{
    for (xmlNode *n = set->children; n; n = n->next) {
        if (!is_el(n, NS_WSMAN, "Selector")) continue;
        char *name = attr(n, "Name");
        bool shell = name && strcmp(name, "ShellId") == 0;
        free(name);
        if (shell && take_text(c, &c->msg->shell_id, n, "ShellId selector") < 0) return -1;
    }
    return 0;
}

/* Bounded: a request names a few options and variables, never thousands. */
#define MAX_PAIRS 256

/* Appends name/value to a pair list (both owned by the list afterwards). */
static int add_pair(pctx *c, etsn_wsman_option **list, size_t *n, char *name, char *value)
{
    if (!name || !value || *n >= MAX_PAIRS) {
        free(name);
        free(value);
        return *n >= MAX_PAIRS ? fail(c, "too many options or variables")
                               : fail(c, "out of memory");
    }
    etsn_wsman_option *l = realloc(*list, (*n + 1) * sizeof *l);
    if (!l) {
        free(name);
        free(value);
        return fail(c, "out of memory");
    }
    *list = l;
    l[*n].name = trim(name);
    l[*n].value = value;
    (*n)++;
    return 0;
}

const char *etsn_wsman_option_value(const etsn_wsman_msg *m, const char *name)
{
    for (size_t i = 0; m && i < m->n_options; i++)
        if (strcasecmp(m->options[i].name, name) == 0) return m->options[i].value;
    return NULL;
}

static int parse_options(pctx *c, const xmlNode *set)
{
    etsn_wsman_msg *m = c->msg;
    for (xmlNode *n = set->children; n; n = n->next) {
        if (!is_el(n, NS_WSMAN, "Option")) continue;
        char *name = attr(n, "Name");
        if (!name) continue;
        char *value = node_text(n);
        if (add_pair(c, &m->options, &m->n_options, strdup(name), value ? trim(value) : NULL) < 0) {
            free(name);
            return -1;
        }
        int rc = 0;
        if (strcmp(name, "protocolversion") == 0) {
            rc = take_text(c, &m->protocol_version, n, "protocolversion option");
        } else if (strcmp(name, "WINRS_NOPROFILE") == 0 ||
                   strcmp(name, "WSMAN_CMDSHELL_OPTION_KEEPALIVE") == 0) {
            char *v = node_text(n);
            if (!v) {
                rc = fail(c, "out of memory");
            } else if (strcmp(name, "WINRS_NOPROFILE") == 0) {
                m->no_profile = is_true(trim(v));
            } else {
                m->keep_alive = is_true(trim(v));
            }
            free(v);
        }
        free(name);
        if (rc < 0) return -1;
    }
    return 0;
}

static int parse_header(pctx *c, const xmlNode *header)
{
    etsn_wsman_msg *m = c->msg;
    for (xmlNode *n = header->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        int rc = 0;
        if (is_el(n, NS_ADDR, "Action")) {
            rc = take_text(c, &m->action_uri, n, "Action");
        } else if (is_el(n, NS_ADDR, "MessageID")) {
            rc = take_text(c, &m->message_id, n, "MessageID");
        } else if (is_el(n, NS_ADDR, "RelatesTo")) {
            rc = take_text(c, &m->relates_to, n, "RelatesTo");
        } else if (is_el(n, NS_ADDR, "To")) {
            rc = take_text(c, &m->to, n, "To");
        } else if (is_el(n, NS_WSMAN, "ResourceURI")) {
            rc = take_text(c, &m->resource_uri, n, "ResourceURI");
        } else if (is_el(n, NS_WSMAN, "MaxEnvelopeSize")) {
            char *t = node_text(n);
            if (!t) return fail(c, "out of memory");
            rc = parse_u32(trim(t), &m->max_envelope_size);
            if (rc < 0) fail(c, "bad MaxEnvelopeSize '%.40s'", t);
            free(t);
        } else if (is_el(n, NS_WSMAN, "OperationTimeout")) {
            char *t = node_text(n);
            if (!t) return fail(c, "out of memory");
            if (etsn_wsman_parse_duration(trim(t), &m->operation_timeout_ms) < 0) {
                m->operation_timeout_ms = 0;
                m->operation_timeout_invalid = true;
            }
            free(t);
        } else if (is_el(n, NS_WSMAN, "Locale")) {
            char *l = xml_lang(n);
            if (l) rc = take(c, &m->locale, l, "Locale");
        } else if (is_el(n, NS_WSMV, "DataLocale")) {
            char *l = xml_lang(n);
            if (l) rc = take(c, &m->data_locale, l, "DataLocale");
        } else if (is_el(n, NS_WSMAN, "SelectorSet")) {
            rc = parse_selectors(c, n);
        } else if (is_el(n, NS_WSMAN, "OptionSet")) {
            rc = parse_options(c, n);
        }
        /* Anything else (ReplyTo, SessionId, ActivityId, OperationID ...) is
         * not needed to act on the message. */
        if (rc < 0) return -1;
    }
    return 0;
}

/* Decodes the base64 text of n onto out. */
static int decode_into(pctx *c, const xmlNode *n, etsn_buf *out, const char *what)
{
    char *t = node_text(n);
    if (!t) return fail(c, "out of memory");
    int rc = etsn_base64_decode(t, strlen(t), out);
    free(t);
    return rc < 0 ? fail(c, "bad base64 in %s", what) : 0;
}

static int parse_create(pctx *c, const xmlNode *body)
{
    etsn_wsman_msg *m = c->msg;
    const xmlNode *shell = first_child(body, NS_SHELL, "Shell");
    if (!shell) return fail(c, "Create without rsp:Shell");
    char *sid = attr(shell, "ShellId");
    if (sid) {
        /* The selector is absent on Create; the requested id is here. */
        if (!m->shell_id)
            m->shell_id = trim(sid);
        else
            free(sid);
    }
    if (take_attr(c, &m->shell_name, shell, "Name", "Shell Name") < 0) return -1;
    for (xmlNode *n = shell->children; n; n = n->next) {
        int rc = 0;
        if (is_el(n, NS_SHELL, "InputStreams")) {
            rc = take_text(c, &m->input_streams, n, "InputStreams");
        } else if (is_el(n, NS_SHELL, "OutputStreams")) {
            rc = take_text(c, &m->output_streams, n, "OutputStreams");
        } else if (is_el(n, NS_SHELL, "Name") && !m->shell_name) {
            rc = take_text(c, &m->shell_name, n, "Shell Name");
        } else if (is_el(n, NS_PWSH, "creationXml")) {
            if (m->creation_xml.len) return fail(c, "duplicate creationXml");
            rc = decode_into(c, n, &m->creation_xml, "creationXml");
        } else if (is_el(n, NS_SHELL, "WorkingDirectory")) {
            rc = take_text(c, &m->working_directory, n, "WorkingDirectory");
        } else if (is_el(n, NS_SHELL, "IdleTimeOut")) {
            rc = take_text(c, &m->idle_timeout, n, "IdleTimeOut");
        } else if (is_el(n, NS_SHELL, "Environment")) {
            for (xmlNode *v = n->children; v && rc == 0; v = v->next)
                if (is_el(v, NS_SHELL, "Variable"))
                    rc = add_pair(c, &m->environment, &m->n_environment, attr(v, "Name"),
                                  node_text(v));
        }
        if (rc < 0) return -1;
    }
    return 0;
}

static int parse_create_response(pctx *c, const xmlNode *body)
{
    etsn_wsman_msg *m = c->msg;
    const xmlNode *rc_el = first_child(body, NS_TRANSFER, "ResourceCreated");
    if (rc_el) {
        const xmlNode *addr = first_child(rc_el, NS_ADDR, "Address");
        if (addr && take_text(c, &m->epr_address, addr, "Address") < 0) return -1;
        const xmlNode *ref = first_child(rc_el, NS_ADDR, "ReferenceParameters");
        const xmlNode *uri = first_child(ref, NS_WSMAN, "ResourceURI");
        if (uri && !m->resource_uri && take_text(c, &m->resource_uri, uri, "ResourceURI") < 0)
            return -1;
        const xmlNode *set = first_child(ref, NS_WSMAN, "SelectorSet");
        if (set && parse_selectors(c, set) < 0) return -1;
    }
    /* Newer WinRM also returns the shell's properties; older servers and some
     * peers only send one of the two, so either gives the ShellId. */
    const xmlNode *shell = first_child(body, NS_SHELL, "Shell");
    for (xmlNode *n = shell ? shell->children : NULL; n; n = n->next) {
        int rc = 0;
        if (is_el(n, NS_SHELL, "ShellId") && !m->shell_id) {
            rc = take_text(c, &m->shell_id, n, "ShellId");
        } else if (is_el(n, NS_SHELL, "ResourceUri") && !m->resource_uri) {
            rc = take_text(c, &m->resource_uri, n, "ResourceUri");
        } else if (is_el(n, NS_SHELL, "InputStreams")) {
            rc = take_text(c, &m->input_streams, n, "InputStreams");
        } else if (is_el(n, NS_SHELL, "OutputStreams")) {
            rc = take_text(c, &m->output_streams, n, "OutputStreams");
        } else if (is_el(n, NS_SHELL, "Name")) {
            rc = take_text(c, &m->shell_name, n, "Shell Name");
        }
        if (rc < 0) return -1;
    }
    if (!m->shell_id || !*m->shell_id) return fail(c, "CreateResponse without ShellId");
    return 0;
}

static int parse_command(pctx *c, const xmlNode *body)
{
    etsn_wsman_msg *m = c->msg;
    const xmlNode *cl = first_child(body, NS_SHELL, "CommandLine");
    if (!cl) return fail(c, "Command without rsp:CommandLine");
    if (take_attr(c, &m->command_id, cl, "CommandId", "CommandId") < 0) return -1;
    /* PSRP shells carry base64 PSRP fragments in Arguments; plain WinRS
     * shells (cmd) carry the command's argument text. */
    m->arguments_plain = m->resource_uri && strncmp(m->resource_uri, ETSN_PSRP_SHELL_PREFIX,
                                                    strlen(ETSN_PSRP_SHELL_PREFIX)) != 0;
    bool first_arg = true;
    for (xmlNode *n = cl->children; n; n = n->next) {
        if (is_el(n, NS_SHELL, "Command")) {
            char *t = node_text(n);
            if (take(c, &m->command_line, t, "rsp:Command") < 0) return -1;
        } else if (is_el(n, NS_SHELL, "Arguments")) {
            if (!m->arguments_plain) {
                if (decode_into(c, n, &m->arguments, "Arguments") < 0) return -1;
                continue;
            }
            char *t = node_text(n);
            if (!t) return fail(c, "out of memory");
            int rc = first_arg ? 0 : etsn_buf_append_byte(&m->arguments, ' ');
            if (rc == 0) rc = etsn_buf_append_str(&m->arguments, t);
            free(t);
            if (rc < 0) return fail(c, "out of memory");
            first_arg = false;
        }
    }
    return 0;
}

static int parse_stream(pctx *c, const xmlNode *n)
{
    etsn_wsman_msg *m = c->msg;
    if (m->n_streams >= SIZE_MAX / sizeof *m->streams / 2) return fail(c, "too many streams");
    etsn_wsman_stream *s = realloc(m->streams, (m->n_streams + 1) * sizeof *s);
    if (!s) return fail(c, "out of memory");
    m->streams = s;
    s = &m->streams[m->n_streams++];
    memset(s, 0, sizeof *s);
    s->name = attr(n, "Name");
    if (!s->name) return fail(c, "rsp:Stream without Name");
    trim(s->name);
    s->command_id = attr(n, "CommandId");
    if (s->command_id) trim(s->command_id);
    char *end = attr(n, "End");
    s->end = is_true(end ? trim(end) : NULL);
    free(end);
    etsn_buf data = ETSN_BUF_INIT;
    if (decode_into(c, n, &data, "rsp:Stream") < 0) {
        etsn_buf_free(&data);
        return -1;
    }
    s->len = data.len;
    s->data = (uint8_t *)etsn_buf_steal(&data);
    if (!s->data) return fail(c, "out of memory");
    return 0;
}

static int parse_streams(pctx *c, const xmlNode *parent)
{
    for (xmlNode *n = parent->children; n; n = n->next)
        if (is_el(n, NS_SHELL, "Stream") && parse_stream(c, n) < 0) return -1;
    return 0;
}

static int parse_receive(pctx *c, const xmlNode *body)
{
    etsn_wsman_msg *m = c->msg;
    const xmlNode *r = first_child(body, NS_SHELL, "Receive");
    if (!r) return fail(c, "Receive without rsp:Receive");
    char *seq = attr(r, "SequenceId");
    if (seq) {
        int rc = parse_u64(trim(seq), &m->sequence_id);
        free(seq);
        if (rc < 0) return fail(c, "bad SequenceId");
    }
    const xmlNode *ds = first_child(r, NS_SHELL, "DesiredStream");
    if (!ds) return fail(c, "Receive without rsp:DesiredStream");
    if (take_text(c, &m->desired_stream, ds, "DesiredStream") < 0) return -1;
    return take_attr(c, &m->command_id, ds, "CommandId", "CommandId");
}

static int parse_receive_response(pctx *c, const xmlNode *body)
{
    etsn_wsman_msg *m = c->msg;
    const xmlNode *r = first_child(body, NS_SHELL, "ReceiveResponse");
    if (!r) return fail(c, "ReceiveResponse without rsp:ReceiveResponse");
    if (parse_streams(c, r) < 0) return -1;
    const xmlNode *st = first_child(r, NS_SHELL, "CommandState");
    if (!st) return 0;
    if (take_attr(c, &m->command_state, st, "State", "State") < 0 ||
        take_attr(c, &m->command_state_id, st, "CommandId", "CommandState CommandId") < 0)
        return -1;
    const xmlNode *ec = first_child(st, NS_SHELL, "ExitCode");
    if (ec) {
        char *t = node_text(ec);
        if (!t) return fail(c, "out of memory");
        int rc = parse_i64(trim(t), &m->exit_code);
        free(t);
        if (rc < 0) return fail(c, "bad ExitCode");
        m->has_exit_code = true;
    }
    return 0;
}

static int parse_signal(pctx *c, const xmlNode *body)
{
    etsn_wsman_msg *m = c->msg;
    const xmlNode *s = first_child(body, NS_SHELL, "Signal");
    if (!s) return fail(c, "Signal without rsp:Signal");
    if (take_attr(c, &m->command_id, s, "CommandId", "CommandId") < 0) return -1;
    const xmlNode *code = first_child(s, NS_SHELL, "Code");
    if (!code) return fail(c, "Signal without rsp:Code");
    return take_text(c, &m->signal_code, code, "Signal Code");
}

/* Fault codes are QNames whose prefixes belong to the sender; they are
 * rewritten with the prefixes this project uses (s:, w:, a:) so callers can
 * compare them against "w:TimedOut" whatever the peer declared. */
static char *qname_canonical(const xmlNode *n)
{
    char *t = node_text(n);
    if (!t) return NULL;
    trim(t);
    char *colon = strchr(t, ':');
    const char *local = colon ? colon + 1 : t;
    if (colon) *colon = 0;
    xmlNs *ns = xmlSearchNs(n->doc, (xmlNode *)n, colon ? (const xmlChar *)t : NULL);
    const char *pfx = NULL;
    if (ns && ns->href) {
        const char *h = (const char *)ns->href;
        if (strcmp(h, NS_SOAP) == 0)
            pfx = "s";
        else if (strcmp(h, NS_WSMAN) == 0)
            pfx = "w";
        else if (strcmp(h, NS_ADDR) == 0)
            pfx = "a";
        else if (strcmp(h, NS_WSMV) == 0)
            pfx = "p";
        else if (strcmp(h, NS_SHELL) == 0)
            pfx = "rsp";
    }
    if (colon) *colon = ':';
    if (!pfx) return t; /* unknown namespace: keep the text as sent */
    size_t need = strlen(pfx) + 1 + strlen(local) + 1;
    char *out = malloc(need);
    if (out) snprintf(out, need, "%s:%s", pfx, local);
    free(t);
    return out;
}

static int parse_fault(pctx *c, const xmlNode *fault)
{
    etsn_wsman_msg *m = c->msg;
    const xmlNode *code = first_child(fault, NS_SOAP, "Code");
    const xmlNode *val = first_child(code, NS_SOAP, "Value");
    if (!val) return fail(c, "s:Fault without s:Code/s:Value");
    if (take(c, &m->fault_code, qname_canonical(val), "fault code") < 0) return -1;
    const xmlNode *sub = first_child(first_child(code, NS_SOAP, "Subcode"), NS_SOAP, "Value");
    if (sub && take(c, &m->fault_subcode, qname_canonical(sub), "fault subcode") < 0) return -1;
    const xmlNode *text = first_child(first_child(fault, NS_SOAP, "Reason"), NS_SOAP, "Text");
    if (text && take(c, &m->fault_reason, node_text(text), "fault reason") < 0) return -1;
    const xmlNode *wf = first_child(first_child(fault, NS_SOAP, "Detail"), NS_FAULT, "WSManFault");
    if (!wf) return 0;
    char *code_attr = attr(wf, "Code");
    if (code_attr) {
        int rc = parse_u32(trim(code_attr), &m->wsman_fault_code);
        free(code_attr);
        if (rc < 0) return fail(c, "bad WSManFault Code");
    }
    if (take_attr(c, &m->wsman_fault_machine, wf, "Machine", "Machine") < 0) return -1;
    /* The message may nest f:ProviderFault (and another WSManFault) around
     * the text; all of its text, in order, is what WinRM clients show. */
    const xmlNode *msgel = first_child(wf, NS_FAULT, "Message");
    if (msgel && take(c, &m->wsman_fault_message, node_text(msgel), "fault message") < 0) return -1;
    return 0;
}

static int parse_body(pctx *c, const xmlNode *body)
{
    etsn_wsman_msg *m = c->msg;
    const xmlNode *fault = first_child(body, NS_SOAP, "Fault");
    if (fault) {
        /* A fault is a fault whatever Action came with it. */
        m->action = ETSN_WSMAN_FAULT;
        return parse_fault(c, fault);
    }
    switch (m->action) {
    case ETSN_WSMAN_FAULT:
        return fail(c, "fault action without s:Fault");
    case ETSN_WSMAN_CREATE:
        return parse_create(c, body);
    case ETSN_WSMAN_CREATE_RESPONSE:
        return parse_create_response(c, body);
    case ETSN_WSMAN_COMMAND:
        return parse_command(c, body);
    case ETSN_WSMAN_COMMAND_RESPONSE: {
        const xmlNode *id =
            first_child(first_child(body, NS_SHELL, "CommandResponse"), NS_SHELL, "CommandId");
        if (!id) return fail(c, "CommandResponse without rsp:CommandId");
        return take_text(c, &m->command_id, id, "CommandId");
    }
    case ETSN_WSMAN_SEND: {
        const xmlNode *s = first_child(body, NS_SHELL, "Send");
        if (!s) return fail(c, "Send without rsp:Send");
        return parse_streams(c, s);
    }
    case ETSN_WSMAN_RECEIVE:
        return parse_receive(c, body);
    case ETSN_WSMAN_RECEIVE_RESPONSE:
        return parse_receive_response(c, body);
    case ETSN_WSMAN_SIGNAL:
        return parse_signal(c, body);
    default:
        return 0; /* Delete, empty responses, and actions we do not model */
    }
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_init(void)
{
    xmlInitParser();
}

int etsn_wsman_parse(const uint8_t *xml, size_t len, etsn_wsman_msg *msg, char *err, size_t errlen)
{
    pctx c = {msg, err, errlen};
    if (err && errlen) err[0] = 0;
    memset(msg, 0, sizeof *msg);
    if (!xml || len == 0) return fail(&c, "empty envelope");
    if (len > ETSN_WSMAN_MAX_ENVELOPE)
        return fail(&c, "envelope of %zu bytes exceeds the %u byte limit", len,
                    ETSN_WSMAN_MAX_ENVELOPE);
    pthread_once(&xml_once, xml_init);

    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) return fail(&c, "out of memory");
    /* NONET: never fetch anything; no NOENT/DTDLOAD, so entities are not
     * substituted nor external subsets loaded. */
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, (const char *)xml, (int)len, NULL, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                          XML_PARSE_NOCDATA);
    int rc = -1;
    if (!doc) {
        const char *why = ctxt->lastError.message ? ctxt->lastError.message : "not XML\n";
        fail(&c, "malformed XML (line %d): %.*s", ctxt->lastError.line, (int)strcspn(why, "\n"),
             why);
        goto out;
    }
    /* SOAP forbids a DTD, and refusing one rules out entity expansion tricks
     * when text content is read later. */
    if (doc->intSubset || doc->extSubset) {
        fail(&c, "DOCTYPE not allowed in a SOAP envelope");
        goto out;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!is_el(root, NS_SOAP, "Envelope")) {
        fail(&c, "root is not a SOAP 1.2 Envelope");
        goto out;
    }
    xmlNode *header = NULL, *body = NULL;
    for (xmlNode *n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (is_el(n, NS_SOAP, "Header") && !header && !body) {
            header = n;
        } else if (is_el(n, NS_SOAP, "Body") && !body) {
            body = n;
        } else {
            fail(&c, "unexpected element <%s> in Envelope", (const char *)n->name);
            goto out;
        }
    }
    if (!body) {
        fail(&c, "envelope has no Body");
        goto out;
    }
    if (header && parse_header(&c, header) < 0) goto out;
    if (msg->action_uri) {
        for (size_t i = 0; i < sizeof action_table / sizeof action_table[0]; i++)
            if (strcmp(msg->action_uri, action_table[i].uri) == 0)
                msg->action = action_table[i].action;
    } else if (!first_child(body, NS_SOAP, "Fault")) {
        fail(&c, "envelope has no Action");
        goto out;
    }
    if (parse_body(&c, body) < 0) goto out;
    rc = 0;
out:
    if (doc) xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    if (rc < 0) etsn_wsman_msg_free(msg);
    return rc;
}

void etsn_wsman_msg_free(etsn_wsman_msg *m)
{
    if (!m) return;
    char **strs[] = {
        &m->action_uri,          &m->message_id,       &m->relates_to,    &m->to,
        &m->resource_uri,        &m->shell_id,         &m->command_id,    &m->locale,
        &m->data_locale,         &m->protocol_version, &m->input_streams, &m->output_streams,
        &m->shell_name,          &m->desired_stream,   &m->command_state, &m->command_state_id,
        &m->signal_code,         &m->fault_code,       &m->fault_subcode, &m->fault_reason,
        &m->wsman_fault_message, &m->command_line,     &m->epr_address,   &m->wsman_fault_machine};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) free(*strs[i]);
    /* creationXml and Arguments carry PSRP fragments, which may hold session
     * key material; wipe them. */
    etsn_buf_free_secure(&m->creation_xml);
    etsn_buf_free_secure(&m->arguments);
    for (size_t i = 0; i < m->n_streams; i++) {
        free(m->streams[i].name);
        free(m->streams[i].command_id);
        if (m->streams[i].data) etsn_secure_zero(m->streams[i].data, m->streams[i].len);
        free(m->streams[i].data);
    }
    free(m->streams);
    for (size_t i = 0; i < m->n_options; i++) {
        free(m->options[i].name);
        free(m->options[i].value);
    }
    free(m->options);
    for (size_t i = 0; i < m->n_environment; i++) {
        free(m->environment[i].name);
        free(m->environment[i].value);
    }
    free(m->environment);
    free(m->working_directory);
    free(m->idle_timeout);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------ */
/* building                                                                  */

static int esc(etsn_buf *b, const char *s)
{
    return etsn_buf_append_xml_escaped(b, s, strlen(s));
}

/* Appends <tag attrs>escaped text</tag>. */
static int el_text(etsn_buf *b, const char *open, const char *text, const char *close)
{
    /* Sequenced on purpose: the operands of | have no evaluation order. */
    if (etsn_buf_append_str(b, open) < 0 || esc(b, text) < 0) return -1;
    return etsn_buf_append_str(b, close);
}

static int msgid_append(etsn_buf *b, const char *id)
{
    /* Callers may hand either "uuid:GUID" or the bare GUID. */
    if (strncmp(id, "uuid:", 5) != 0 && etsn_buf_append_str(b, "uuid:") < 0) return -1;
    return esc(b, id);
}

static int request_head(etsn_buf *out, const etsn_wsman_header *h, const char *action,
                        bool with_shell)
{
    etsn_buf_reset(out);
    if (!h || !h->to || !h->resource_uri || !h->message_id) return -1;
    if (with_shell && !h->shell_id) return -1;
    int rc = 0;
    rc |= etsn_buf_append_str(out, "<s:Envelope xmlns:s=\"" NS_SOAP "\" xmlns:a=\"" NS_ADDR
                                   "\" xmlns:w=\"" NS_WSMAN "\" xmlns:p=\"" NS_WSMV
                                   "\" xmlns:rsp=\"" NS_SHELL "\"><s:Header>");
    rc |= el_text(out, "<a:To>", h->to, "</a:To>");
    rc |= el_text(out, "<w:ResourceURI s:mustUnderstand=\"true\">", h->resource_uri,
                  "</w:ResourceURI>");
    rc |= etsn_buf_append_str(out, "<a:ReplyTo><a:Address s:mustUnderstand=\"true\">" ANONYMOUS
                                   "</a:Address></a:ReplyTo>");
    rc |= etsn_buf_printf(out, "<a:Action s:mustUnderstand=\"true\">%s</a:Action>", action);
    if (h->max_envelope_size)
        rc |= etsn_buf_printf(
            out, "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">%" PRIu32 "</w:MaxEnvelopeSize>",
            h->max_envelope_size);
    rc |= etsn_buf_append_str(out, "<a:MessageID>");
    rc |= msgid_append(out, h->message_id);
    rc |= etsn_buf_append_str(out, "</a:MessageID>");
    if (h->locale)
        rc |= el_text(out, "<w:Locale xml:lang=\"", h->locale, "\" s:mustUnderstand=\"false\"/>");
    if (h->data_locale)
        rc |= el_text(out, "<p:DataLocale xml:lang=\"", h->data_locale,
                      "\" s:mustUnderstand=\"false\"/>");
    if (h->operation_timeout_ms)
        rc |= etsn_buf_printf(
            out, "<w:OperationTimeout>PT%" PRIu32 ".%03" PRIu32 "S</w:OperationTimeout>",
            h->operation_timeout_ms / 1000, h->operation_timeout_ms % 1000);
    if (with_shell)
        rc |= el_text(out, "<w:SelectorSet><w:Selector Name=\"ShellId\">", h->shell_id,
                      "</w:Selector></w:SelectorSet>");
    return rc ? -1 : 0;
}

static int finish(etsn_buf *out, int rc)
{
    if (rc) {
        etsn_buf_reset(out);
        return -1;
    }
    return 0;
}

int etsn_wsman_build_create(etsn_buf *out, const etsn_wsman_header *h, const char *shell_id,
                            const char *protocol_version, bool no_profile,
                            const uint8_t *creation_xml, size_t creation_len)
{
    if (!shell_id || (!creation_xml && creation_len)) return finish(out, -1);
    int rc = request_head(out, h, ACT_CREATE, false);
    if (rc) return finish(out, rc);
    if (protocol_version || no_profile) {
        rc |= etsn_buf_append_str(out, "<w:OptionSet s:mustUnderstand=\"true\">");
        if (protocol_version)
            rc |= el_text(out, "<w:Option Name=\"protocolversion\" MustComply=\"true\">",
                          protocol_version, "</w:Option>");
        if (no_profile)
            rc |= etsn_buf_append_str(
                out, "<w:Option Name=\"WINRS_NOPROFILE\" MustComply=\"true\">TRUE</w:Option>");
        rc |= etsn_buf_append_str(out, "</w:OptionSet>");
    }
    rc |= el_text(out, "</s:Header><s:Body><rsp:Shell ShellId=\"", shell_id, "\">");
    rc |= etsn_buf_append_str(out, "<rsp:InputStreams>stdin pr</rsp:InputStreams>"
                                   "<rsp:OutputStreams>stdout</rsp:OutputStreams>"
                                   "<creationXml xmlns=\"" NS_PWSH "\">");
    rc |= etsn_base64_encode(creation_xml, creation_len, out);
    rc |= etsn_buf_append_str(out, "</creationXml></rsp:Shell></s:Body></s:Envelope>");
    return finish(out, rc);
}

int etsn_wsman_build_command(etsn_buf *out, const etsn_wsman_header *h, const char *command_id,
                             const uint8_t *arguments, size_t arguments_len)
{
    if (!command_id || (!arguments && arguments_len)) return finish(out, -1);
    int rc = request_head(out, h, ACT_COMMAND, true);
    if (rc) return finish(out, rc);
    /* PowerShell's own client puts (part of) the script text in rsp:Command
     * for display only; pypsrp sends it empty and WinRM accepts that. */
    rc |= el_text(out, "</s:Header><s:Body><rsp:CommandLine CommandId=\"", command_id,
                  "\"><rsp:Command></rsp:Command><rsp:Arguments>");
    rc |= etsn_base64_encode(arguments, arguments_len, out);
    rc |= etsn_buf_append_str(out, "</rsp:Arguments></rsp:CommandLine></s:Body></s:Envelope>");
    return finish(out, rc);
}

int etsn_wsman_build_send(etsn_buf *out, const etsn_wsman_header *h, const char *command_id,
                          const char *stream, const uint8_t *data, size_t len)
{
    if (!data && len) return finish(out, -1);
    int rc = request_head(out, h, ACT_SEND, true);
    if (rc) return finish(out, rc);
    rc |= el_text(out, "</s:Header><s:Body><rsp:Send><rsp:Stream Name=\"",
                  stream ? stream : "stdin", "\"");
    if (command_id) rc |= el_text(out, " CommandId=\"", command_id, "\"");
    rc |= etsn_buf_append_str(out, ">");
    rc |= etsn_base64_encode(data, len, out);
    rc |= etsn_buf_append_str(out, "</rsp:Stream></rsp:Send></s:Body></s:Envelope>");
    return finish(out, rc);
}

int etsn_wsman_build_receive(etsn_buf *out, const etsn_wsman_header *h, const char *command_id,
                             const char *stream, uint64_t sequence_id)
{
    int rc = request_head(out, h, ACT_RECEIVE, true);
    if (rc) return finish(out, rc);
    /* KEEPALIVE keeps the shell from idling out while Receives are
     * outstanding; Windows clients send it on every Receive. */
    rc |= etsn_buf_append_str(out, "<w:OptionSet s:mustUnderstand=\"true\"><w:Option "
                                   "Name=\"WSMAN_CMDSHELL_OPTION_KEEPALIVE\">TRUE</w:Option>"
                                   "</w:OptionSet>");
    rc |= etsn_buf_printf(
        out, "</s:Header><s:Body><rsp:Receive SequenceId=\"%" PRIu64 "\"><rsp:DesiredStream",
        sequence_id);
    if (command_id) rc |= el_text(out, " CommandId=\"", command_id, "\"");
    rc |= el_text(out, ">", stream ? stream : "stdout",
                  "</rsp:DesiredStream></rsp:Receive></s:Body></s:Envelope>");
    return finish(out, rc);
}

int etsn_wsman_build_signal(etsn_buf *out, const etsn_wsman_header *h, const char *command_id,
                            const char *code)
{
    if (!code) return finish(out, -1);
    int rc = request_head(out, h, ACT_SIGNAL, true);
    if (rc) return finish(out, rc);
    rc |= etsn_buf_append_str(out, "</s:Header><s:Body><rsp:Signal");
    if (command_id) rc |= el_text(out, " CommandId=\"", command_id, "\"");
    rc |= el_text(out, "><rsp:Code>", code, "</rsp:Code></rsp:Signal></s:Body></s:Envelope>");
    return finish(out, rc);
}

int etsn_wsman_build_delete(etsn_buf *out, const etsn_wsman_header *h)
{
    int rc = request_head(out, h, ACT_DELETE, true);
    if (rc) return finish(out, rc);
    rc |= etsn_buf_append_str(out, "</s:Header><s:Body/></s:Envelope>");
    return finish(out, rc);
}

int etsn_wsman_build_get(etsn_buf *out, const etsn_wsman_header *h)
{
    int rc = request_head(out, h, ACT_GET, false);
    if (rc) return finish(out, rc);
    rc |= etsn_buf_append_str(out, "</s:Header><s:Body/></s:Envelope>");
    return finish(out, rc);
}

/* A fresh random (version 4) GUID in upper case, as WinRM's MessageIDs. */
static int new_guid(char out[37])
{
    uint8_t u[16];
    if (RAND_bytes(u, sizeof u) != 1) return -1;
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
    return 0;
}

/* Response header in WinRM's layout: To is always the anonymous role since
 * the reply travels back on the HTTP response. */
static int response_head(etsn_buf *out, const char *action, const char *relates_to)
{
    etsn_buf_reset(out);
    char guid[37];
    if (new_guid(guid) < 0) return -1;
    int rc = 0;
    rc |= etsn_buf_append_str(out, "<s:Envelope xml:lang=\"en-US\" xmlns:s=\"" NS_SOAP
                                   "\" xmlns:a=\"" NS_ADDR "\" xmlns:x=\"" NS_TRANSFER
                                   "\" xmlns:w=\"" NS_WSMAN "\" xmlns:rsp=\"" NS_SHELL
                                   "\" xmlns:p=\"" NS_WSMV "\"><s:Header>");
    rc |= etsn_buf_printf(out,
                          "<a:Action>%s</a:Action><a:MessageID>uuid:%s</a:MessageID>"
                          "<a:To>" ANONYMOUS "</a:To>",
                          action, guid);
    if (relates_to) {
        rc |= etsn_buf_append_str(out, "<a:RelatesTo>");
        rc |= msgid_append(out, relates_to);
        rc |= etsn_buf_append_str(out, "</a:RelatesTo>");
    }
    rc |= etsn_buf_append_str(out, "</s:Header><s:Body>");
    return rc ? -1 : 0;
}

static int tail(etsn_buf *out, int rc)
{
    if (!rc) rc = etsn_buf_append_str(out, "</s:Body></s:Envelope>");
    return finish(out, rc);
}

int etsn_wsman_build_create_response(etsn_buf *out, const char *relates_to, const char *to,
                                     const char *resource_uri, const char *shell_id)
{
    if (!to || !resource_uri || !shell_id) return finish(out, -1);
    int rc = response_head(out, ACT_CREATE "Response", relates_to);
    if (rc) return finish(out, rc);
    rc |= el_text(out, "<x:ResourceCreated><a:Address>", to, "</a:Address>");
    rc |= el_text(out, "<a:ReferenceParameters><w:ResourceURI>", resource_uri, "</w:ResourceURI>");
    rc |= el_text(out, "<w:SelectorSet><w:Selector Name=\"ShellId\">", shell_id,
                  "</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>");
    rc |= el_text(out, "<rsp:Shell><rsp:ShellId>", shell_id, "</rsp:ShellId>");
    rc |= el_text(out, "<rsp:ResourceUri>", resource_uri, "</rsp:ResourceUri>");
    rc |= etsn_buf_append_str(out, "<rsp:InputStreams>stdin pr</rsp:InputStreams>"
                                   "<rsp:OutputStreams>stdout</rsp:OutputStreams>"
                                   "<rsp:State>Connected</rsp:State></rsp:Shell>");
    return tail(out, rc);
}

int etsn_wsman_build_command_response(etsn_buf *out, const char *relates_to, const char *command_id)
{
    if (!command_id) return finish(out, -1);
    int rc = response_head(out, ACT_COMMAND "Response", relates_to);
    if (rc) return finish(out, rc);
    rc |= el_text(out, "<rsp:CommandResponse><rsp:CommandId>", command_id,
                  "</rsp:CommandId></rsp:CommandResponse>");
    return tail(out, rc);
}

int etsn_wsman_build_send_response(etsn_buf *out, const char *relates_to)
{
    int rc = response_head(out, ACT_SEND "Response", relates_to);
    if (!rc) rc = etsn_buf_append_str(out, "<rsp:SendResponse/>");
    return tail(out, rc);
}

static int receive_response(etsn_buf *out, const char *relates_to, const etsn_wsman_stream *streams,
                            size_t n_streams, const char *command_id, const char *command_state,
                            int64_t exit_code)
{
    if (!streams && n_streams) return finish(out, -1);
    int rc = response_head(out, ACT_RECEIVE "Response", relates_to);
    if (rc) return finish(out, rc);
    rc |= etsn_buf_append_str(out, "<rsp:ReceiveResponse>");
    for (size_t i = 0; i < n_streams && !rc; i++) {
        const etsn_wsman_stream *s = &streams[i];
        if (!s->data && s->len) return finish(out, -1);
        rc |= el_text(out, "<rsp:Stream Name=\"", s->name ? s->name : "stdout", "\"");
        if (s->command_id) rc |= el_text(out, " CommandId=\"", s->command_id, "\"");
        if (s->end) rc |= etsn_buf_append_str(out, " End=\"true\"");
        rc |= etsn_buf_append_str(out, ">");
        rc |= etsn_base64_encode(s->data, s->len, out);
        rc |= etsn_buf_append_str(out, "</rsp:Stream>");
    }
    if (command_state) {
        rc |= etsn_buf_append_str(out, "<rsp:CommandState");
        if (command_id) rc |= el_text(out, " CommandId=\"", command_id, "\"");
        rc |= el_text(out, " State=\"", command_state, "\">");
        if (strcmp(command_state, ETSN_COMMAND_STATE_DONE) == 0)
            rc |= etsn_buf_printf(out, "<rsp:ExitCode>%" PRId64 "</rsp:ExitCode>", exit_code);
        rc |= etsn_buf_append_str(out, "</rsp:CommandState>");
    }
    rc |= etsn_buf_append_str(out, "</rsp:ReceiveResponse>");
    return tail(out, rc);
}

int etsn_wsman_build_receive_response(etsn_buf *out, const char *relates_to,
                                      const etsn_wsman_stream *streams, size_t n_streams,
                                      const char *command_id, const char *command_state)
{
    /* WinRM reports exit code 0 with every Done state of a PSRP pipeline. */
    return receive_response(out, relates_to, streams, n_streams, command_id, command_state, 0);
}

int etsn_wsman_build_receive_response_exit(etsn_buf *out, const char *relates_to,
                                           const etsn_wsman_stream *streams, size_t n_streams,
                                           const char *command_id, const char *command_state,
                                           int64_t exit_code)
{
    return receive_response(out, relates_to, streams, n_streams, command_id, command_state,
                            exit_code);
}

static int opt_el(etsn_buf *out, const char *open, const char *text, const char *close)
{
    return text ? el_text(out, open, text, close) : 0;
}

int etsn_wsman_build_shell_create_response(etsn_buf *out, const char *relates_to, const char *to,
                                           const etsn_wsman_shell_info *in)
{
    if (!to || !in || !in->shell_id || !in->resource_uri) return finish(out, -1);
    int rc = response_head(out, ACT_CREATE "Response", relates_to);
    if (rc) return finish(out, rc);
    rc |= el_text(out, "<x:ResourceCreated><a:Address>", to, "</a:Address>");
    rc |= el_text(out, "<a:ReferenceParameters><w:ResourceURI>", in->resource_uri,
                  "</w:ResourceURI>");
    rc |= el_text(out, "<w:SelectorSet><w:Selector Name=\"ShellId\">", in->shell_id,
                  "</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>");
    /* WinRM declares rsp again on the Shell element (test recordings). */
    rc |= el_text(out, "<rsp:Shell xmlns:rsp=\"" NS_SHELL "\"><rsp:ShellId>", in->shell_id,
                  "</rsp:ShellId>");
    rc |= el_text(out, "<rsp:ResourceUri>", in->resource_uri, "</rsp:ResourceUri>");
    rc |= opt_el(out, "<rsp:Owner>", in->owner, "</rsp:Owner>");
    rc |= opt_el(out, "<rsp:ClientIP>", in->client_ip, "</rsp:ClientIP>");
    if (in->n_environment) {
        rc |= etsn_buf_append_str(out, "<rsp:Environment>");
        for (size_t i = 0; i < in->n_environment; i++) {
            rc |= el_text(out, "<rsp:Variable Name=\"", in->environment[i].name, "\">");
            rc |= el_text(out, "", in->environment[i].value, "</rsp:Variable>");
        }
        rc |= etsn_buf_append_str(out, "</rsp:Environment>");
    }
    rc |= opt_el(out, "<rsp:WorkingDirectory>", in->working_directory, "</rsp:WorkingDirectory>");
    rc |= opt_el(out, "<rsp:IdleTimeOut>", in->idle_timeout, "</rsp:IdleTimeOut>");
    rc |= opt_el(out, "<rsp:InputStreams>", in->input_streams, "</rsp:InputStreams>");
    rc |= opt_el(out, "<rsp:OutputStreams>", in->output_streams, "</rsp:OutputStreams>");
    rc |= opt_el(out, "<rsp:ShellRunTime>", in->shell_run_time, "</rsp:ShellRunTime>");
    rc |= opt_el(out, "<rsp:ShellInactivity>", in->shell_inactivity, "</rsp:ShellInactivity>");
    rc |= etsn_buf_append_str(out, "</rsp:Shell>");
    return tail(out, rc);
}

int etsn_wsman_build_signal_response(etsn_buf *out, const char *relates_to)
{
    int rc = response_head(out, ACT_SIGNAL "Response", relates_to);
    if (!rc) rc = etsn_buf_append_str(out, "<rsp:SignalResponse/>");
    return tail(out, rc);
}

int etsn_wsman_build_delete_response(etsn_buf *out, const char *relates_to)
{
    return tail(out, response_head(out, ACT_DELETE "Response", relates_to));
}

int etsn_wsman_build_get_config_response(etsn_buf *out, const char *relates_to,
                                         uint32_t max_envelope_kb, uint32_t max_timeout_ms)
{
    int rc = response_head(out, ACT_GET "Response", relates_to);
    if (!rc)
        rc = etsn_buf_printf(out,
                             "<cfg:Config xmlns:cfg=\"" ETSN_WSMAN_CONFIG_URI "\">"
                             "<cfg:MaxEnvelopeSizekb>%u</cfg:MaxEnvelopeSizekb>"
                             "<cfg:MaxTimeoutms>%u</cfg:MaxTimeoutms>"
                             "<cfg:MaxBatchItems>32000</cfg:MaxBatchItems>"
                             "<cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>"
                             "</cfg:Config>",
                             max_envelope_kb, max_timeout_ms);
    return tail(out, rc);
}

int etsn_wsman_build_fault(etsn_buf *out, const char *relates_to, const char *code,
                           const char *subcode, uint32_t wsman_code, const char *machine,
                           const char *message)
{
    etsn_wsman_fault f = {.code = code,
                          .subcode = subcode,
                          .reason = message,
                          .wsman_code = wsman_code,
                          .machine = machine,
                          .message = message};
    return etsn_wsman_build_fault_full(out, relates_to, &f);
}

int etsn_wsman_build_fault_full(etsn_buf *out, const char *relates_to, const etsn_wsman_fault *f)
{
    if (!f) return finish(out, -1);
    const char *code = f->code ? f->code : "s:Receiver";
    const char *subcode = f->subcode;
    const char *message = f->message ? f->message : "";
    const char *reason = f->reason ? f->reason : message;
    const char *machine = f->machine;
    uint32_t wsman_code = f->wsman_code;
    /* Bare names get the prefixes this envelope declares: SOAP codes are
     * s:Sender/s:Receiver, subcodes are WS-Man's (w:TimedOut ...). */
    bool code_bare = !strchr(code, ':');
    bool sub_bare = subcode && !strchr(subcode, ':');
    /* WinRM uses the WS-Addressing fault action for WS-Addressing subcodes. */
    const char *action =
        subcode && strncmp(subcode, "a:", 2) == 0 ? ACT_FAULT_ADDR : ACT_FAULT_WSMAN;
    int rc = response_head(out, action, relates_to);
    if (rc) return finish(out, rc);
    rc |= el_text(out, code_bare ? "<s:Fault><s:Code><s:Value>s:" : "<s:Fault><s:Code><s:Value>",
                  code, "</s:Value>");
    if (subcode)
        rc |= el_text(out, sub_bare ? "<s:Subcode><s:Value>w:" : "<s:Subcode><s:Value>", subcode,
                      "</s:Value></s:Subcode>");
    rc |= el_text(out, "</s:Code><s:Reason><s:Text xml:lang=\"en-US\">", reason,
                  "</s:Text></s:Reason><s:Detail>");
    rc |= opt_el(out, "<w:FaultDetail>", f->fault_detail, "</w:FaultDetail>");
    rc |= etsn_buf_printf(out, "<f:WSManFault xmlns:f=\"" NS_FAULT "\" Code=\"%" PRIu32 "\"",
                          wsman_code);
    if (machine) rc |= el_text(out, " Machine=\"", machine, "\"");
    rc |= etsn_buf_append_str(out, "><f:Message>");
    if (f->provider) {
        rc |= el_text(out, "<f:ProviderFault provider=\"", f->provider, "\"");
        rc |= el_text(out, " path=\"", f->provider_path ? f->provider_path : "", "\">");
        rc |= el_text(out, "", message, "</f:ProviderFault>");
    } else {
        rc |= esc(out, message);
    }
    rc |= etsn_buf_append_str(out, "</f:Message></f:WSManFault></s:Detail></s:Fault>");
    return tail(out, rc);
}
