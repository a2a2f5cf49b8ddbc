/* Recorded WinRS cmd shell -> <winrs-command> elements (replay_winrs.h).
 * Commands are found by the CommandId the recorded server chose (its
 * CommandResponse); their output comes from the recorded
 * ReceiveResponses' rsp:Stream elements, which the transcript keeps as
 * <etsn:text> or <etsn:bytes> (ref/core/transcript.c), and their end from
 * rsp:CommandState Done with rsp:ExitCode (the ReceiveResponse). */
#include "replay_winrs.h"

#include "../ref/core/base64.h"
#include "fixture.h"
#include "winrs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define MAX_WINRS_COMMANDS 100000

typedef struct {
    char *id;     /* the recorded CommandId */
    char *line;   /* the command line, normalized as winrs.c matches it */
    char *script; /* powershell -EncodedCommand's script, or NULL */
    unsigned run;
    etsn_buf steps; /* XML */
    bool signalled, done;
} wrcmd;

struct mock_replay_winrs {
    wrcmd *c;
    size_t n;
    unsigned codepage;
    bool created, deleted, ctrl_c, terminate;
    size_t refused; /* unknown ShellId/CommandId faults */
};

static wrcmd *find_cmd(mock_replay_winrs *w, const char *id)
{
    for (size_t i = w->n; id && i-- > 0;)
        if (!strcasecmp(w->c[i].id, id)) return &w->c[i];
    return NULL;
}

static bool same_command(const wrcmd *a, const wrcmd *b)
{
    if (!a->script != !b->script) return false;
    return a->script ? fx_command_equal(a->script, b->script) : !strcasecmp(a->line, b->line);
}

static int command(mock_replay_winrs *w, const etsn_transcript_record *rec)
{
    const char *id = rec->has_response ? rec->response.command_id : NULL;
    if (!id || rec->status != 200 || w->n >= MAX_WINRS_COMMANDS) return 0;
    wrcmd *grown = realloc(w->c, (w->n + 1) * sizeof *grown);
    if (!grown) return -1;
    w->c = grown;
    wrcmd *c = &w->c[w->n];
    memset(c, 0, sizeof *c);
    c->id = strdup(id);
    c->line = mock_winrs_command_line(rec->request.command_line,
                                      (const char *)rec->request.arguments.data);
    if (!c->id || !c->line) {
        free(c->id);
        free(c->line);
        return -1;
    }
    c->script = mock_winrs_encoded_script(c->line);
    for (size_t i = 0; i < w->n; i++)
        if (same_command(&w->c[i], c)) c->run = w->c[i].run;
    c->run++;
    w->n++;
    return 0;
}

static bool is_shell_el(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns &&
           !strcmp((const char *)n->ns->href, ETSN_WSMAN_SHELL_NS) &&
           !strcmp((const char *)n->name, name);
}

static bool is_etsn_el(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns &&
           !strcmp((const char *)n->ns->href, ETSN_TRANSCRIPT_NS) &&
           !strcmp((const char *)n->name, name);
}

/* One recorded rsp:Stream: its bytes as a step of its command. */
static void stream(mock_replay_winrs *w, const xmlNode *n, const char *cmd_id)
{
    xmlChar *id = xmlGetProp(n, (const xmlChar *)"CommandId");
    xmlChar *name = xmlGetProp(n, (const xmlChar *)"Name");
    wrcmd *c = find_cmd(w, id ? (const char *)id : cmd_id);
    etsn_buf bytes = ETSN_BUF_INIT, b64 = ETSN_BUF_INIT;
    for (const xmlNode *ch = n->children; c && name && ch; ch = ch->next) {
        xmlChar *t =
            is_etsn_el(ch, "text") || is_etsn_el(ch, "bytes") ? xmlNodeGetContent(ch) : NULL;
        if (!t) continue;
        if (is_etsn_el(ch, "text"))
            etsn_buf_append_str(&bytes, (const char *)t);
        else
            etsn_base64_decode((const char *)t, strlen((const char *)t), &bytes);
        xmlFree(t);
    }
    if (c && bytes.len && etsn_base64_encode(bytes.data, bytes.len, &b64) == 0) {
        const char *el = !strcmp((const char *)name, "stderr") ? "stderr" : "stdout";
        etsn_buf_printf(&c->steps, "    <%s encoding=\"base64\">%.*s</%s>\n", el, (int)b64.len,
                        (const char *)b64.data, el);
    }
    etsn_buf_free_secure(&bytes);
    etsn_buf_free(&b64);
    xmlFree(id);
    xmlFree(name);
}

static void walk_receive(mock_replay_winrs *w, const xmlNode *n, const char *cmd_id, int depth)
{
    for (; n && depth < 32; n = n->next) {
        if (is_shell_el(n, "Stream")) {
            stream(w, n, cmd_id);
        } else if (n->type == XML_ELEMENT_NODE) {
            walk_receive(w, n->children, cmd_id, depth + 1);
        }
    }
}

static void receive(mock_replay_winrs *w, const etsn_transcript_record *rec)
{
    const etsn_wsman_msg *q = &rec->request, *r = &rec->response;
    wrcmd *c = find_cmd(w, q->command_id);
    if (c && rec->has_response && r->action == ETSN_WSMAN_FAULT && r->fault_subcode &&
        strstr(r->fault_subcode, "TimedOut")) {
        /* Nothing came within OperationTimeout: the command was quiet that long. */
        etsn_buf_printf(&c->steps, "    <sleep ms=\"%.0f\"/>\n", rec->duration_ms);
        return;
    }
    if (!rec->response_xml) return;
    xmlDocPtr doc = xmlReadMemory(rec->response_xml, (int)rec->response_xml_len, NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    if (!doc) return;
    walk_receive(w, xmlDocGetRootElement(doc), q->command_id, 0);
    xmlFreeDoc(doc);
    const char *state = r->command_state;
    wrcmd *done = find_cmd(w, r->command_state_id ? r->command_state_id : q->command_id);
    if (done && !done->done && state && strstr(state, "CommandState/Done")) {
        done->done = true;
        etsn_buf_printf(&done->steps, "    <exit code=\"%" PRId64 "\"/>\n",
                        r->has_exit_code ? r->exit_code : 0);
    }
}

static void signal_(mock_replay_winrs *w, const etsn_transcript_record *rec)
{
    const char *code = rec->request.signal_code;
    if (!code) return;
    if (!strcasecmp(code, ETSN_SIGNAL_TERMINATE)) w->terminate = true;
    /* WinRS's Ctrl+C is .../windows/shell/signal/ctrl_c (MS-WSMV 2.2.4.38);
     * winrs.c takes the last path segment the same way. */
    const char *slash = strrchr(code, '/');
    if (!slash || strcasecmp(slash + 1, "ctrl_c") != 0) return;
    w->ctrl_c = true;
    wrcmd *c = find_cmd(w, rec->request.command_id);
    if (c && !c->done && !c->signalled) {
        c->signalled = true;
        /* The exit code after Ctrl+C is the recorded one (<exit> follows). */
        etsn_buf_append_str(&c->steps, "    <wait-signal/>\n");
    }
}

int mock_replay_winrs_add(mock_replay_winrs **wp, const etsn_transcript_record *rec)
{
    const etsn_wsman_msg *q = &rec->request;
    if (!rec->has_request || !q->resource_uri || strcasecmp(q->resource_uri, MOCK_WINRS_URI))
        return 0;
    if (!*wp && !(*wp = calloc(1, sizeof **wp))) return -1;
    mock_replay_winrs *w = *wp;
    const etsn_wsman_msg *r = &rec->response;
    if (rec->has_response && r->action == ETSN_WSMAN_FAULT && r->fault_subcode &&
        strstr(r->fault_subcode, "InvalidSelectors"))
        w->refused++;
    switch (q->action) {
    case ETSN_WSMAN_CREATE: {
        const char *cp = etsn_wsman_option_value(q, "WINRS_CODEPAGE");
        if (rec->status == 200) w->created = true;
        if (cp && !w->codepage) w->codepage = (unsigned)strtoul(cp, NULL, 10);
        break;
    }
    case ETSN_WSMAN_COMMAND:
        return command(w, rec) < 0 ? -1 : 1;
    case ETSN_WSMAN_RECEIVE:
        receive(w, rec);
        break;
    case ETSN_WSMAN_SIGNAL:
        signal_(w, rec);
        break;
    case ETSN_WSMAN_DELETE:
        if (rec->status == 200) w->deleted = true;
        break;
    default:
        break;
    }
    return 1;
}

void mock_replay_winrs_commands(const mock_replay_winrs *w, etsn_buf *b)
{
    for (size_t i = 0; w && i < w->n; i++) {
        const wrcmd *c = &w->c[i];
        etsn_buf_append_str(b, "  <winrs-command");
        mock_replay_attr(b, c->script ? "powershell" : "command", c->script ? c->script : c->line);
        etsn_buf_printf(b, " run=\"%u\">\n", c->run);
        if (c->steps.len) etsn_buf_append(b, c->steps.data, c->steps.len);
        /* Never seen to end: it runs until the live client signals. */
        if (!c->done && !c->signalled) etsn_buf_append_str(b, "    <wait-signal/>\n");
        etsn_buf_append_str(b, "  </winrs-command>\n");
    }
}

size_t mock_replay_winrs_expects(const mock_replay_winrs *w, etsn_buf *b)
{
    if (!w) return 0;
    char id[64];
    if (w->created)
        mock_replay_expect(b, "winrs-shell-created", "the recorded client made a shell");
    if (w->created && w->codepage) {
        snprintf(id, sizeof id, "winrs-codepage:%u", w->codepage);
        mock_replay_expect(b, id, "the recorded client asked for this code page");
    }
    for (size_t i = 0; i < w->n; i++) {
        if (w->c[i].run != 1) continue;
        etsn_buf e = ETSN_BUF_INIT;
        etsn_buf_printf(&e, "winrs-command:%s", w->c[i].script ? w->c[i].script : w->c[i].line);
        mock_replay_expect(b, (const char *)e.data, "the recorded client ran it");
        etsn_buf_free(&e);
    }
    if (w->ctrl_c) mock_replay_expect(b, "winrs-signal-ctrl-c", "the recorded client sent Ctrl+C");
    if (w->terminate)
        mock_replay_expect(b, "winrs-signal-terminate", "the recorded client ended commands");
    if (w->deleted) mock_replay_expect(b, "winrs-shell-deleted", "the recorded client closed it");
    return w->refused;
}

void mock_replay_winrs_free(mock_replay_winrs *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->c[i].id);
        free(w->c[i].line);
        free(w->c[i].script);
        etsn_buf_free_secure(&w->c[i].steps);
    }
    free(w->c);
    free(w);
}
