/* Transcript -> scenario (replay.h). The transcript is read one exchange at
 * a time; what it says is collected per pipeline (keyed by the PSRP
 * PipelineId, MS-PSRP 2.2.1, which is also the WS-Man CommandId) as a list of
 * steps, then written as scenario XML and loaded with the fixture loader, so
 * the engine plays a recording exactly as it plays a hand-written scenario. */
#include "replay.h"

#include "../ref/core/clixml.h"
#include "../ref/core/message.h"
#include "../ref/core/psrp_msgs.h"
#include "../ref/core/transcript.h"
#include "engine.h"
#include "replay_winrs.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PIPELINES 100000
#define STEP_MESSAGE 0
#define STEP_HOST_CALL 1
#define STEP_WAIT_SIGNAL 2

typedef struct {
    int kind;
    uint32_t type;  /* STEP_MESSAGE */
    char *xml;      /* STEP_MESSAGE: the body; STEP_HOST_CALL: the mp items */
    int method;     /* STEP_HOST_CALL */
    int64_t ci;     /* as recorded */
    char *expect;   /* the recorded answer, when it is plain text */
    bool answered;  /* the recorded client answered */
    unsigned label; /* host-response:hN-Method */
} rstep;

typedef struct {
    etsn_guid pid;
    char *command;
    unsigned run;
    bool metadata; /* GET_COMMAND_METADATA */
    bool pool;     /* a pool request (SET_MAX_RUNSPACES, PUBLIC_KEY, ...) named by its type */
    bool drop;     /* PUBLIC_KEY that was answered: the engine answers it with a fresh key */
    int64_t ci;    /* pool request: its call id, to find the answer */
    bool signalled;
    rstep *steps;
    size_t n_steps;
} rpipe;

typedef struct {
    rpipe *p;
    size_t n;
    char protocol[16], ps_version[64], edition[32];
    bool key_request, key_exchange, key_answered, created, opened, metadata, deleted, ctrl_c;
    etsn_buf wanted, returned; /* command names, comma separated */
    etsn_buf replies;          /* <reply> elements for actions the engine does not model */
    mock_replay_winrs *winrs;  /* a WinRS cmd shell's exchanges (replay_winrs.h) */
    unsigned labels;
    size_t skipped; /* server messages whose body is not CLIXML */
    size_t bytes;
    char *err;
    size_t errlen;
    const char *path;
} rstate;

/* ---- collecting ---- */

static rpipe *find_pipe(rstate *s, const etsn_guid *pid)
{
    for (size_t i = s->n; i-- > 0;)
        if (etsn_guid_equal(&s->p[i].pid, pid)) return &s->p[i];
    return NULL;
}

static rpipe *new_pipe(rstate *s, const etsn_guid *pid)
{
    if (s->n >= MAX_PIPELINES) return NULL;
    rpipe *grown = realloc(s->p, (s->n + 1) * sizeof *grown);
    if (!grown) return NULL;
    s->p = grown;
    rpipe *p = &s->p[s->n++];
    memset(p, 0, sizeof *p);
    p->pid = *pid;
    return p;
}

static rstep *new_step(rstate *s, rpipe *p, int kind)
{
    rstep *grown = realloc(p->steps, (p->n_steps + 1) * sizeof *grown);
    if (!grown) return NULL;
    p->steps = grown;
    rstep *st = &p->steps[p->n_steps++];
    memset(st, 0, sizeof *st);
    st->kind = kind;
    (void)s;
    return st;
}

static etsn_value *parse_body(const etsn_transcript_message *m)
{
    char why[200];
    return m->raw || !m->body_len ? NULL
                                  : etsn_clixml_parse(m->body, m->body_len, NULL, why, sizeof why);
}

static void names_of(const etsn_value *list, etsn_buf *out)
{
    for (size_t i = 0; list && i < list->n_items; i++) {
        const char *n = etsn_v_as_str(list->items[i]);
        if (n) etsn_buf_printf(out, "%s%s", out->len ? "," : "", n);
    }
}

static void client_pipeline(rstate *s, const etsn_transcript_message *m, const etsn_value *v)
{
    etsn_buf text = ETSN_BUF_INIT;
    if (m->type == ETSN_MSG_GET_COMMAND_METADATA) {
        /* The engine looks a recorded answer up by this text (engine.c,
         * recorded_metadata): the names as asked, joined by ", ". */
        s->metadata = true;
        const etsn_value *names = etsn_v_path(v, "Name");
        etsn_buf_append_str(&text, "GET_COMMAND_METADATA ");
        for (size_t i = 0; names && i < names->n_items && i < 64; i++) {
            const char *n = etsn_v_as_str(names->items[i]);
            if (n) etsn_buf_printf(&text, "%s%s", i ? ", " : "", n);
        }
        names_of(names, &s->wanted);
    } else if (mock_engine_pipeline_text(v, &text) < 0) {
        return;
    }
    rpipe *p = new_pipe(s, &m->pid);
    if (p) {
        p->metadata = m->type == ETSN_MSG_GET_COMMAND_METADATA;
        p->command = text.data ? etsn_buf_steal(&text) : strdup("");
        for (size_t i = 0; i + 1 < s->n; i++)
            if (fx_command_equal(s->p[i].command, p->command)) p->run = s->p[i].run;
        p->run++;
    }
    etsn_buf_free(&text);
}

/* The recorded answer as the engine compares it (docs/fixtures.md expect=):
 * only plain values; a SecureString or an object is checked by shape only. */
static char *plain_answer(const etsn_value *mr)
{
    if (!mr) return NULL;
    switch (mr->kind) {
    case ETSN_V_STRING:
    case ETSN_V_BOOL:
    case ETSN_V_I32:
    case ETSN_V_I64: {
        etsn_buf b = ETSN_BUF_INIT;
        etsn_v_display(mr, &b);
        if (!b.data) etsn_buf_append_str(&b, "");
        return etsn_buf_steal(&b);
    }
    default:
        return NULL;
    }
}

static void host_response(rstate *s, const etsn_transcript_message *m, const etsn_value *v)
{
    rpipe *p = find_pipe(s, &m->pid);
    int64_t ci = 0;
    if (!p || !v || !etsn_v_as_i64(etsn_v_get(v, "ci"), &ci)) return;
    for (size_t i = p->n_steps; i-- > 0;) {
        rstep *st = &p->steps[i];
        if (st->kind != STEP_HOST_CALL || st->ci != ci || st->answered) continue;
        st->answered = true;
        const etsn_value *me = etsn_v_get(v, "me");
        if (!me || me->kind == ETSN_V_NIL) st->expect = plain_answer(etsn_v_get(v, "mr"));
        return;
    }
}

/* A pool request becomes a <pipeline> named after its type (engine.c,
 * recorded_pool_answer): its steps are the answer the server gave. */
static void pool_request(rstate *s, const etsn_transcript_message *m, const etsn_value *v)
{
    static const etsn_guid none;
    rpipe *p = new_pipe(s, &none);
    const char *name = etsn_message_type_name(m->type);
    if (!p || !(p->command = strdup(name ? name : "?"))) return;
    p->pool = true;
    if (v && !etsn_v_as_i64(etsn_v_get(v, "ci"), &p->ci))
        etsn_v_as_i64(etsn_v_get(v, "CI"), &p->ci);
    for (size_t i = 0; i + 1 < s->n; i++)
        if (fx_command_equal(s->p[i].command, p->command)) p->run = s->p[i].run;
    p->run++;
}

static rpipe *pending_pool(rstate *s, const char *type, const int64_t *ci)
{
    for (size_t i = s->n; i-- > 0;) {
        rpipe *p = &s->p[i];
        if (p->pool && !p->n_steps && !p->drop && !strcmp(p->command, type) &&
            (!ci || p->ci == *ci))
            return p;
    }
    return NULL;
}

static void from_client(rstate *s, const etsn_transcript_message *m)
{
    etsn_value *v = parse_body(m);
    switch (m->type) {
    case ETSN_MSG_SET_MAX_RUNSPACES:
    case ETSN_MSG_SET_MIN_RUNSPACES:
    case ETSN_MSG_GET_AVAILABLE_RUNSPACES:
    case ETSN_MSG_RESET_RUNSPACE_STATE:
        pool_request(s, m, v);
        break;
    case ETSN_MSG_CREATE_PIPELINE:
    case ETSN_MSG_GET_COMMAND_METADATA:
        if (v) client_pipeline(s, m, v);
        break;
    case ETSN_MSG_PIPELINE_HOST_RESPONSE:
        host_response(s, m, v);
        break;
    case ETSN_MSG_INIT_RUNSPACEPOOL:
        s->opened = true;
        break;
    case ETSN_MSG_PUBLIC_KEY:
        s->key_exchange = true;
        pool_request(s, m, v);
        break;
    default:
        break;
    }
    etsn_v_free(v);
}

/* The mp items of a host call, each as standalone CLIXML: written from the
 * parsed value, since an item may refer (TNRef, Ref) to type names and
 * objects defined elsewhere in the message. */
static char *host_params(const etsn_value *v)
{
    const etsn_value *mp = etsn_v_get(v, "mp");
    etsn_buf out = ETSN_BUF_INIT;
    for (size_t i = 0; mp && i < mp->n_items; i++) etsn_clixml_write(mp->items[i], &out);
    if (!out.data) etsn_buf_append_str(&out, "");
    return etsn_buf_steal(&out);
}

static void server_pipeline_message(rstate *s, rpipe *p, const etsn_transcript_message *m,
                                    const etsn_value *v)
{
    if (p->metadata && m->type == ETSN_MSG_PIPELINE_OUTPUT) {
        const char *n = etsn_v_as_str(etsn_v_get(v, "Name"));
        if (n) etsn_buf_printf(&s->returned, "%s%s", s->returned.len ? "," : "", n);
    }
    int64_t state = 0;
    if (m->type == ETSN_MSG_PIPELINE_STATE && p->signalled &&
        etsn_v_as_i64(etsn_v_get(v, "PipelineState"), &state) && state == ETSN_PIPE_STOPPED)
        return; /* the engine sends Stopped itself when the live client signals */
    if (m->type == ETSN_MSG_PIPELINE_HOST_CALL) {
        int64_t ci = 0, mi = 0;
        rstep *st = new_step(s, p, STEP_HOST_CALL);
        if (!st || !etsn_v_as_i64(etsn_v_get(v, "ci"), &ci) ||
            !etsn_v_as_i64(etsn_v_get(v, "mi"), &mi))
            return;
        st->ci = ci;
        st->method = (int)mi;
        st->xml = host_params(v);
        if (ci >= 0) st->label = ++s->labels;
        return;
    }
    rstep *st = new_step(s, p, STEP_MESSAGE);
    if (!st) return;
    st->type = m->type;
    st->xml = strdup(m->body);
}

static void server_pool_message(rstate *s, const etsn_transcript_message *m, const etsn_value *v)
{
    const char *t;
    if (m->type == ETSN_MSG_SESSION_CAPABILITY &&
        (t = etsn_v_as_str(etsn_v_get(v, "protocolversion"))))
        snprintf(s->protocol, sizeof s->protocol, "%s", t);
    if (m->type == ETSN_MSG_APPLICATION_PRIVATE_DATA) {
        const etsn_value *table =
            etsn_dict_get(etsn_v_get(v, "ApplicationPrivateData"), "PSVersionTable");
        if ((t = etsn_v_as_str(etsn_dict_get(table, "PSVersion"))))
            snprintf(s->ps_version, sizeof s->ps_version, "%s", t);
        if ((t = etsn_v_as_str(etsn_dict_get(table, "PSEdition"))))
            snprintf(s->edition, sizeof s->edition, "%s", t);
    }
    if (m->type == ETSN_MSG_PUBLIC_KEY_REQUEST) s->key_request = true;
    int64_t ci = 0;
    rpipe *p;
    if (m->type == ETSN_MSG_RUNSPACE_AVAILABILITY && etsn_v_as_i64(etsn_v_get(v, "ci"), &ci)) {
        const char *types[] = {"SET_MAX_RUNSPACES", "SET_MIN_RUNSPACES", "GET_AVAILABLE_RUNSPACES",
                               "RESET_RUNSPACE_STATE"};
        for (size_t i = 0; i < 4; i++) {
            if (!(p = pending_pool(s, types[i], &ci))) continue;
            rstep *st = new_step(s, p, STEP_MESSAGE);
            if (st) st->type = m->type, st->xml = strdup(m->body);
            break;
        }
    }
    if (m->type == ETSN_MSG_ENCRYPTED_SESSION_KEY && (p = pending_pool(s, "PUBLIC_KEY", NULL)))
        p->drop = s->key_answered = true;
}

static void from_server(rstate *s, const etsn_transcript_message *m)
{
    etsn_value *v = parse_body(m);
    if (!v) {
        s->skipped++; /* empty or not CLIXML: nothing the engine could send */
        return;
    }
    rpipe *p = etsn_guid_is_zero(&m->pid) ? NULL : find_pipe(s, &m->pid);
    if (p)
        server_pipeline_message(s, p, m, v);
    else if (etsn_guid_is_zero(&m->pid))
        server_pool_message(s, m, v);
    s->bytes += m->body_len;
    etsn_v_free(v);
}

static void attr(etsn_buf *b, const char *name, const char *v);

/* A request the engine does not model (WS-Transfer Get, Disconnect, ...):
 * its recorded answer becomes a <reply>, given back in order. */
static void unmodelled(rstate *s, const etsn_transcript_record *r)
{
    const etsn_wsman_msg *q = &r->request;
    etsn_buf_append_str(&s->replies, "  <reply");
    attr(&s->replies, "action", q->action_uri);
    etsn_buf_printf(&s->replies, " status=\"%d\"", r->status);
    attr(&s->replies, "relates-to", q->message_id);
    attr(&s->replies, "shell-id", q->shell_id);
    etsn_buf_printf(&s->replies, ">%s</reply>\n", r->response_xml ? r->response_xml : "");
    s->bytes += r->response_xml_len;
}

/* WS-Man actions that are expectations by themselves. */
static void request(rstate *s, const etsn_transcript_record *r)
{
    const etsn_wsman_msg *q = &r->request;
    /* A Get (winrm/config) is answered as the recorded server did: its
     * MaxEnvelopeSizekb, not the engine's default. */
    if ((q->action == ETSN_WSMAN_UNKNOWN && q->action_uri) || q->action == ETSN_WSMAN_GET)
        unmodelled(s, r);
    /* An unknown ShellId/CommandId fault the recorded client met: the engine
     * gives it back instead of calling the request unmatched. */
    if (q->action != ETSN_WSMAN_UNKNOWN && r->has_response &&
        r->response.action == ETSN_WSMAN_FAULT && r->response.fault_subcode &&
        strstr(r->response.fault_subcode, "InvalidSelectors"))
        unmodelled(s, r);
    if (q->action == ETSN_WSMAN_CREATE && r->status == 200) s->created = true;
    if (q->action == ETSN_WSMAN_DELETE) s->deleted = true;
    if (q->action == ETSN_WSMAN_SIGNAL && q->signal_code &&
        strcmp(q->signal_code, ETSN_SIGNAL_CTRL_C) != 0 &&
        strcasecmp(q->signal_code, ETSN_SIGNAL_TERMINATE) != 0)
        unmodelled(s, r); /* a code the engine does not know, answered as recorded */
    if (q->action == ETSN_WSMAN_SIGNAL && q->signal_code && q->command_id &&
        !strcmp(q->signal_code, ETSN_SIGNAL_CTRL_C)) {
        etsn_guid g;
        rpipe *p = etsn_guid_parse(q->command_id, &g) ? find_pipe(s, &g) : NULL;
        s->ctrl_c = true;
        if (p && !p->signalled) {
            p->signalled = true;
            new_step(s, p, STEP_WAIT_SIGNAL);
        }
    }
}

static int source_file(void *ctx, void *buf, size_t len)
{
    size_t n = fread(buf, 1, len, ctx);
    return n == 0 && ferror((FILE *)ctx) ? -1 : (int)n;
}

static int collect(rstate *s)
{
    FILE *f = fopen(s->path, "rb");
    if (!f) {
        snprintf(s->err, s->errlen, "%s: %s", s->path, strerror(errno));
        return -1;
    }
    etsn_error e;
    etsn_error_clear(&e);
    etsn_transcript_reader *r = etsn_transcript_reader_new(source_file, f, &e);
    etsn_transcript_record *rec = NULL;
    int rc = r ? 0 : -1;
    while (rc == 0 && (rc = etsn_transcript_next(r, &rec, &e)) == 1) {
        int winrs = mock_replay_winrs_add(&s->winrs, rec);
        if (winrs != 0) {
            s->bytes += rec->response_xml_len; /* a bound on the recorded output kept */
            etsn_transcript_record_free(rec);
            rc = winrs < 0 ? -1 : 0;
            if (rc < 0) etsn_error_set(&e, 0, "out of memory");
            if (rc == 0 && s->bytes > MOCK_REPLAY_MAX_SCENARIO) {
                rc = -1;
                etsn_error_set(&e, 0, "too large to replay (over %u bytes of messages)",
                               MOCK_REPLAY_MAX_SCENARIO);
            }
            continue;
        }
        if (rec->has_request) request(s, rec);
        for (size_t i = 0; i < rec->n_msgs; i++)
            (rec->msgs[i].from_client ? from_client : from_server)(s, &rec->msgs[i]);
        etsn_transcript_record_free(rec);
        rc = s->bytes > MOCK_REPLAY_MAX_SCENARIO ? -1 : 0;
        if (rc < 0)
            etsn_error_set(&e, 0, "too large to replay (over %u bytes of messages)",
                           MOCK_REPLAY_MAX_SCENARIO);
    }
    if (rc < 0) snprintf(s->err, s->errlen, "%s: %s", s->path, e.message);
    etsn_transcript_reader_free(r);
    fclose(f);
    return rc < 0 ? -1 : 0;
}

/* ---- writing the scenario ---- */

/* An attribute; line breaks and tabs as character references, since XML
 * turns them into spaces in attribute values (a multi-line command in
 * expect id="pipeline:..."). */
static void attr(etsn_buf *b, const char *name, const char *v)
{
    if (!v || !*v) return;
    etsn_buf_printf(b, " %s=\"", name);
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, "\r\n\t");
        etsn_buf_append_xml_escaped(b, p, n);
        p += n;
        if (*p) etsn_buf_printf(b, "&#%d;", *p++);
    }
    etsn_buf_append_str(b, "\"");
}

static void write_step(etsn_buf *b, const rstep *st)
{
    if (st->kind == STEP_WAIT_SIGNAL) {
        etsn_buf_append_str(b, "    <wait-signal/>\n");
    } else if (st->kind == STEP_HOST_CALL) {
        const char *name = etsn_host_method_name(st->method);
        if (name)
            etsn_buf_printf(b, "    <host-call method=\"%s\"", name);
        else
            etsn_buf_printf(b, "    <host-call method=\"%d\"", st->method);
        if (st->label) {
            char id[96];
            snprintf(id, sizeof id, "h%u-%s", st->label, name ? name : "call");
            attr(b, "id", id);
        }
        if (st->expect) attr(b, "expect", st->expect);
        etsn_buf_printf(b, ">%s</host-call>\n", st->xml ? st->xml : "");
    } else {
        const char *name = etsn_message_type_name(st->type);
        if (name)
            etsn_buf_printf(b, "    <message type=\"%s\">", name);
        else
            etsn_buf_printf(b, "    <message type=\"%" PRIu32 "\">", st->type);
        etsn_buf_printf(b, "%s</message>\n", st->xml ? st->xml : "<Nil/>");
    }
}

static void write_expect(etsn_buf *b, const char *id, const char *description)
{
    etsn_buf_append_str(b, "  <expect");
    attr(b, "id", id);
    attr(b, "description", description);
    etsn_buf_append_str(b, "/>\n");
}

void mock_replay_attr(etsn_buf *b, const char *name, const char *v)
{
    attr(b, name, v);
}

void mock_replay_expect(etsn_buf *b, const char *id, const char *description)
{
    write_expect(b, id, description);
}

static void write_pipeline_expects(etsn_buf *b, const rstate *s)
{
    for (size_t i = 0; i < s->n; i++) {
        const rpipe *p = &s->p[i];
        etsn_buf id = ETSN_BUF_INIT;
        etsn_buf_printf(&id, "pipeline:%s", p->command);
        if (p->run == 1 && !p->metadata && !p->pool)
            write_expect(b, (const char *)id.data, "the recorded client ran it");
        etsn_buf_free(&id);
        for (size_t j = 0; j < p->n_steps; j++) {
            const rstep *st = &p->steps[j];
            if (st->kind != STEP_HOST_CALL || !st->label || !st->answered) continue;
            const char *name = etsn_host_method_name(st->method);
            char hid[128];
            snprintf(hid, sizeof hid, "host-response:h%u-%s", st->label, name ? name : "call");
            write_expect(b, hid, "the recorded client answered this host call");
        }
    }
}

static void write_expects(etsn_buf *b, const rstate *s, bool sealed)
{
    if (s->created) write_expect(b, "shell-created", "the recorded client created the shell");
    if (s->opened) write_expect(b, "pool-opened", "the recorded client opened the pool");
    if (s->metadata)
        write_expect(b, "command-metadata-requested", "the recorded client asked for commands");
    if (s->key_exchange && s->key_answered && strcmp(s->protocol, "2.4") != 0)
        write_expect(b, "session-key-exchanged", "the recorded client exchanged a session key");
    write_pipeline_expects(b, s);
    if (s->ctrl_c) write_expect(b, "signal-ctrl-c", "the recorded client pressed Ctrl+C");
    if (s->deleted) write_expect(b, "shell-deleted", "the recorded client closed the shell");
    size_t refused = mock_replay_winrs_expects(s->winrs, b);
    if (sealed) write_expect(b, "encrypted", "the recording was sealed");
    if (refused)
        etsn_buf_printf(b,
                        "  <!-- the recorded WinRS server refused %zu requests for an unknown "
                        "ShellId/CommandId: the live client's are unmatched -->\n",
                        refused);
    else
        write_expect(b, "no-unmatched", "every request fits the recording");
}

/* Commands the recorded server had (answered) and lacked (asked, not answered). */
static void write_commands(etsn_buf *b, const rstate *s)
{
    attr(b, "commands", (const char *)s->returned.data);
    etsn_buf missing = ETSN_BUF_INIT;
    char *wanted = s->wanted.data ? strdup((const char *)s->wanted.data) : NULL;
    for (char *save = NULL, *n = wanted ? strtok_r(wanted, ",", &save) : NULL; n;
         n = strtok_r(NULL, ",", &save)) {
        bool found = false;
        char *ret = s->returned.data ? strdup((const char *)s->returned.data) : NULL;
        for (char *sv = NULL, *r = ret ? strtok_r(ret, ",", &sv) : NULL; r && !found;
             r = strtok_r(NULL, ",", &sv))
            found = !strcasecmp(r, n);
        free(ret);
        if (!found && !strchr(n, '*')) etsn_buf_printf(&missing, "%s%s", missing.len ? "," : "", n);
    }
    free(wanted);
    attr(b, "missing-commands", (const char *)missing.data);
    etsn_buf_free(&missing);
}

static void write_server(etsn_buf *b, const rstate *s, const mock_fixture *base)
{
    etsn_buf_append_str(b, "  <server");
    if (base) {
        attr(b, "computer", base->computer);
        attr(b, "path", base->path);
        attr(b, "location", base->location);
        attr(b, "resource-uri", base->resource_uri);
    }
    attr(b, "protocol", s->protocol[0] ? s->protocol : NULL);
    attr(b, "ps-version", s->ps_version);
    attr(b, "edition", s->edition);
    if (s->metadata) write_commands(b, s);
    if (s->key_request) attr(b, "public-key-request", "true");
    etsn_buf_append_str(b, "/>\n");
    if (!base) {
        /* The shipped fixtures' test user (docs/fixtures.md): a transcript
         * holds no password, so the replay needs one of its own. */
        etsn_buf_append_str(b,
                            "  <user name=\"CONTOSO\\alice\" password=\"P@ssw0rd-for-tests\"/>\n");
        return;
    }
    for (size_t i = 0; i < base->n_users; i++) {
        etsn_buf name = ETSN_BUF_INIT;
        etsn_buf_printf(&name, "%s%s%s", base->users[i].domain, *base->users[i].domain ? "\\" : "",
                        base->users[i].name);
        etsn_buf_append_str(b, "  <user");
        attr(b, "name", (const char *)name.data);
        attr(b, "password", base->users[i].password);
        etsn_buf_append_str(b, "/>\n");
        etsn_buf_free(&name);
    }
    etsn_buf_printf(b, "  <auth negotiate=\"%s\" basic=\"%s\" require-encryption=\"%s\"/>\n",
                    base->negotiate ? "true" : "false", base->basic ? "true" : "false",
                    base->require_encryption ? "true" : "false");
}

static void write_scenario(etsn_buf *b, const rstate *s, const mock_fixture *base, bool sealed)
{
    const char *slash = strrchr(s->path, '/');
    etsn_buf_append_str(b, "<scenario");
    attr(b, "name", slash ? slash + 1 : s->path);
    attr(b, "description", "replay of a recorded transcript");
    etsn_buf_append_str(b, " strict-commands=\"true\">\n");
    if (s->skipped)
        etsn_buf_printf(
            b, "  <!-- %zu recorded server messages are empty or not CLIXML: not replayed -->\n",
            s->skipped);
    write_server(b, s, base);
    for (size_t i = 0; i < s->n; i++) {
        const rpipe *p = &s->p[i];
        if (p->drop) continue;
        etsn_buf_printf(b, "  <pipeline run=\"%u\">\n    <command>", p->run);
        etsn_buf_append_xml_escaped(b, p->command, strlen(p->command));
        etsn_buf_append_str(b, "</command>\n");
        for (size_t j = 0; j < p->n_steps; j++) write_step(b, &p->steps[j]);
        etsn_buf_append_str(b, "  </pipeline>\n");
    }
    mock_replay_winrs_commands(s->winrs, b);
    if (s->replies.len) etsn_buf_append(b, s->replies.data, s->replies.len);
    write_expects(b, s, sealed);
    etsn_buf_append_str(b, "</scenario>\n");
}

static void rstate_free(rstate *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = 0; j < s->p[i].n_steps; j++) {
            free(s->p[i].steps[j].xml);
            free(s->p[i].steps[j].expect);
        }
        free(s->p[i].steps);
        free(s->p[i].command);
    }
    free(s->p);
    etsn_buf_free(&s->wanted);
    etsn_buf_free(&s->returned);
    etsn_buf_free(&s->replies);
    mock_replay_winrs_free(s->winrs);
}

/* Whether the transcript says it was sealed (its <transcript sealed=>). */
static bool transcript_sealed(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    etsn_error e;
    etsn_transcript_reader *r = etsn_transcript_reader_new(source_file, f, &e);
    bool sealed = r && etsn_transcript_reader_info(r)->sealed;
    etsn_transcript_reader_free(r);
    fclose(f);
    return sealed;
}

int mock_replay_scenario(const char *path, const mock_fixture *base, etsn_buf *xml, char *err,
                         size_t errlen)
{
    rstate s;
    memset(&s, 0, sizeof s);
    s.path = path;
    s.err = err;
    s.errlen = errlen;
    int rc = collect(&s);
    if (rc == 0) write_scenario(xml, &s, base, transcript_sealed(path));
    rstate_free(&s);
    return rc;
}

mock_fixture *mock_replay_load(const char *path, const mock_fixture *base, char *err, size_t errlen)
{
    etsn_buf xml = ETSN_BUF_INIT;
    mock_fixture *fx = NULL;
    if (mock_replay_scenario(path, base, &xml, err, errlen) == 0)
        fx = mock_fixture_load_memory((const char *)xml.data, xml.len, path, err, errlen);
    etsn_buf_free_secure(&xml);
    return fx;
}

/* ---- recorded replies ---- */

/* Appends s with every occurrence of from (case-insensitive: GUIDs are
 * written in either case) replaced by to. */
static void replace_all(etsn_buf *out, const char *s, const char *from, const char *to)
{
    size_t fl = from && to ? strlen(from) : 0;
    for (const char *p = s, *q; *p; p = q + fl) {
        q = fl ? strcasestr(p, from) : NULL;
        if (!q) {
            etsn_buf_append_str(out, p);
            return;
        }
        etsn_buf_append(out, p, (size_t)(q - p));
        etsn_buf_append_str(out, to);
    }
}

int mock_replay_reply(const fx_reply *r, const char *message_id, const char *shell_id,
                      etsn_buf *out)
{
    if (!r->envelope[0]) {
        /* No response was recorded (the connection failed or timed out).
         * An empty sealed body cannot be sent, so the nearest a server can
         * say is that the operation did not complete in time: WinRM's
         * w:TimedOut fault. */
        etsn_wsman_build_fault(out, message_id, "s:Receiver", "w:TimedOut", 2150858793u, NULL,
                               "The WS-Management service cannot complete the operation within "
                               "the time specified in OperationTimeout.  ");
        return 500;
    }
    etsn_buf tmp = ETSN_BUF_INIT;
    etsn_buf_reset(out);
    replace_all(&tmp, r->envelope, r->relates_to, message_id);
    replace_all(out, tmp.data ? (const char *)tmp.data : "", r->shell_id, shell_id);
    etsn_buf_free(&tmp);
    if (!out->data) etsn_buf_append_str(out, "");
    return r->status >= 100 ? r->status : 500;
}

/* ---- near-miss diff ---- */

static size_t line_len(const char *s)
{
    return strcspn(s, "\r\n");
}

void mock_text_diff(const char *recorded, const char *got, etsn_buf *out)
{
    const char *a = recorded, *b = got;
    int line = 1;
    /* Skip equal lines (compared case-insensitively, as commands match). */
    while (*a && *b) {
        size_t la = line_len(a), lb = line_len(b);
        if (la != lb || strncasecmp(a, b, la) != 0) break;
        a += la, b += lb;
        a += *a == '\r' && a[1] == '\n' ? 2 : *a ? 1 : 0;
        b += *b == '\r' && b[1] == '\n' ? 2 : *b ? 1 : 0;
        line++;
    }
    size_t la = line_len(a), lb = line_len(b), col = 0;
    while (col < la && col < lb && tolower((unsigned char)a[col]) == tolower((unsigned char)b[col]))
        col++;
    etsn_buf_printf(out, "line %d column %zu: -%.*s +%.*s", line, col + 1, (int)la, a, (int)lb, b);
    etsn_buf_printf(out, " (recorded '%.*s', got '%.*s' from there)",
                    (int)(la - col > 20 ? 20 : la - col), a + col,
                    (int)(lb - col > 20 ? 20 : lb - col), b + col);
}
