#include "session.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../core/message.h"
#include "../core/psrp_crypto.h"
#include "../core/psrp_msgs.h"
#include "../core/wsman.h"
#include "console.h"
#include "error_view.h"
#include "host_ui.h"
#include "interrupt.h"

/* WinRM's code for an OperationTimeout that expired on a Receive with
 * nothing to say (w:TimedOut): the client simply asks again. */
#define WSMAN_OPERATION_TIMEOUT 0x80338029u

/* One event from etsn_client_handle_reply, kept until the lock is
 * released: host calls may prompt the user, which must not hold up a
 * Ctrl+C on the watcher thread. */
typedef struct queued_event {
    etsn_event ev;
    struct queued_event *next;
} queued_event;

enum watch_mode { WATCH_CONNECTING, WATCH_PIPELINE };

typedef enum {
    RUN_OK,
    RUN_FAILED,     /* the pipeline ended Failed (its error is shown) */
    RUN_INCOMPLETE, /* IncompleteParseException: continue with ">> " */
    RUN_BROKEN,     /* the transport or the pool failed: the session is gone */
} run_result;

typedef struct {
    const etsn_session_config *cfg;
    etsn_error *err;

    /* The engine and the Signal path are shared with the watcher thread. */
    pthread_mutex_t lock;
    etsn_client *client;
    etsn_http *http;    /* main thread: Create, Command, Receive, Send, Delete */
    etsn_http *control; /* watcher thread: Signal while a Receive waits */
    etsn_pipeline *current;
    bool signal_sent;
    bool stopped_by_user;         /* the last typed command was stopped with Ctrl+C */
    atomic_bool cancelled;        /* Ctrl+C while connecting (set by the watcher) */
    atomic_bool abandoned;        /* a second Ctrl+C: stop waiting for the command */
    atomic_bool host_reading;     /* a host call reads the terminal: its Ctrl+C is its own */
    bool create_sent;             /* the shell may exist even without a CreateResponse */
    pthread_mutex_t control_lock; /* the control connection: made once, one Signal at a time */

    etsn_host_ui ui;
    etsn_host_info host;
    etsn_buf request, reply;
    queued_event *head, *tail;

    /* the pipeline being run */
    int pipeline_state;
    etsn_value *pipeline_error;
    bool capture_output; /* prompt, metadata and completion: keep, don't show */
    size_t outputs;
    etsn_buf first_output;
    etsn_value *captured; /* first output object when capturing */
    bool broken;

    /* GET_AVAILABLE_RUNSPACES answer */
    int64_t available;
    bool availability_known;

    /* protocol 2.3 SecureStrings */
    etsn_psrp_keys *keys;

    /* watcher thread */
    pthread_t watcher;
    bool watching;
    int stop_pipe[2];
    _Atomic enum watch_mode mode;
} session;

/* ---- events ---- */

static void on_event(void *ctx, const etsn_event *ev)
{
    session *s = ctx;
    /* Key material is pure state: take it at once (we are under the lock). */
    if (ev->kind == ETSN_EV_OTHER && ev->message_type == ETSN_MSG_ENCRYPTED_SESSION_KEY) {
        const char *b64 = etsn_v_as_str(etsn_v_get(ev->value, "EncryptedSessionKey"));
        char why[256];
        if (s->keys && b64) etsn_psrp_keys_accept_session_key(s->keys, b64, why, sizeof why);
        return;
    }
    if (ev->kind == ETSN_EV_OTHER && ev->message_type == ETSN_MSG_RUNSPACE_AVAILABILITY) {
        int64_t n;
        const etsn_value *v = etsn_v_get(ev->value, "SetMinMaxRunspacesResponse");
        if (v && etsn_v_as_i64(v, &n)) {
            s->available = n;
            s->availability_known = true;
        }
        return;
    }
    queued_event *q = calloc(1, sizeof *q);
    if (!q) return;
    q->ev = *ev;
    q->ev.value = ev->value ? etsn_v_ref((etsn_value *)ev->value) : NULL;
    q->ev.text = NULL;
    if (s->tail)
        s->tail->next = q;
    else
        s->head = q;
    s->tail = q;
}

/* Posts s->request on the main connection and feeds the reply to the
 * engine (under the lock). */
static int post(session *s)
{
    long status = 0;
    etsn_buf_reset(&s->reply);
    if (etsn_http_post(s->http, s->request.data, s->request.len, &s->reply, &status, s->err) < 0)
        return -1;
    pthread_mutex_lock(&s->lock);
    int rc = etsn_client_handle_reply(s->client, s->reply.data, s->reply.len, on_event, s, s->err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- Ctrl+C ---- */

/* WS-Man Signal powershell/signal/crtl_c on the running command, on the
 * control connection so that it goes out while the main one waits on a
 * Receive. Called from the watcher thread or the main thread. */
static void signal_ctrl_c(session *s)
{
    etsn_buf req = ETSN_BUF_INIT, reply = ETSN_BUF_INIT;
    pthread_mutex_lock(&s->lock);
    bool again = s->current && s->signal_sent;
    bool go = s->current && !s->signal_sent &&
              etsn_client_build_signal(s->client, s->current, ETSN_SIGNAL_CTRL_C, &req) == 0;
    if (go) s->signal_sent = true;
    pthread_mutex_unlock(&s->lock);
    if (again) {
        /* A second Ctrl+C: the server did not stop the command; stop
         * waiting for it (the session counts as broken). */
        s->abandoned = true;
        etsn_http_cancel(s->http);
    }
    if (go) {
        etsn_error e;
        etsn_error_clear(&e);
        long status = 0;
        /* The SignalResponse says nothing the engine needs; what the
         * signal does arrives on the command's own Receive. */
        pthread_mutex_lock(&s->control_lock);
        if (!s->control) s->control = etsn_http_new(&s->cfg->http, &e);
        if (s->control) etsn_http_post(s->control, req.data, req.len, &reply, &status, &e);
        pthread_mutex_unlock(&s->control_lock);
    }
    etsn_buf_free(&req);
    etsn_buf_free(&reply);
}

static void *watch(void *arg)
{
    session *s = arg;
    int cancel_ticks = 0;
    for (;;) {
        struct pollfd fds[2] = {{.fd = s->stop_pipe[0], .events = POLLIN},
                                {.fd = etsn_interrupt_fd(), .events = POLLIN}};
        /* After a cancel while connecting, cancel again every 100 ms: a
         * cancel that lands between two posts is forgotten by the next. */
        bool repeat = s->cancelled && s->mode == WATCH_CONNECTING;
        /* While a host call reads the terminal (Read-Host), Ctrl+C is the
         * line reader's to see; the session signals when it returns. */
        bool host_reads = s->host_reading;
        int n = poll(fds, host_reads ? 1 : 2, repeat || host_reads ? 100 : -1);
        if (n < 0 && errno != EINTR) break;
        if (fds[0].revents) break;
        if (n == 0 && repeat) {
            pthread_mutex_lock(&s->lock);
            bool created = etsn_client_shell_created(s->client);
            pthread_mutex_unlock(&s->lock);
            /* A Create that takes more than 5 s more is cut short too: the
             * Delete that follows names the ShellId we chose ourselves. */
            if (created || ++cancel_ticks > 50) etsn_http_cancel(s->http);
            continue;
        }
        if (n == 0 || host_reads) continue;
        if (!(fds[1].revents & POLLIN) || !etsn_interrupt_take()) continue;
        if (s->mode == WATCH_CONNECTING) {
            /* Let a Create in flight finish, so that the shell it makes is
             * known and can be deleted; a Receive waiting on the pool is
             * cut short. */
            s->cancelled = true;
            pthread_mutex_lock(&s->lock);
            bool created = etsn_client_shell_created(s->client);
            pthread_mutex_unlock(&s->lock);
            if (created) etsn_http_cancel(s->http);
        } else {
            signal_ctrl_c(s);
        }
    }
    return NULL;
}

static void start_watch(session *s, enum watch_mode mode)
{
    s->mode = mode;
    if (s->watching || etsn_interrupt_fd() < 0) return;
    etsn_interrupt_take(); /* a Ctrl+C typed before this point is spent */
    if (pthread_create(&s->watcher, NULL, watch, s) == 0) s->watching = true;
}

static void stop_watch(session *s)
{
    if (!s->watching) return;
    char byte = 0;
    if (write(s->stop_pipe[1], &byte, 1) < 0) {
    }
    pthread_join(s->watcher, NULL);
    while (read(s->stop_pipe[0], &byte, 1) > 0) {
    }
    s->watching = false;
}

/* ---- SecureStrings ---- */

static bool protocol_at_least(const char *version, int major, int minor)
{
    int a = 0, b = 0;
    if (!version || sscanf(version, "%d.%d", &a, &b) < 1) return false;
    return a > major || (a == major && b >= minor);
}

/* Protocol 2.3 and earlier: the session key exchange (MS-PSRP 3.1.5.4.4),
 * done the first time a SecureString must go to the server. */
static bool ensure_session_key(session *s)
{
    if (s->keys && etsn_psrp_keys_ready(s->keys)) return true;
    char why[256];
    if (!s->keys && !(s->keys = etsn_psrp_keys_client_new(why, sizeof why))) return false;
    etsn_buf blob = ETSN_BUF_INIT;
    etsn_value *body = etsn_v_obj();
    bool ok = body && etsn_psrp_keys_public_blob(s->keys, &blob) == 0 &&
              etsn_obj_add_member(body, "PublicKey", etsn_v_string((const char *)blob.data)) == 0;
    etsn_buf_free(&blob);
    if (!ok) {
        etsn_v_free(body);
        return false;
    }
    etsn_buf req = ETSN_BUF_INIT;
    etsn_buf saved = s->request;
    s->request = req;
    pthread_mutex_lock(&s->lock);
    int rc =
        etsn_client_build_send(s->client, NULL, "stdin", ETSN_MSG_PUBLIC_KEY, body, &s->request);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0) rc = post(s);
    for (int tries = 0; rc == 0 && !etsn_psrp_keys_ready(s->keys) && tries < 20; tries++) {
        pthread_mutex_lock(&s->lock);
        rc = etsn_client_build_receive(s->client, NULL, &s->request);
        pthread_mutex_unlock(&s->lock);
        if (rc == 0) rc = post(s);
        if (rc < 0 && s->err->winrm_code == WSMAN_OPERATION_TIMEOUT) rc = 0;
    }
    etsn_buf_free(&s->request);
    s->request = saved;
    return etsn_psrp_keys_ready(s->keys);
}

static etsn_value *make_secure_string(void *ctx, const uint8_t *utf16le, size_t len)
{
    session *s = ctx;
    if (protocol_at_least(etsn_client_server_protocol(s->client), 2, 4))
        return etsn_v_text(ETSN_V_SECURESTRING, (const char *)utf16le, len);
    if (!ensure_session_key(s)) return NULL;
    etsn_buf cipher = ETSN_BUF_INIT;
    etsn_value *v = NULL;
    if (etsn_secure_string_encrypt(s->keys, utf16le, len, &cipher) == 0)
        v = etsn_v_text(ETSN_V_SECURESTRING, (const char *)cipher.data, cipher.len);
    etsn_buf_free(&cipher);
    return v;
}

/* ---- running pipelines ---- */

static void answer_host_call(session *s, etsn_pipeline *p, int64_t call_id, int method,
                             etsn_value *result, etsn_value *error)
{
    uint32_t type = p ? ETSN_MSG_PIPELINE_HOST_RESPONSE : ETSN_MSG_RUNSPACEPOOL_HOST_RESPONSE;
    pthread_mutex_lock(&s->lock);
    int rc =
        etsn_client_build_send(s->client, p, "pr", type,
                               etsn_msg_host_response(call_id, method, result, error), &s->request);
    pthread_mutex_unlock(&s->lock);
    /* The server waits for this answer: without it the command can never
     * end, so a failed Send breaks the session. */
    if (rc != 0 || post(s) != 0) s->broken = true;
}

static void handle_event(session *s, const etsn_event *ev)
{
    switch (ev->kind) {
    case ETSN_EV_OUTPUT:
        s->outputs++;
        if (s->capture_output) {
            if (s->outputs == 1) {
                const char *text = etsn_v_as_str(ev->value);
                etsn_buf_append_str(&s->first_output, text ? text : "");
                s->captured = etsn_v_ref((etsn_value *)ev->value);
            }
        } else {
            etsn_buf text = ETSN_BUF_INIT;
            etsn_v_display(ev->value, &text);
            fprintf(s->cfg->out, "%s\n", text.data ? (char *)text.data : "");
            etsn_buf_free(&text);
        }
        break;
    case ETSN_EV_ERROR_RECORD:
    case ETSN_EV_RECORD:
        if (!s->capture_output) etsn_host_ui_record(&s->ui, ev->message_type, ev->value);
        break;
    case ETSN_EV_HOST_CALL: {
        etsn_value *result = NULL, *error = NULL;
        etsn_line_input *li = s->cfg->line_input;
        if (li) {
            li->host_read = true; /* no history, no remote completion */
            li->interrupted = false;
        }
        s->host_reading = true;
        bool done = etsn_host_ui_call(&s->ui, ev->method, ev->value, &result, &error);
        s->host_reading = false;
        if (li) {
            li->host_read = false;
            if (li->interrupted) s->ui.interrupted = true;
            li->interrupted = false;
        }
        if (s->ui.interrupted) {
            /* Ctrl+C at a prompt the host read itself (raw mode sees it as a
             * key, not a signal): stop the command as Ctrl+C would. */
            s->ui.interrupted = false;
            signal_ctrl_c(s);
        }
        if (ev->call_id == -100) { /* a void call: no answer */
            etsn_v_free(result);
            etsn_v_free(error);
            break;
        }
        if (!done) error = etsn_host_ui_not_implemented(ev->method);
        answer_host_call(s, ev->pipeline, ev->call_id, ev->method, result, error);
        break;
    }
    case ETSN_EV_PIPELINE_STATE:
        s->pipeline_state = ev->state;
        if (ev->value && !s->pipeline_error)
            s->pipeline_error = etsn_v_ref((etsn_value *)ev->value);
        break;
    case ETSN_EV_POOL_STATE:
        if (ev->state == ETSN_POOL_BROKEN || ev->state == ETSN_POOL_CLOSED) {
            s->broken = true;
            etsn_error_record rec;
            etsn_error_record_read(ev->value, &rec);
            etsn_error_set(s->err, 0, "%s",
                           rec.message ? rec.message
                                       : "The remote session was closed or is no longer usable.");
        }
        break;
    default:
        break;
    }
}

static void drain_events(session *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        queued_event *q = s->head;
        if (q) {
            s->head = q->next;
            if (!s->head) s->tail = NULL;
        }
        pthread_mutex_unlock(&s->lock);
        if (!q) break;
        handle_event(s, &q->ev);
        etsn_v_free((etsn_value *)q->ev.value);
        free(q);
    }
}

static void discard_events(session *s)
{
    while (s->head) {
        queued_event *q = s->head;
        s->head = q->next;
        etsn_v_free((etsn_value *)q->ev.value);
        free(q);
    }
    s->tail = NULL;
}

/* ConsoleHost.cs ReportException: a pipeline's terminating error goes to
 * Out-Default, which shows the ErrorRecord in the default error view — pwsh
 * 7's ConciseView (protocol 2.4), Windows PowerShell's NormalView before. */
static void show_terminating_error(session *s)
{
    const char *proto = etsn_client_server_protocol(s->client);
    bool concise = proto && strcmp(proto, "2.4") >= 0;
    etsn_buf b = ETSN_BUF_INIT;
    if (etsn_error_view_render(s->pipeline_error, concise, &b) == 0 && b.data &&
        etsn_buf_append_byte(&b, 0) == 0)
        etsn_console_write_styled(&s->ui, s->ui.err, ETSN_STYLE_ERROR, (const char *)b.data, true);
    etsn_buf_free(&b);
}

/* Runs one pipeline to its end, rendering as it goes. */
static run_result run_pipeline(session *s, uint32_t type, etsn_value *body, bool capture)
{
    pthread_mutex_lock(&s->lock);
    etsn_pipeline *p = etsn_client_pipeline(s->client, type, body);
    s->current = p;
    s->signal_sent = false;
    pthread_mutex_unlock(&s->lock);
    if (!p) {
        etsn_error_set(s->err, 0, "Out of memory.");
        return RUN_BROKEN;
    }
    s->pipeline_state = ETSN_PIPE_RUNNING;
    etsn_v_free(s->pipeline_error);
    s->pipeline_error = NULL;
    etsn_v_free(s->captured);
    s->captured = NULL;
    s->capture_output = capture;
    s->outputs = 0;
    etsn_buf_reset(&s->first_output);

    start_watch(s, WATCH_PIPELINE);
    pthread_mutex_lock(&s->lock);
    int rc = etsn_client_build_command(s->client, p, &s->request);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0) rc = post(s);
    drain_events(s);
    int after_final = 0;
    while (rc == 0 && !etsn_pipeline_done(p) && !s->broken && !s->abandoned) {
        /* A final PIPELINE_STATE should come with CommandState Done; a
         * server that never sends Done gets two more Receives, not more. */
        if (s->pipeline_state == ETSN_PIPE_COMPLETED || s->pipeline_state == ETSN_PIPE_FAILED ||
            s->pipeline_state == ETSN_PIPE_STOPPED) {
            if (++after_final > 2) break;
        }
        pthread_mutex_lock(&s->lock);
        rc = etsn_client_build_receive(s->client, p, &s->request);
        pthread_mutex_unlock(&s->lock);
        if (rc == 0) rc = post(s);
        if (rc < 0 && s->err->winrm_code == WSMAN_OPERATION_TIMEOUT) {
            etsn_error_clear(s->err);
            rc = 0;
        }
        drain_events(s);
    }
    stop_watch(s);
    if (!capture) s->stopped_by_user = s->signal_sent;
    etsn_host_ui_end_pipeline(&s->ui);
    pthread_mutex_lock(&s->lock);
    s->current = NULL;
    etsn_pipeline_free(s->client, p);
    pthread_mutex_unlock(&s->lock);

    if (s->abandoned) {
        etsn_error_set(s->err, 0, "The command did not stop after Ctrl+C.");
        rc = -1;
    }
    if (rc < 0 || s->broken) {
        /* A typed command learns of the break and says so, in the words of
         * the command transport (RemotingErrorIdStrings
         * CommandReceiveExCallBackError); the prompt pipeline is silent, as
         * ConsoleHost drops a failing prompt's error. */
        if (!capture && s->err->message[0]) {
            if (s->broken)
                fprintf(s->cfg->err, "%s\n", s->err->message);
            else
                fprintf(s->cfg->err,
                        "Processing data for a remote command failed with the following error "
                        "message: %s\n",
                        s->err->message);
        }
        return RUN_BROKEN;
    }
    if (s->pipeline_state == ETSN_PIPE_FAILED) {
        etsn_error_record rec;
        etsn_error_record_read(s->pipeline_error, &rec);
        /* ConsoleHost.IsIncompleteParseException: the remote error's
         * CategoryInfo.Reason. */
        if (rec.reason && !strcmp(rec.reason, "IncompleteParseException")) return RUN_INCOMPLETE;
        if (!capture && s->pipeline_error) show_terminating_error(s);
        return RUN_FAILED;
    }
    return RUN_OK;
}

/* ---- opening ---- */

static bool wait_interruptible(int ms)
{
    struct pollfd fd = {.fd = etsn_interrupt_fd(), .events = POLLIN};
    if (fd.fd < 0) {
        usleep((useconds_t)ms * 1000);
        return false;
    }
    /* The signal may land on this very thread and end the poll with EINTR
     * before the pipe is seen: look at the pipe either way. */
    (void)poll(&fd, 1, ms);
    return etsn_interrupt_take();
}

static int open_pool(session *s)
{
    start_watch(s, WATCH_CONNECTING);
    int rc = -1;
    if (etsn_client_build_create(s->client, &s->request) == 0) {
        s->create_sent = true;
        rc = post(s);
    }
    while (rc == 0 && !etsn_client_pool_opened(s->client) && !s->broken && !s->cancelled) {
        pthread_mutex_lock(&s->lock);
        rc = etsn_client_build_receive(s->client, NULL, &s->request);
        pthread_mutex_unlock(&s->lock);
        if (rc == 0) rc = post(s);
        if (rc < 0 && s->err->winrm_code == WSMAN_OPERATION_TIMEOUT) rc = 0;
    }
    stop_watch(s);
    discard_events(s);
    return rc < 0 || s->broken || s->cancelled ? -1 : 0;
}

/* RunspaceAvailability (PushRunspaceCommand.cs): a pool with no runspace
 * free is busy; PowerShell warns and connects as soon as one is. */
static int wait_until_available(session *s)
{
    bool warned = false;
    for (int64_t ci = 1;; ci++) {
        etsn_value *body = etsn_v_obj();
        if (!body || etsn_obj_add_member(body, "ci", etsn_v_i64(ci)) < 0) {
            etsn_v_free(body);
            return -1;
        }
        s->availability_known = false;
        pthread_mutex_lock(&s->lock);
        int rc = etsn_client_build_send(s->client, NULL, "stdin", ETSN_MSG_GET_AVAILABLE_RUNSPACES,
                                        body, &s->request);
        pthread_mutex_unlock(&s->lock);
        if (rc == 0) rc = post(s);
        start_watch(s, WATCH_CONNECTING);
        for (int tries = 0;
             rc == 0 && !s->availability_known && !s->broken && !s->cancelled && tries < 20;
             tries++) {
            pthread_mutex_lock(&s->lock);
            rc = etsn_client_build_receive(s->client, NULL, &s->request);
            pthread_mutex_unlock(&s->lock);
            if (rc == 0) rc = post(s);
            if (rc < 0 && s->err->winrm_code == WSMAN_OPERATION_TIMEOUT) rc = 0;
        }
        stop_watch(s);
        discard_events(s);
        if (rc < 0 || s->broken || s->cancelled) return -1;
        if (!s->availability_known) {
            etsn_error_set(s->err, 0, "The server did not say whether the session is available.");
            return -1;
        }
        if (s->available != 0) return 0;
        if (!warned) {
            etsn_value *mp = etsn_v_obj();
            etsn_obj_set_coll(mp, ETSN_COLL_LST);
            etsn_obj_push_item(mp, etsn_v_string("The session is busy. You will be connected to "
                                                 "the session as soon as it is available. To "
                                                 "cancel the Enter-PSSession command, press "
                                                 "Ctrl-C."));
            etsn_value *r = NULL, *e = NULL;
            etsn_host_ui_call(&s->ui, 22 /* WriteWarningLine */, mp, &r, &e);
            etsn_v_free(mp);
            fflush(s->cfg->err);
            fflush(s->cfg->out);
            warned = true;
        }
        if (wait_interruptible(1000)) {
            s->cancelled = true;
            return -1;
        }
    }
}

/* GET_COMMAND_METADATA for the commands an interactive host needs
 * (client/RunspaceRef.cs): a count object and one object per command. */
static int check_required_commands(session *s)
{
    static const char *const names[] = {"Out-Default", "Exit-PSSession"};
    /* Alias | Function | Filter | Cmdlet | Configuration */
    etsn_value *body = etsn_msg_get_command_metadata(names, 2, 1 | 2 | 4 | 8 | 16);
    run_result r = run_pipeline(s, ETSN_MSG_GET_COMMAND_METADATA, body, true);
    if (r == RUN_BROKEN || s->cancelled) return -1;
    if (r != RUN_OK || s->outputs < 3) {
        etsn_error_clear(s->err);
        etsn_error_set(s->err, 0,
                       "Enter-PSSession failed because the remote session does not provide "
                       "required commands.");
        snprintf(s->err->fqid, sizeof s->err->fqid, "%s", "PSRemotingDataStructureException");
        snprintf(s->err->category, sizeof s->err->category, "%s", "ResourceUnavailable");
        return -1;
    }
    return 0;
}

/* ---- the prompt loop ---- */

static void current_host(session *s)
{
    if (s->cfg->host_info) s->cfg->host_info(&s->host);
}

static etsn_value *line_pipeline(session *s, const char *line)
{
    etsn_command cmds[2] = {
        {.text = line, .is_script = true, .merge_my_result = 2, .merge_to_result = 1},
        {.text = "Out-Default",
         .has_use_local_scope = true,
         .use_local_scope = true,
         .merge_previous = 3},
    };
    current_host(s);
    return etsn_msg_create_pipeline(cmds, 2, true, &s->host);
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

/* Remote tab completion: TabExpansion2 run remotely with the input and the
 * cursor, as CommandCompletion.CompleteInput does for a remote runspace. */
static size_t complete(void *ctx, const char *line, size_t cursor, char ***matches,
                       size_t *replace_start, size_t *replace_len)
{
    session *s = ctx;
    *matches = NULL;
    /* Only at the session's own prompt: a one-runspace pool cannot run
     * TabExpansion2 while a command waits on a host prompt. */
    if (s->current) return 0;
    etsn_value *input = etsn_v_string(line);
    etsn_value *column = etsn_v_i32((int32_t)cursor);
    etsn_value *none = etsn_v_nil();
    etsn_command_arg args[3] = {{NULL, input}, {NULL, column}, {NULL, none}};
    etsn_command cmd = {.text = "TabExpansion2", .args = args, .n_args = 3};
    etsn_value *body = etsn_msg_create_pipeline(&cmd, 1, false, NULL);
    etsn_v_free(input);
    etsn_v_free(column);
    etsn_v_free(none);
    if (!body || run_pipeline(s, ETSN_MSG_CREATE_PIPELINE, body, true) != RUN_OK || !s->captured)
        return 0;
    int64_t start = 0, len = 0;
    etsn_v_as_i64(etsn_v_get(s->captured, "ReplacementIndex"), &start);
    etsn_v_as_i64(etsn_v_get(s->captured, "ReplacementLength"), &len);
    const etsn_value *list = etsn_v_get(s->captured, "CompletionMatches");
    size_t n = list ? list->n_items : 0;
    size_t line_len = strlen(line);
    if (n == 0 || start < 0 || len < 0 || (uint64_t)start > line_len ||
        (uint64_t)len > line_len - (size_t)start)
        return 0;
    *matches = calloc(n, sizeof **matches);
    size_t got = 0;
    for (size_t i = 0; *matches && i < n; i++) {
        const char *text = etsn_v_as_str(etsn_v_get(list->items[i], "CompletionText"));
        if (text && ((*matches)[got] = strdup(text))) got++;
    }
    *replace_start = (size_t)start;
    *replace_len = (size_t)len;
    return got;
}

/* Reads the next line at the remote prompt; NULL at the end of input. */
static char *read_command(session *s, bool block_mode, run_result *failure)
{
    *failure = RUN_OK;
    if (block_mode) return s->cfg->read_line(s->cfg->read_line_ctx, ">> ");
    run_result r = run_pipeline(s, ETSN_MSG_CREATE_PIPELINE, prompt_pipeline(), true);
    if (r == RUN_BROKEN) {
        *failure = r;
        return NULL;
    }
    /* The terminal echoed ^C (and any type-ahead) on the current row while
     * the command ran; PowerShell's console echoes nothing there, so the
     * prompt starts on a clean row. */
    if (s->stopped_by_user && s->ui.terminal) {
        fputs("\r\033[K", s->cfg->out);
        s->stopped_by_user = false;
    }
    /* HostUtilities.GetRemotePrompt: "[{0}]: {1}", "PS>" when prompt gave
     * nothing. */
    etsn_buf prompt = ETSN_BUF_INIT;
    const char *remote = s->first_output.len ? (const char *)s->first_output.data : "PS>";
    etsn_buf_printf(&prompt, "[%s]: %s", s->cfg->display_name, remote);
    char *line = s->cfg->read_line(s->cfg->read_line_ctx, (const char *)prompt.data);
    etsn_buf_free(&prompt);
    return line;
}

/* After the session broke, ConsoleHost pops it and answers the next line
 * with CommandNotExecuted (ConsoleHostStrings.resx; no final period). */
static void report_broken(session *s)
{
    fflush(s->cfg->err);
    char *line = s->cfg->read_line(s->cfg->read_line_ctx, "");
    if (line && !blank(line))
        fprintf(s->cfg->err,
                "Command '%s' was not run as the session in which it was intended to run was "
                "either closed or broken\n",
                line);
    free(line);
}

static int interact(session *s)
{
    bool block_mode = false;
    etsn_buf block = ETSN_BUF_INIT;
    int status = ETSN_EXIT_OK;
    for (;;) {
        run_result r;
        char *line = read_command(s, block_mode, &r);
        if (r == RUN_BROKEN) {
            status = ETSN_EXIT_SESSION_LOST;
            report_broken(s);
            break;
        }
        if (!line) break; /* end of input: leave as exit would */
        const char *text = line;
        if (blank(line)) {
            if (!block_mode) {
                free(line);
                continue;
            }
            block_mode = false; /* a blank line runs the block */
            text = (const char *)block.data;
        } else if (block_mode) {
            etsn_buf_append_byte(&block, '\n');
            etsn_buf_append_str(&block, line);
            free(line);
            continue;
        }
        r = run_pipeline(s, ETSN_MSG_CREATE_PIPELINE,
                         line_pipeline(s, !block_mode && is_exit(text) ? "Exit-PSSession" : text),
                         false);
        if (r == RUN_INCOMPLETE && text != (const char *)block.data) {
            etsn_buf_reset(&block); /* a new block starts with this line */
            etsn_buf_append_str(&block, text);
        }
        /* Still incomplete after a blank line: keep the block and go on
         * collecting (ConsoleHost.HandleErrors). */
        if (r == RUN_INCOMPLETE) block_mode = true;
        free(line);
        fflush(s->cfg->out);
        fflush(s->cfg->err);
        if (r == RUN_BROKEN) {
            status = ETSN_EXIT_SESSION_LOST;
            report_broken(s);
            break;
        }
        if (s->ui.pop_requested || s->ui.exit_requested) break;
    }
    etsn_buf_free(&block);
    return status;
}

static void close_shell(session *s)
{
    /* A Create cut short by Ctrl+C may still have made the shell: its
     * ShellId is ours, so ask for the Delete all the same. */
    if (!etsn_client_shell_created(s->client) && !(s->create_sent && s->cancelled)) return;
    etsn_error scratch;
    etsn_error_clear(&scratch);
    etsn_error *saved = s->err;
    s->err = &scratch; /* a failed Delete does not change how the session ended */
    if (etsn_client_build_delete(s->client, &s->request) == 0) post(s);
    discard_events(s);
    s->err = saved;
}

int etsn_session_run(const etsn_session_config *cfg, etsn_error *err)
{
    session s = {.cfg = cfg, .err = err, .stop_pipe = {-1, -1}};
    pthread_mutex_init(&s.lock, NULL);
    pthread_mutex_init(&s.control_lock, NULL);
    etsn_host_ui_init(&s.ui, cfg->out, cfg->err, STDIN_FILENO, cfg->display_name);
    s.ui.read_line = cfg->read_line;
    s.ui.read_line_ctx = cfg->read_line_ctx;
    s.ui.make_secure_string = make_secure_string;
    s.ui.secure_ctx = &s;
    s.host = cfg->client.host;
    int status = ETSN_EXIT_OPEN_FAILED;
    if (pipe2(s.stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) goto out;
    etsn_interrupt_install();

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
    if (open_pool(&s) < 0 || wait_until_available(&s) < 0 || check_required_commands(&s) < 0) {
        if (s.cancelled) status = ETSN_EXIT_CANCELLED;
        goto out;
    }
    if (cfg->line_input) {
        cfg->line_input->complete = complete;
        cfg->line_input->complete_ctx = &s;
    }
    status = interact(&s);
    if (status == ETSN_EXIT_OK && s.ui.exit_requested) status = s.ui.exit_code;
    if (cfg->line_input) cfg->line_input->complete = NULL;
out:
    stop_watch(&s);
    if (s.client && s.http) close_shell(&s);
    etsn_host_ui_finish(&s.ui);
    discard_events(&s);
    etsn_client_free(s.client);
    etsn_http_free(s.http);
    etsn_http_free(s.control);
    etsn_psrp_keys_free(s.keys);
    etsn_v_free(s.pipeline_error);
    etsn_v_free(s.captured);
    /* A 2.4 SecureString travels in clear inside these. */
    etsn_buf_free_secure(&s.request);
    etsn_buf_free_secure(&s.reply);
    etsn_buf_free(&s.first_output);
    if (s.stop_pipe[0] >= 0) close(s.stop_pipe[0]);
    if (s.stop_pipe[1] >= 0) close(s.stop_pipe[1]);
    pthread_mutex_destroy(&s.lock);
    pthread_mutex_destroy(&s.control_lock);
    return status;
}
