#include "session.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/message.h"
#include "../core/psrp_msgs.h"
#include "../core/wsman.h"
#include "host_ui.h"

/* WinRM's code for an OperationTimeout that expired on a Receive with
 * nothing to say: the client simply asks again (w:TimedOut). */
#define WSMAN_OPERATION_TIMEOUT 0x80338029u

typedef struct {
    const etsn_session_config *cfg;
    etsn_http *http;
    etsn_client *client;
    etsn_host_ui ui;
    etsn_buf request;
    etsn_buf reply;
    etsn_error *err;
    /* per pipeline run */
    int pipeline_state;
    etsn_buf first_output; /* the prompt pipeline's first result */
    bool want_output;
    size_t outputs;
    etsn_pipeline *current;
    bool failed;
} session;

static int post(session *s, etsn_event_cb cb, void *ctx)
{
    long status = 0;
    etsn_buf_reset(&s->reply);
    if (etsn_http_post(s->http, s->request.data, s->request.len, &s->reply, &status, s->err) < 0)
        return -1;
    return etsn_client_handle_reply(s->client, s->reply.data, s->reply.len, cb, ctx, s->err);
}

static void send_host_answer(session *s, etsn_pipeline *p, int64_t call_id, int method,
                             etsn_value *result, etsn_value *error)
{
    etsn_value *body = etsn_msg_host_response(call_id, method, result, error);
    uint32_t type = p ? ETSN_MSG_PIPELINE_HOST_RESPONSE : ETSN_MSG_RUNSPACEPOOL_HOST_RESPONSE;
    etsn_buf req = ETSN_BUF_INIT;
    if (etsn_client_build_send(s->client, p, "pr", type, body, &req) == 0) {
        etsn_buf saved = s->request;
        s->request = req;
        post(s, NULL, NULL);
        s->request = saved;
    }
    etsn_buf_free(&req);
}

static void on_event(void *ctx, const etsn_event *ev)
{
    session *s = ctx;
    switch (ev->kind) {
    case ETSN_EV_OUTPUT:
        s->outputs++;
        if (s->want_output && s->outputs == 1) {
            const char *text = etsn_v_as_str(ev->value);
            etsn_buf_append_str(&s->first_output, text ? text : "");
        } else if (!s->want_output) {
            etsn_buf text = ETSN_BUF_INIT;
            etsn_v_display(ev->value, &text);
            fprintf(s->cfg->out, "%s\n", text.data ? (char *)text.data : "");
            etsn_buf_free(&text);
        }
        break;
    case ETSN_EV_ERROR_RECORD:
    case ETSN_EV_RECORD:
        etsn_host_ui_record(&s->ui, ev->message_type, ev->value);
        break;
    case ETSN_EV_HOST_CALL: {
        etsn_value *result = NULL, *error = NULL;
        bool done = etsn_host_ui_call(&s->ui, ev->method, ev->value, &result, &error);
        if (ev->call_id == -100) { /* void call: no answer expected */
            etsn_v_free(result);
            etsn_v_free(error);
            break;
        }
        if (!done) error = etsn_host_ui_not_implemented(ev->method);
        send_host_answer(s, ev->pipeline, ev->call_id, ev->method, result, error);
        break;
    }
    case ETSN_EV_PIPELINE_STATE:
        s->pipeline_state = ev->state;
        if (ev->state == ETSN_PIPE_FAILED && ev->value && !s->want_output)
            etsn_host_ui_record(&s->ui, ETSN_MSG_ERROR_RECORD, ev->value);
        break;
    case ETSN_EV_POOL_STATE:
        if (ev->state == ETSN_POOL_BROKEN || ev->state == ETSN_POOL_CLOSED) {
            s->failed = true;
            if (ev->value) {
                etsn_error_record rec;
                etsn_error_record_read(ev->value, &rec);
                etsn_error_set(s->err, 0, "%s", rec.message ? rec.message : "");
            }
        }
        break;
    default:
        break;
    }
}

/* Runs one pipeline to its end, rendering as it goes. */
static int run_pipeline(session *s, uint32_t type, etsn_value *body, bool want_output)
{
    etsn_pipeline *p = etsn_client_pipeline(s->client, type, body);
    if (!p) {
        etsn_error_set(s->err, 0, "Out of memory.");
        return -1;
    }
    s->current = p;
    s->pipeline_state = ETSN_PIPE_RUNNING;
    s->want_output = want_output;
    s->outputs = 0;
    etsn_buf_reset(&s->first_output);
    int rc = etsn_client_build_command(s->client, p, &s->request) == 0 ? post(s, on_event, s) : -1;
    while (rc == 0 && !etsn_pipeline_done(p)) {
        if (etsn_client_build_receive(s->client, p, &s->request) < 0) {
            rc = -1;
            break;
        }
        rc = post(s, on_event, s);
        if (rc < 0 && s->err->winrm_code == WSMAN_OPERATION_TIMEOUT) rc = 0;
        if (s->failed) rc = -1;
    }
    etsn_pipeline_free(s->client, p);
    s->current = NULL;
    return rc;
}

static int open_pool(session *s)
{
    if (etsn_client_build_create(s->client, &s->request) < 0 || post(s, on_event, s) < 0) return -1;
    while (!etsn_client_pool_opened(s->client)) {
        if (etsn_client_build_receive(s->client, NULL, &s->request) < 0) return -1;
        int rc = post(s, on_event, s);
        if (rc < 0 && s->err->winrm_code == WSMAN_OPERATION_TIMEOUT) continue;
        if (rc < 0 || s->failed) return -1;
    }
    return 0;
}

/* GET_COMMAND_METADATA for the commands an interactive host needs
 * (client/RunspaceRef.cs): a count object and one object per command. */
static int check_required_commands(session *s)
{
    static const char *const names[] = {"Out-Default", "Exit-PSSession"};
    /* Alias | Function | Filter | Cmdlet | Configuration */
    etsn_value *body = etsn_msg_get_command_metadata(names, 2, 1 | 2 | 4 | 8 | 16);
    if (run_pipeline(s, ETSN_MSG_GET_COMMAND_METADATA, body, true) < 0 ||
        s->pipeline_state == ETSN_PIPE_FAILED || s->outputs < 3) {
        etsn_error_clear(s->err);
        etsn_error_set(s->err, 0,
                       "Enter-PSSession failed because the remote session does not provide "
                       "required commands.");
        snprintf(s->err->fqid, sizeof s->err->fqid, "%s",
                 "System.Management.Automation.PSRemotingDataStructureException");
        snprintf(s->err->category, sizeof s->err->category, "%s", "ResourceUnavailable");
        return -1;
    }
    return 0;
}

static etsn_value *line_pipeline(const char *line)
{
    etsn_command cmds[2] = {
        {.text = line, .is_script = true, .merge_my_result = 2, .merge_to_result = 1},
        {.text = "Out-Default",
         .has_use_local_scope = true,
         .use_local_scope = true,
         .merge_previous = 3},
    };
    return etsn_msg_create_pipeline(cmds, 2, true, NULL);
}

static etsn_value *prompt_pipeline(void)
{
    etsn_command cmd = {.text = "prompt"};
    return etsn_msg_create_pipeline(&cmd, 1, false, NULL);
}

/* PowerShell's console turns a line whose trimmed text is "exit" into
 * Exit-PSSession (ConsoleHost.cs); nothing else is interpreted locally. */
static bool is_exit(const char *line)
{
    while (isspace((unsigned char)*line)) line++;
    size_t n = strlen(line);
    while (n && isspace((unsigned char)line[n - 1])) n--;
    return n == 4 && !strncasecmp(line, "exit", 4);
}

static bool blank(const char *line)
{
    for (; *line; line++)
        if (!isspace((unsigned char)*line)) return false;
    return true;
}

static void close_shell(session *s)
{
    if (etsn_client_shell_created(s->client) &&
        etsn_client_build_delete(s->client, &s->request) == 0) {
        etsn_error scratch;
        etsn_error_clear(&scratch);
        etsn_error *saved = s->err;
        s->err = &scratch; /* a failed Delete does not change how the session ended */
        post(s, NULL, NULL);
        s->err = saved;
    }
}

static int interact(session *s)
{
    for (;;) {
        etsn_buf prompt = ETSN_BUF_INIT;
        if (run_pipeline(s, ETSN_MSG_CREATE_PIPELINE, prompt_pipeline(), true) < 0) return -1;
        const char *remote = s->first_output.len ? (const char *)s->first_output.data : "PS>";
        etsn_buf_printf(&prompt, "[%s]: %s", s->cfg->display_name, remote);
        char *line = s->cfg->read_line(s->cfg->read_line_ctx, (const char *)prompt.data);
        etsn_buf_free(&prompt);
        if (!line) return 0; /* end of input: leave as exit would */
        if (blank(line)) {
            free(line);
            continue;
        }
        int rc = run_pipeline(s, ETSN_MSG_CREATE_PIPELINE,
                              line_pipeline(is_exit(line) ? "Exit-PSSession" : line), false);
        free(line);
        fflush(s->cfg->out);
        if (rc < 0) return -1;
        if (s->ui.pop_requested || s->ui.exit_requested) return 0;
    }
}

int etsn_session_run(const etsn_session_config *cfg, etsn_error *err)
{
    session s = {.cfg = cfg, .err = err};
    s.ui.out = cfg->out;
    s.ui.err = cfg->err;
    s.ui.read_line = cfg->read_line;
    s.ui.read_line_ctx = cfg->read_line_ctx;
    int status = ETSN_EXIT_OPEN_FAILED;
    s.http = etsn_http_new(&cfg->http, err);
    if (!s.http) {
        /* Refused before any WinRM exchange (e.g. Basic over HTTP): the
         * message stands alone, without the "Connecting to remote server"
         * wrapper WinRM errors get (PushRunspaceCommand.cs). */
        snprintf(err->fqid, sizeof err->fqid, "CreateRemoteRunspaceFailed");
        snprintf(err->category, sizeof err->category, "InvalidArgument");
        goto out;
    }
    s.client = etsn_client_new(&cfg->client);
    if (!s.client) goto out;
    if (open_pool(&s) < 0 || check_required_commands(&s) < 0) goto out;
    if (interact(&s) < 0) {
        status = ETSN_EXIT_SESSION_LOST;
        goto out;
    }
    status = s.ui.exit_requested ? s.ui.exit_code : ETSN_EXIT_OK;
out:
    if (s.client) close_shell(&s);
    etsn_client_free(s.client);
    etsn_http_free(s.http);
    etsn_buf_free(&s.request);
    etsn_buf_free(&s.reply);
    etsn_buf_free(&s.first_output);
    return status;
}
