#include "psrp_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fragment.h"
#include "message.h"
#include "wsman.h"

struct etsn_pipeline {
    etsn_pipeline *next;
    etsn_guid id;
    char command_id[ETSN_GUID_STR_LEN + 1];
    char command_message_id[64]; /* MessageID of our Command, until its response */
    uint32_t message_type;       /* CREATE_PIPELINE or GET_COMMAND_METADATA */
    etsn_value *body;
    etsn_defrag *defrag;
    uint64_t sequence_id;
    int state;
    bool done;
    void *user;
};

struct etsn_client {
    etsn_client_config cfg;
    char *url, *resource_uri, *protocol_version, *locale, *data_locale, *title;
    etsn_guid pool_id;
    char shell_id[ETSN_GUID_STR_LEN + 1];
    char message_id[64];
    char server_protocol[16];
    bool shell_created;
    bool pool_opened;
    uint64_t next_object_id;
    uint64_t pool_sequence_id;
    etsn_defrag *pool_defrag;
    etsn_pipeline *pipelines;
    etsn_buf scratch;
};

static char *dup_or(const char *s, const char *fallback)
{
    return strdup(s ? s : fallback);
}

etsn_client *etsn_client_new(const etsn_client_config *cfg)
{
    etsn_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cfg = *cfg;
    c->url = dup_or(cfg->url, "");
    c->resource_uri =
        dup_or(cfg->resource_uri, "http://schemas.microsoft.com/powershell/Microsoft.PowerShell");
    c->protocol_version = dup_or(cfg->protocol_version, "2.3");
    c->locale = dup_or(cfg->locale, "en-US");
    c->data_locale = dup_or(cfg->data_locale, "en-US");
    c->title = dup_or(cfg->host.window_title, "");
    if (!c->cfg.max_envelope_size) c->cfg.max_envelope_size = 512000;
    if (!c->cfg.operation_timeout_ms) c->cfg.operation_timeout_ms = 180000;
    if (!c->cfg.max_object) c->cfg.max_object = 64u * 1024 * 1024;
    c->cfg.host.window_title = c->title;
    c->next_object_id = 1;
    c->pool_defrag = etsn_defrag_new(c->cfg.max_object, 8);
    if (!c->url || !c->resource_uri || !c->protocol_version || !c->locale || !c->data_locale ||
        !c->title || !c->pool_defrag || etsn_guid_random(&c->pool_id) < 0) {
        etsn_client_free(c);
        return NULL;
    }
    etsn_guid_format(&c->pool_id, c->shell_id, true);
    return c;
}

void etsn_client_free(etsn_client *c)
{
    if (!c) return;
    while (c->pipelines) etsn_pipeline_free(c, c->pipelines);
    etsn_defrag_free(c->pool_defrag);
    free(c->url);
    free(c->resource_uri);
    free(c->protocol_version);
    free(c->locale);
    free(c->data_locale);
    free(c->title);
    etsn_buf_free(&c->scratch);
    free(c);
}

const etsn_guid *etsn_client_pool_id(const etsn_client *c)
{
    return &c->pool_id;
}
const char *etsn_client_server_protocol(const etsn_client *c)
{
    return c->server_protocol;
}
bool etsn_client_pool_opened(const etsn_client *c)
{
    return c->pool_opened;
}
bool etsn_client_shell_created(const etsn_client *c)
{
    return c->shell_created;
}

etsn_pipeline *etsn_client_pipeline(etsn_client *c, uint32_t message_type, etsn_value *body)
{
    etsn_pipeline *p = calloc(1, sizeof *p);
    if (!p || !body || etsn_guid_random(&p->id) < 0 ||
        !(p->defrag = etsn_defrag_new(c->cfg.max_object, 8))) {
        free(p);
        etsn_v_free(body);
        return NULL;
    }
    etsn_guid_format(&p->id, p->command_id, true);
    p->message_type = message_type;
    p->body = body;
    p->state = ETSN_PIPE_NOT_STARTED;
    p->next = c->pipelines;
    c->pipelines = p;
    return p;
}

void etsn_pipeline_free(etsn_client *c, etsn_pipeline *p)
{
    for (etsn_pipeline **pp = &c->pipelines; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    etsn_v_free(p->body);
    etsn_defrag_free(p->defrag);
    free(p);
}

bool etsn_pipeline_done(const etsn_pipeline *p)
{
    return p->done;
}
int etsn_pipeline_state(const etsn_pipeline *p)
{
    return p->state;
}
const etsn_guid *etsn_pipeline_id(const etsn_pipeline *p)
{
    return &p->id;
}
void *etsn_pipeline_user(const etsn_pipeline *p)
{
    return p->user;
}
void etsn_pipeline_set_user(etsn_pipeline *p, void *user)
{
    p->user = user;
}

static etsn_wsman_header header(etsn_client *c, bool with_shell)
{
    etsn_guid id;
    char text[ETSN_GUID_STR_LEN + 1];
    if (etsn_guid_random(&id) < 0) memset(&id, 0, sizeof id);
    etsn_guid_format(&id, text, true);
    snprintf(c->message_id, sizeof c->message_id, "uuid:%s", text);
    etsn_wsman_header h = {
        .to = c->url,
        .resource_uri = c->resource_uri,
        .message_id = c->message_id,
        .shell_id = with_shell ? c->shell_id : NULL,
        .max_envelope_size = c->cfg.max_envelope_size,
        .operation_timeout_ms = c->cfg.operation_timeout_ms,
        .locale = c->locale,
        .data_locale = c->data_locale,
    };
    return h;
}

/* The largest fragment that still fits one envelope once base64 encoded. */
static size_t max_fragment(const etsn_client *c)
{
    size_t env = c->cfg.max_envelope_size;
    if (env <= ETSN_WSMAN_RECEIVE_OVERHEAD + 1024) return 1024;
    return (env - ETSN_WSMAN_RECEIVE_OVERHEAD) / 4 * 3;
}

/* Serializes body and appends it, as one PSRP message in fragments, to out. */
static int append_message(etsn_client *c, etsn_buf *out, uint32_t type, const etsn_guid *pid,
                          const etsn_value *body)
{
    static const etsn_guid no_pipeline;
    etsn_buf xml = ETSN_BUF_INIT, msg = ETSN_BUF_INIT;
    int rc = -1;
    if (etsn_clixml_write(body, &xml) == 0 &&
        etsn_message_encode(&msg, ETSN_DEST_SERVER, type, &c->pool_id, pid ? pid : &no_pipeline,
                            (const char *)xml.data, xml.len) == 0 &&
        etsn_fragment_message(out, c->next_object_id++, msg.data, msg.len, max_fragment(c)) > 0)
        rc = 0;
    etsn_buf_free(&xml);
    etsn_buf_free(&msg);
    return rc;
}

int etsn_client_build_create(etsn_client *c, etsn_buf *out)
{
    etsn_buf blob = ETSN_BUF_INIT;
    etsn_value *cap = etsn_msg_session_capability(c->protocol_version);
    etsn_value *init = etsn_msg_init_runspacepool(1, 1, &c->cfg.host);
    int rc = -1;
    if (cap && init && append_message(c, &blob, ETSN_MSG_SESSION_CAPABILITY, NULL, cap) == 0 &&
        append_message(c, &blob, ETSN_MSG_INIT_RUNSPACEPOOL, NULL, init) == 0) {
        etsn_wsman_header h = header(c, false);
        etsn_buf_reset(out);
        rc = etsn_wsman_build_create(out, &h, c->shell_id, c->protocol_version, false, blob.data,
                                     blob.len);
    }
    etsn_v_free(cap);
    etsn_v_free(init);
    etsn_buf_free(&blob);
    return rc;
}

int etsn_client_build_command(etsn_client *c, etsn_pipeline *p, etsn_buf *out)
{
    etsn_buf blob = ETSN_BUF_INIT;
    int rc = -1;
    if (append_message(c, &blob, p->message_type, &p->id, p->body) == 0) {
        etsn_wsman_header h = header(c, true);
        etsn_buf_reset(out);
        rc = etsn_wsman_build_command(out, &h, p->command_id, blob.data, blob.len);
        if (rc == 0) p->state = ETSN_PIPE_RUNNING;
        if (rc == 0)
            snprintf(p->command_message_id, sizeof p->command_message_id, "%s", h.message_id);
    }
    etsn_buf_free(&blob);
    return rc;
}

int etsn_client_build_receive(etsn_client *c, etsn_pipeline *p, etsn_buf *out)
{
    etsn_wsman_header h = header(c, true);
    etsn_buf_reset(out);
    uint64_t seq = p ? p->sequence_id++ : c->pool_sequence_id++;
    return etsn_wsman_build_receive(out, &h, p ? p->command_id : NULL, "stdout", seq);
}

int etsn_client_build_send(etsn_client *c, etsn_pipeline *p, const char *stream,
                           uint32_t message_type, etsn_value *body, etsn_buf *out)
{
    etsn_buf blob = ETSN_BUF_INIT;
    int rc = -1;
    if (body && append_message(c, &blob, message_type, p ? &p->id : NULL, body) == 0) {
        etsn_wsman_header h = header(c, true);
        etsn_buf_reset(out);
        rc = etsn_wsman_build_send(out, &h, p ? p->command_id : NULL, stream, blob.data, blob.len);
    }
    etsn_v_free(body);
    etsn_buf_free(&blob);
    return rc;
}

int etsn_client_build_signal(etsn_client *c, etsn_pipeline *p, const char *code, etsn_buf *out)
{
    etsn_wsman_header h = header(c, true);
    etsn_buf_reset(out);
    return etsn_wsman_build_signal(out, &h, p->command_id, code);
}

int etsn_client_build_delete(etsn_client *c, etsn_buf *out)
{
    etsn_wsman_header h = header(c, true);
    etsn_buf_reset(out);
    return etsn_wsman_build_delete(out, &h);
}

/* ---- replies ---- */

typedef struct {
    etsn_client *client;
    etsn_pipeline *pipeline;
    etsn_event_cb cb;
    void *ctx;
    etsn_error *err;
} dispatch_ctx;

static void emit(dispatch_ctx *d, etsn_event *ev)
{
    if (d->cb) d->cb(d->ctx, ev);
}

static int64_t member_int(const etsn_value *v, const char *name, int64_t fallback)
{
    int64_t out;
    const etsn_value *m = etsn_v_get(v, name);
    return m && etsn_v_as_i64(m, &out) ? out : fallback;
}

static etsn_pipeline *find_pipeline(etsn_client *c, const etsn_guid *pid)
{
    for (etsn_pipeline *p = c->pipelines; p; p = p->next)
        if (etsn_guid_equal(&p->id, pid)) return p;
    return NULL;
}

static int on_message(void *arg, uint64_t object_id, const uint8_t *data, size_t len)
{
    (void)object_id;
    dispatch_ctx *d = arg;
    etsn_message m;
    if (etsn_message_decode(data, len, &m) < 0) {
        etsn_error_set(d->err, 0, "The server sent a PSRP message shorter than its header.");
        return -1;
    }
    char why[256] = "";
    etsn_value *v = m.len ? etsn_clixml_parse((const char *)m.data, m.len, NULL, why, sizeof why)
                          : etsn_v_nil();
    if (!v) {
        etsn_error_set(d->err, 0, "The server sent a %s message that could not be read: %s",
                       etsn_message_type_name(m.type) ? etsn_message_type_name(m.type) : "PSRP",
                       why);
        return -1;
    }
    etsn_pipeline *p = etsn_guid_is_zero(&m.pid) ? NULL : find_pipeline(d->client, &m.pid);
    if (!p) p = d->pipeline;
    etsn_event ev = {.pipeline = p, .message_type = m.type, .value = v};
    switch (m.type) {
    case ETSN_MSG_SESSION_CAPABILITY: {
        const char *ver = etsn_v_as_str(etsn_v_get(v, "protocolversion"));
        snprintf(d->client->server_protocol, sizeof d->client->server_protocol, "%s",
                 ver ? ver : "");
        ev.kind = ETSN_EV_SERVER_CAPABILITY;
        ev.text = d->client->server_protocol;
        break;
    }
    case ETSN_MSG_RUNSPACEPOOL_STATE:
        ev.kind = ETSN_EV_POOL_STATE;
        ev.state = (int)member_int(v, "RunspaceState", -1);
        ev.value = etsn_v_get(v, "ExceptionAsErrorRecord");
        if (ev.state == ETSN_POOL_OPENED) d->client->pool_opened = true;
        if (ev.state == ETSN_POOL_CLOSED || ev.state == ETSN_POOL_BROKEN)
            d->client->pool_opened = false;
        break;
    case ETSN_MSG_PIPELINE_STATE:
        ev.kind = ETSN_EV_PIPELINE_STATE;
        ev.state = (int)member_int(v, "PipelineState", -1);
        ev.value = etsn_v_get(v, "ExceptionAsErrorRecord");
        if (p) p->state = ev.state;
        break;
    case ETSN_MSG_PIPELINE_OUTPUT:
        ev.kind = ETSN_EV_OUTPUT;
        break;
    case ETSN_MSG_ERROR_RECORD:
        ev.kind = ETSN_EV_ERROR_RECORD;
        break;
    case ETSN_MSG_DEBUG_RECORD:
    case ETSN_MSG_VERBOSE_RECORD:
    case ETSN_MSG_WARNING_RECORD:
    case ETSN_MSG_PROGRESS_RECORD:
    case ETSN_MSG_INFORMATION_RECORD:
        ev.kind = ETSN_EV_RECORD;
        break;
    case ETSN_MSG_PIPELINE_HOST_CALL:
    case ETSN_MSG_RUNSPACEPOOL_HOST_CALL:
        ev.kind = ETSN_EV_HOST_CALL;
        if (m.type == ETSN_MSG_RUNSPACEPOOL_HOST_CALL) ev.pipeline = NULL;
        ev.call_id = member_int(v, "ci", -100);
        ev.method = (int)member_int(v, "mi", 0);
        ev.value = etsn_v_get(v, "mp");
        break;
    default:
        ev.kind = ETSN_EV_OTHER;
        break;
    }
    emit(d, &ev);
    etsn_v_free(v);
    return 0;
}

/* MS-PSRP 3.1.5.3.4: the client MUST use the CommandId of the
 * CommandResponse from then on. WinRM 2.0 (PowerShell 2.0, protocol 2.1)
 * ignores the id the client proposed and names the command itself. The
 * response is matched to its Command by RelatesTo. */
static int take_command_id(etsn_client *c, const etsn_wsman_msg *msg, etsn_error *err)
{
    etsn_pipeline *p = c->pipelines;
    for (; p; p = p->next) {
        if (p->command_message_id[0] &&
            (!msg->relates_to || !strcasecmp(msg->relates_to, p->command_message_id)))
            break;
    }
    if (!p) return 0; /* the answer to a command we already let go */
    p->command_message_id[0] = '\0';
    if (!msg->command_id || !*msg->command_id || strlen(msg->command_id) > ETSN_GUID_STR_LEN) {
        etsn_error_set(err, 0,
                       "The WinRM client cannot process the request: CommandResponse with an "
                       "invalid CommandId");
        return -1;
    }
    snprintf(p->command_id, sizeof p->command_id, "%s", msg->command_id);
    return 0;
}

static void fault_to_error(const etsn_wsman_msg *msg, etsn_error *err)
{
    const char *text = msg->wsman_fault_message ? msg->wsman_fault_message : msg->fault_reason;
    etsn_error_set(err, msg->wsman_fault_code, "%s",
                   text ? text : "The WS-Management service returned a fault.");
}

int etsn_client_handle_reply(etsn_client *c, const uint8_t *soap, size_t len, etsn_event_cb cb,
                             void *ctx, etsn_error *err)
{
    etsn_wsman_msg msg;
    char why[256] = "";
    if (etsn_wsman_parse(soap, len, &msg, why, sizeof why) < 0) {
        etsn_error_set(err, 0, "The WinRM client cannot process the request: %s", why);
        return -1;
    }
    int rc = 0;
    dispatch_ctx d = {.client = c, .cb = cb, .ctx = ctx, .err = err};
    switch (msg.action) {
    case ETSN_WSMAN_FAULT:
        fault_to_error(&msg, err);
        rc = -1;
        break;
    case ETSN_WSMAN_CREATE_RESPONSE:
        c->shell_created = true;
        if (msg.shell_id && strlen(msg.shell_id) <= ETSN_GUID_STR_LEN)
            snprintf(c->shell_id, sizeof c->shell_id, "%s", msg.shell_id);
        break;
    case ETSN_WSMAN_COMMAND_RESPONSE:
        rc = take_command_id(c, &msg, err);
        break;
    case ETSN_WSMAN_RECEIVE_RESPONSE:
        for (size_t i = 0; i < msg.n_streams && rc == 0; i++) {
            const etsn_wsman_stream *s = &msg.streams[i];
            etsn_pipeline *p = NULL;
            if (s->command_id) {
                for (p = c->pipelines; p && strcasecmp(p->command_id, s->command_id); p = p->next) {
                }
                if (!p) continue; /* output of a command we already let go */
            }
            d.pipeline = p;
            char ferr[256] = "";
            int frc = etsn_defrag_feed(p ? p->defrag : c->pool_defrag, s->data, s->len, on_message,
                                       &d, ferr, sizeof ferr);
            if (frc == -1 && ferr[0])
                etsn_error_set(err, 0, "The server sent a bad fragment: %s", ferr);
            if (frc) rc = -1;
        }
        if (rc == 0 && msg.command_state && msg.command_state_id &&
            strstr(msg.command_state, "CommandState/Done")) {
            for (etsn_pipeline *p = c->pipelines; p; p = p->next) {
                if (!strcasecmp(p->command_id, msg.command_state_id) && !p->done) {
                    p->done = true;
                    etsn_event ev = {.kind = ETSN_EV_COMMAND_DONE, .pipeline = p};
                    emit(&d, &ev);
                }
            }
        }
        break;
    case ETSN_WSMAN_DELETE_RESPONSE:
        c->shell_created = false;
        c->pool_opened = false;
        break;
    default:
        break;
    }
    etsn_wsman_msg_free(&msg);
    return rc;
}
