/* The WinRS cmd shell of etsn-mockd (see winrs.h). Messages follow WinRM's
 * as recorded against Windows Server (pypsrp's WinRS test recordings):
 * MS-WSMV 3.1.4.5 (Create), Command, Send, 3.1.4.14 (Receive), 2.2.4.38
 * (Signal), Delete. */
#include "winrs.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../ref/core/guid.h"
#include "http_server.h"
#include "replay.h"

/* A Windows server whose OEM code page is 437 (en-US) writes console
 * output in it when the client names no WINRS_CODEPAGE. */
#define DEFAULT_CODEPAGE 437u
#define DEFAULT_TIMEOUT_MS 60000u
#define DEFAULT_ENVELOPE 153600u
/* WinRM's default IdleTimeOut as its CreateResponse states it. */
#define DEFAULT_IDLE "PT7200.000S"
/* Bytes around one rsp:Stream element (name, CommandId, tags). */
#define STREAM_OVERHEAD 160u
#define CTRL_C_EXIT (-1073741510LL) /* STATUS_CONTROL_C_EXIT */
#define MAX_SHELLS 64
#define MAX_COMMANDS 256

#define CLIXML_HEAD                                                                                \
    "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/"      \
    "2004/04\">"

#define FAULT_SELECTORS_REASON                                                                     \
    "The WS-Management service cannot process the request because the request contained "          \
    "invalid selectors for the resource. "

typedef enum { WC_RUNNING, WC_SLEEPING, WC_WAIT_SIGNAL, WC_DONE } wc_state;

typedef struct wchunk {
    struct wchunk *next;
    bool err; /* stderr, else stdout */
    uint8_t *data;
    size_t len, off;
} wchunk;

typedef struct wcmd {
    struct wcmd *next;
    char id[37];
    char *label; /* fixture command (or the line) for events and facts */
    const wx_step *steps;
    size_t n_steps;
    wx_step own[2]; /* built-in answer of an unknown command */
    char *own_text;
    size_t idx;
    wc_state st;
    struct timespec wake;
    int64_t exit_code;
    bool clixml_open;
    bool done_reported;
    wchunk *head, *tail;
    size_t queued;
} wcmd;

typedef struct wshell {
    struct wshell *next;
    char id[37];
    unsigned codepage;
    wcmd *cmds;
    size_t n_cmds;
} wshell;

typedef struct {
    char *key;
    char *detail;
} wfact;

struct mock_winrs {
    const mock_winrs_fixture *fx;
    const char *computer;
    mock_report *report;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    const bool *stopping;
    wshell *shells;
    size_t n_shells;
    wfact *facts;
    size_t n_facts;
    unsigned *runs; /* per fixture command: how often its line ran (for run=) */
};

/* ---- bookkeeping ---- */

static void event(mock_winrs *w, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void event(mock_winrs *w, const char *kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mock_report_event(w->report, kind, buf);
}

static void fact(mock_winrs *w, const char *key, const char *detail)
{
    for (size_t i = 0; i < w->n_facts; i++)
        if (!strcasecmp(w->facts[i].key, key)) return;
    wfact *f = realloc(w->facts, (w->n_facts + 1) * sizeof *f);
    if (!f) return;
    w->facts = f;
    f[w->n_facts].key = strdup(key);
    f[w->n_facts].detail = strdup(detail ? detail : "");
    if (!f[w->n_facts].key || !f[w->n_facts].detail) {
        free(f[w->n_facts].key);
        free(f[w->n_facts].detail);
        return;
    }
    w->n_facts++;
}

static struct timespec now_plus(uint32_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static bool reached(const struct timespec *t)
{
    struct timespec now = now_plus(0);
    return !before(&now, t);
}

static void new_id(char out[37])
{
    etsn_guid g;
    if (etsn_guid_random(&g) < 0) memset(&g, 0, sizeof g);
    etsn_guid_format(&g, out, true);
}

static wshell *find_shell(const mock_winrs *w, const char *id)
{
    for (wshell *s = w ? w->shells : NULL; s && id; s = s->next)
        if (!strcasecmp(s->id, id)) return s;
    return NULL;
}

static wcmd *find_cmd(wshell *sh, const char *id)
{
    for (wcmd *c = sh->cmds; c && id; c = c->next)
        if (!strcasecmp(c->id, id)) return c;
    return NULL;
}

static void cmd_free(wcmd *c)
{
    while (c->head) {
        wchunk *k = c->head;
        c->head = k->next;
        free(k->data);
        free(k);
    }
    free(c->label);
    free(c->own_text);
    free(c);
}

static void remove_cmd(wshell *sh, wcmd *c)
{
    for (wcmd **pp = &sh->cmds; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            sh->n_cmds--;
            break;
        }
    cmd_free(c);
}

static void shell_free(wshell *sh)
{
    while (sh->cmds) {
        wcmd *c = sh->cmds;
        sh->cmds = c->next;
        cmd_free(c);
    }
    free(sh);
}

/* ---- faults (WinRM's texts, as recorded) ---- */

/* WinRM names in a fault's Machine attribute the host the client addressed:
 * the host of the request's To (recordings: To https://127.0.0.1:55986/wsman
 * gives Machine="127.0.0.1"), else the fixture's computer. */
static const char *machine(const mock_winrs *w, const etsn_wsman_msg *m, char *buf, size_t n)
{
    const char *p = m->to ? strstr(m->to, "://") : NULL;
    if (!p) return w->computer;
    p += 3;
    size_t len;
    if (*p == '[') {
        const char *e = strchr(p, ']');
        len = e ? (size_t)(e - p + 1) : strlen(p);
    } else {
        len = strcspn(p, ":/");
    }
    if (!len || len >= n) return w->computer;
    memcpy(buf, p, len);
    buf[len] = 0;
    return buf;
}

static int fault_timeout(mock_winrs *w, const etsn_wsman_msg *m, etsn_buf *reply)
{
    char host[256];
    etsn_wsman_build_fault(reply, m->message_id, "s:Receiver", "w:TimedOut", 2150858793u,
                           machine(w, m, host, sizeof host),
                           "The WS-Management service cannot complete the operation within the "
                           "time specified in OperationTimeout.  ");
    return 500;
}

static int fault_no_command(mock_winrs *w, const etsn_wsman_msg *m, wshell *sh, const char *what,
                            const char *cid, etsn_buf *reply)
{
    char host[256];
    etsn_buf known = ETSN_BUF_INIT;
    for (wcmd *c = sh->cmds; c; c = c->next)
        etsn_buf_printf(&known, "%s%s", known.len ? ", " : "", c->id);
    char req[300];
    snprintf(req, sizeof req, "%s CommandId=%s", what, cid ? cid : "(none)");
    mock_report_unmatched(w->report, req,
                          known.len ? (const char *)known.data : "Command (none is running)",
                          "unknown CommandId: the client must echo the server's CommandId");
    etsn_buf_free(&known);
    etsn_wsman_fault f = {
        .code = "s:Sender",
        .subcode = "w:InvalidSelectors",
        .reason = FAULT_SELECTORS_REASON,
        .fault_detail =
            "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors",
        .wsman_code = 2150858843u,
        .machine = machine(w, m, host, sizeof host),
        .message = "The Windows Remote Shell received a request to perform an operation on a "
                   "command identifier that does not exist. Either the command has completed "
                   "execution or the client specified an invalid command identifier. "};
    etsn_wsman_build_fault_full(reply, m->message_id, &f);
    return 500;
}

/* The cmd plugin's own errors come wrapped in a ProviderFault. */
static int fault_provider(mock_winrs *w, const etsn_wsman_msg *m, const char *code,
                          const char *subcode, const char *detail, uint32_t wsman_code,
                          const char *text, etsn_buf *reply)
{
    char host[256];
    etsn_wsman_fault f = {.code = code,
                          .subcode = subcode,
                          .reason = text,
                          .fault_detail = detail,
                          .wsman_code = wsman_code,
                          .machine = machine(w, m, host, sizeof host),
                          .message = text,
                          .provider = "Shell cmd plugin",
                          .provider_path = "%systemroot%\\system32\\winrscmd.dll"};
    etsn_wsman_build_fault_full(reply, m->message_id, &f);
    return 500;
}

/* ---- Create ---- */

static void describe_create(mock_winrs *w, const etsn_wsman_msg *m, const char *sid)
{
    etsn_buf d = ETSN_BUF_INIT;
    etsn_buf_printf(&d, "ShellId %s", sid);
    for (size_t i = 0; i < m->n_options; i++)
        etsn_buf_printf(&d, ", %s=%s", m->options[i].name, m->options[i].value);
    if (m->working_directory) etsn_buf_printf(&d, ", WorkingDirectory %s", m->working_directory);
    if (m->idle_timeout) etsn_buf_printf(&d, ", IdleTimeOut %s", m->idle_timeout);
    for (size_t i = 0; i < m->n_environment; i++)
        etsn_buf_printf(&d, ", env %s=%s", m->environment[i].name, m->environment[i].value);
    event(w, "winrs-create", "%s", d.data ? (const char *)d.data : "");
    etsn_buf_free(&d);
}

/* WinRM echoes a variable's Name with each backslash taken as an escape of
 * the next character ("/\?" comes back "/?" in pypsrp's recorded
 * test_winrs_environment); values come back as sent. */
static etsn_wsman_option *echo_environment(const etsn_wsman_msg *m)
{
    etsn_wsman_option *env = calloc(m->n_environment ? m->n_environment : 1, sizeof *env);
    for (size_t i = 0; env && i < m->n_environment; i++) {
        const char *src = m->environment[i].name;
        char *name = malloc(strlen(src) + 1), *d = name;
        for (; name && *src; src++) {
            if (*src == '\\' && src[1]) src++;
            *d++ = *src;
        }
        if (d) *d = 0;
        env[i].name = name;
        env[i].value = m->environment[i].value;
    }
    return env;
}

static void free_environment(etsn_wsman_option *env, size_t n)
{
    for (size_t i = 0; env && i < n; i++) free(env[i].name);
    free(env);
}

static int do_create(mock_winrs *w, const etsn_wsman_msg *m, const char *user, etsn_buf *reply)
{
    char host[256];
    if (w->n_shells >= MAX_SHELLS) {
        mock_report_unmatched(w->report, "Create", "Delete of an earlier shell",
                              "too many WinRS shells open");
        etsn_wsman_build_fault(reply, m->message_id, "s:Receiver", "w:InternalError", 2150858752u,
                               machine(w, m, host, sizeof host),
                               "etsn-mockd: too many WinRS shells are open.");
        return 500;
    }
    wshell *sh = calloc(1, sizeof *sh);
    if (!sh) return -1;
    new_id(sh->id);
    sh->codepage = DEFAULT_CODEPAGE;
    const char *cp = etsn_wsman_option_value(m, "WINRS_CODEPAGE");
    if (cp) {
        char *end;
        unsigned long v = strtoul(cp, &end, 10);
        if (end != cp && !*end && v > 0 && v < 100000) sh->codepage = (unsigned)v;
    }
    char cpkey[40];
    snprintf(cpkey, sizeof cpkey, "winrs-codepage:%u", sh->codepage);
    fact(w, cpkey, sh->id);
    fact(w, "winrs-shell-created", sh->id);
    describe_create(w, m, sh->id);
    /* IdleTimeOut is echoed in WinRM's form, with milliseconds. */
    char idle[40] = DEFAULT_IDLE;
    uint32_t ms;
    if (m->idle_timeout && etsn_wsman_parse_duration(m->idle_timeout, &ms) == 0)
        snprintf(idle, sizeof idle, "PT%" PRIu32 ".%03" PRIu32 "S", ms / 1000, ms % 1000);
    const char *peer = mock_http_peer_address();
    etsn_wsman_option *env = echo_environment(m);
    for (size_t i = 0; env && i < m->n_environment; i++)
        if (!env[i].name) {
            free_environment(env, m->n_environment);
            env = NULL;
        }
    if (!env) {
        free(sh);
        return -1;
    }
    etsn_wsman_shell_info info = {.shell_id = sh->id,
                                  .resource_uri = MOCK_WINRS_URI,
                                  .owner = user && *user ? user : NULL,
                                  .client_ip = peer && *peer ? peer : NULL,
                                  .environment = env,
                                  .n_environment = m->n_environment,
                                  .working_directory = m->working_directory,
                                  .idle_timeout = idle,
                                  .input_streams = m->input_streams ? m->input_streams : "stdin",
                                  .output_streams =
                                      m->output_streams ? m->output_streams : "stdout stderr",
                                  .shell_run_time = "P0DT0H0M0S",
                                  .shell_inactivity = "P0DT0H0M0S"};
    int rc = etsn_wsman_build_shell_create_response(
        reply, m->message_id, m->to ? m->to : "http://localhost/wsman", &info);
    free_environment(env, m->n_environment);
    if (rc < 0) {
        free(sh);
        return -1;
    }
    sh->next = w->shells;
    w->shells = sh;
    w->n_shells++;
    return 200;
}

/* ---- Command ---- */

static void record_unknown(mock_winrs *w, const char *line, const char *script)
{
    const wx_command *near = mock_winrs_nearest(w->fx, script ? script : line);
    char req[600];
    snprintf(req, sizeof req, "Command %s", line);
    /* The difference from the nearest command, as a replayed PSRP
     * pipeline's near-miss shows it (mockserver/replay.h). */
    etsn_buf d = ETSN_BUF_INIT;
    etsn_buf_append_str(&d, script ? "no <winrs-command powershell=> for this script"
                                   : "no <winrs-command> for this command line");
    if (near) {
        etsn_buf_append_str(&d, ": ");
        mock_text_diff(near->command, script ? script : line, &d);
    }
    mock_report_unmatched(w->report, req, near ? near->command : "(no <winrs-command>)",
                          d.data ? (const char *)d.data : "");
    etsn_buf_free(&d);
    event(w, "winrs-unknown-command", "%s", script ? script : line);
}

/* The fixture command for this line, counting its runs (run=). */
static const wx_command *find_run(mock_winrs *w, const char *line, const char *script)
{
    const wx_command *first = mock_winrs_find(w->fx, line, script, 1);
    if (!first) return NULL;
    unsigned *n = &w->runs[first - w->fx->commands];
    if (*n < UINT_MAX) ++*n;
    return mock_winrs_find(w->fx, line, script, *n);
}

/* An unknown program: what cmd.exe (or powershell.exe for a script) says. */
static int builtin_unknown(wcmd *c, const char *line, const char *script)
{
    c->own_text = script ? mock_winrs_ps_not_found(script) : mock_winrs_not_recognized(line);
    if (!c->own_text) return -1;
    c->own[0].kind = script ? WX_PS_ERROR : WX_STDERR;
    c->own[0].text = c->own_text;
    c->own[0].len = strlen(c->own_text);
    c->own[1].kind = WX_EXIT;
    c->own[1].code = 1;
    c->steps = c->own;
    c->n_steps = 2;
    return 0;
}

static int do_command(mock_winrs *w, wshell *sh, const etsn_wsman_msg *m, etsn_buf *reply)
{
    char host[256];
    char *line = mock_winrs_command_line(m->command_line, (const char *)m->arguments.data);
    if (!line) return -1;
    char *script = mock_winrs_encoded_script(line);
    const wx_command *fc = find_run(w, line, script);
    const char *skip = etsn_wsman_option_value(m, "WINRS_SKIP_CMD_SHELL");
    int status = 200;
    wcmd *c = NULL;
    if (!fc) record_unknown(w, line, script);
    if (!fc && skip && !strcasecmp(skip, "true")) {
        /* Without cmd.exe, CreateProcess itself fails for an unknown program. */
        status = fault_provider(w, m, "s:Receiver", "w:InternalError", NULL, 2147942402u,
                                "The system cannot find the file specified. ", reply);
        goto out;
    }
    if (sh->n_cmds >= MAX_COMMANDS) {
        mock_report_unmatched(w->report, "Command", "Signal terminate of finished commands",
                              "too many commands on one shell");
        etsn_wsman_build_fault(reply, m->message_id, "s:Receiver", "w:InternalError", 2150858752u,
                               machine(w, m, host, sizeof host),
                               "etsn-mockd: too many commands on this shell.");
        status = 500;
        goto out;
    }
    c = calloc(1, sizeof *c);
    if (!c) goto oom;
    new_id(c->id);
    c->label = strdup(fc ? fc->command : script ? script : line);
    if (!c->label) goto oom;
    if (fc) {
        c->steps = fc->steps;
        c->n_steps = fc->n_steps;
    } else if (builtin_unknown(c, line, script) < 0) {
        goto oom;
    }
    etsn_buf d = ETSN_BUF_INIT;
    etsn_buf_printf(&d, "CommandId %s: %s", c->id, line);
    for (size_t i = 0; i < m->n_options; i++)
        etsn_buf_printf(&d, ", %s=%s", m->options[i].name, m->options[i].value);
    event(w, "winrs-command", "%s", d.data ? (const char *)d.data : "");
    etsn_buf_free(&d);
    if (fc) {
        etsn_buf key = ETSN_BUF_INIT;
        etsn_buf_printf(&key, "winrs-command:%s", fc->command);
        if (key.data) fact(w, (const char *)key.data, c->id);
        etsn_buf_free(&key);
    }
    if (etsn_wsman_build_command_response(reply, m->message_id, c->id) < 0) goto oom;
    c->next = sh->cmds;
    sh->cmds = c;
    sh->n_cmds++;
    c = NULL;
out:
    free(line);
    free(script);
    return status;
oom:
    if (c) cmd_free(c);
    free(line);
    free(script);
    return -1;
}

/* ---- output ---- */

static int push_chunk(wcmd *c, bool err, etsn_buf *data)
{
    wchunk *k = calloc(1, sizeof *k);
    if (!k) return -1;
    k->err = err;
    k->len = data->len;
    k->data = (uint8_t *)etsn_buf_steal(data);
    if (!k->data) {
        free(k);
        return -1;
    }
    if (c->tail)
        c->tail->next = k;
    else
        c->head = k;
    c->tail = k;
    c->queued += k->len;
    return 0;
}

static int push_text(wcmd *c, unsigned cp, bool err, const char *text, size_t len)
{
    etsn_buf b = ETSN_BUF_INIT;
    mock_winrs_encode(cp, text, len, &b);
    return push_chunk(c, err, &b);
}

static void finish(wcmd *c, unsigned cp, int64_t code)
{
    /* powershell.exe closes its serialized error stream when it exits. */
    if (c->clixml_open) push_text(c, cp, true, "</Objs>", 7);
    c->clixml_open = false;
    c->exit_code = code;
    c->st = WC_DONE;
}

static void ps_error(wcmd *c, unsigned cp, const wx_step *s)
{
    etsn_buf b = ETSN_BUF_INIT;
    if (!c->clixml_open) etsn_buf_append_str(&b, CLIXML_HEAD);
    c->clixml_open = true;
    mock_winrs_clixml_errors(s->text, &b);
    push_text(c, cp, true, b.data ? (const char *)b.data : "", b.len);
    etsn_buf_free(&b);
}

/* Runs the command's steps until it blocks, ends, or budget bytes wait. */
static void advance(wcmd *c, unsigned cp, size_t budget)
{
    while (c->st != WC_DONE && c->queued < budget) {
        if (c->st == WC_WAIT_SIGNAL) return;
        if (c->st == WC_SLEEPING) {
            if (!reached(&c->wake)) return;
            c->st = WC_RUNNING;
            c->idx++;
            continue;
        }
        if (c->idx >= c->n_steps) {
            finish(c, cp, c->exit_code);
            return;
        }
        const wx_step *s = &c->steps[c->idx];
        switch (s->kind) {
        case WX_STDOUT:
        case WX_STDERR:
            if (s->raw) {
                etsn_buf b = ETSN_BUF_INIT;
                etsn_buf_append(&b, s->text, s->len);
                push_chunk(c, s->kind == WX_STDERR, &b);
            } else {
                push_text(c, cp, s->kind == WX_STDERR, s->text, s->len);
            }
            c->idx++;
            break;
        case WX_PS_ERROR:
            ps_error(c, cp, s);
            c->idx++;
            break;
        case WX_SLEEP:
            c->wake = now_plus(s->ms);
            c->st = WC_SLEEPING;
            break;
        case WX_WAIT_SIGNAL:
            c->st = WC_WAIT_SIGNAL;
            return;
        case WX_EXIT:
            finish(c, cp, s->code);
            return;
        }
    }
}

static size_t payload_budget(uint32_t max_env)
{
    if (!max_env) max_env = DEFAULT_ENVELOPE;
    if (max_env < 8192) max_env = 8192;
    return ((size_t)max_env - ETSN_WSMAN_RECEIVE_OVERHEAD) / 4 * 3;
}

/* Takes queued chunks into streams (one rsp:Stream each, as WinRM sends
 * them) within budget; a chunk too big is split. Returns the count. */
static size_t take_chunks(wcmd *c, size_t budget, etsn_wsman_stream *st, size_t max)
{
    size_t n = 0, used = 0;
    while (c->head && n < max && used + STREAM_OVERHEAD < budget) {
        wchunk *k = c->head;
        size_t room = (budget - used - STREAM_OVERHEAD) / 4 * 3;
        if (!room) break;
        size_t take = k->len - k->off < room ? k->len - k->off : room;
        st[n].name = k->err ? "stderr" : "stdout";
        st[n].command_id = c->id;
        st[n].data = malloc(take ? take : 1);
        if (!st[n].data) break;
        memcpy(st[n].data, k->data + k->off, take);
        st[n].len = take;
        st[n].end = false;
        n++;
        used += STREAM_OVERHEAD + (take + 2) / 3 * 4;
        k->off += take;
        c->queued -= take;
        if (k->off == k->len) {
            c->head = k->next;
            if (!c->head) c->tail = NULL;
            free(k->data);
            free(k);
        }
    }
    return n;
}

#define MAX_STREAMS 64

/* One ReceiveResponse when there is something to say; 0 when not yet. */
static int reply_receive(mock_winrs *w, const etsn_wsman_msg *m, wcmd *c, size_t budget,
                         etsn_buf *reply)
{
    etsn_wsman_stream st[MAX_STREAMS + 2];
    size_t n = take_chunks(c, budget, st, MAX_STREAMS), taken = n;
    bool done = c->st == WC_DONE && !c->head;
    if (!n && !done) return 0;
    if (done) {
        /* WinRM ends both streams with an empty End="true" element. */
        static uint8_t empty[1];
        etsn_wsman_stream e1 = {(char *)"stdout", c->id, empty, 0, true};
        etsn_wsman_stream e2 = {(char *)"stderr", c->id, empty, 0, true};
        st[n++] = e1;
        st[n++] = e2;
        if (c->done_reported)
            mock_report_unmatched(w->report, "Receive", "Signal terminate (the command is done)",
                                  "Receive after the command's Done state");
        c->done_reported = true;
        event(w, "winrs-done", "%s exit code %" PRId64, c->label, c->exit_code);
    }
    int rc = etsn_wsman_build_receive_response_exit(
        reply, m->message_id, st, n, c->id,
        done ? ETSN_COMMAND_STATE_DONE : ETSN_COMMAND_STATE_RUNNING, c->exit_code);
    for (size_t i = 0; i < taken; i++) free(st[i].data);
    return rc < 0 ? -1 : 200;
}

static int fault_no_shell(mock_winrs *w, const etsn_wsman_msg *m, etsn_buf *reply)
{
    char host[256];
    char msg[512];
    snprintf(msg, sizeof msg,
             "The request for the Windows Remote Shell with ShellId %s failed because the shell "
             "was not found on the server. Possible causes are: the specified ShellId is "
             "incorrect or the shell no longer exists on the server. Provide the correct ShellId "
             "or create a new shell and try again. ",
             m->shell_id ? m->shell_id : "");
    mock_report_unmatched(w->report, "Receive", "a ShellId the server created",
                          "the shell was deleted while the Receive waited");
    etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "w:InvalidSelectors", 2150858843u,
                           machine(w, m, host, sizeof host), msg);
    return 500;
}

static int do_receive(mock_winrs *w, const etsn_wsman_msg *m, etsn_buf *reply)
{
    uint32_t timeout = m->operation_timeout_ms ? m->operation_timeout_ms : DEFAULT_TIMEOUT_MS;
    struct timespec deadline = now_plus(timeout);
    size_t budget = payload_budget(m->max_envelope_size);
    if (!m->command_id) {
        /* The cmd plugin has no shell-level output: Receive names a command. */
        mock_report_unmatched(w->report, "Receive without CommandId", "Receive CommandId=...",
                              "a WinRS Receive must name the command");
        return fault_provider(w, m, "s:Sender", "w:InvalidParameter",
                              "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue",
                              87, "The parameter is incorrect. ", reply);
    }
    for (;;) {
        wshell *sh = find_shell(w, m->shell_id);
        if (!sh) return fault_no_shell(w, m, reply);
        wcmd *c = find_cmd(sh, m->command_id);
        if (!c) return fault_no_command(w, m, sh, "Receive", m->command_id, reply);
        advance(c, sh->codepage, budget);
        int rc = reply_receive(w, m, c, budget, reply);
        if (rc) return rc;
        if (*w->stopping) return fault_timeout(w, m, reply);
        struct timespec until = deadline;
        if (c->st == WC_SLEEPING && before(&c->wake, &until)) until = c->wake;
        int wr = pthread_cond_timedwait(w->cv, w->mu, &until);
        if (wr == ETIMEDOUT && reached(&deadline)) {
            event(w, "winrs-receive-timeout", "%s after %u ms", c->label, timeout);
            return fault_timeout(w, m, reply);
        }
    }
}

/* ---- Send, Signal, Delete ---- */

static int do_send(mock_winrs *w, wshell *sh, const etsn_wsman_msg *m, etsn_buf *reply)
{
    for (size_t i = 0; i < m->n_streams; i++) {
        const etsn_wsman_stream *s = &m->streams[i];
        const char *cid = s->command_id ? s->command_id : m->command_id;
        wcmd *c = find_cmd(sh, cid);
        if (!c) return fault_no_command(w, m, sh, "Send", cid, reply);
        event(w, "winrs-stdin", "%s: %zu bytes on %s%s", c->label, s->len,
              s->name ? s->name : "stdin", s->end ? ", End" : "");
    }
    return etsn_wsman_build_send_response(reply, m->message_id) < 0 ? -1 : 200;
}

static int do_signal(mock_winrs *w, wshell *sh, const etsn_wsman_msg *m, etsn_buf *reply)
{
    wcmd *c = find_cmd(sh, m->command_id);
    if (!c) return fault_no_command(w, m, sh, "Signal", m->command_id, reply);
    const char *code = m->signal_code ? m->signal_code : "";
    const char *name = strrchr(code, '/');
    name = name ? name + 1 : code;
    if (!strcasecmp(name, "terminate")) {
        fact(w, "winrs-signal-terminate", c->label);
        event(w, "winrs-signal", "terminate on '%s'%s", c->label,
              c->st == WC_DONE ? "" : " (still running)");
        remove_cmd(sh, c);
    } else if (!strcasecmp(name, "ctrl_c")) {
        fact(w, "winrs-signal-ctrl-c", c->label);
        event(w, "winrs-signal", "ctrl_c on '%s'", c->label);
        if (c->st == WC_WAIT_SIGNAL) {
            /* The program handles Ctrl+C: what follows <wait-signal> plays,
             * then it exits with the step's code (unless an <exit> says). */
            c->exit_code = c->steps[c->idx].code;
            c->idx++;
            c->st = WC_RUNNING;
        } else if (c->st != WC_DONE) {
            finish(c, sh->codepage, CTRL_C_EXIT);
        }
    } else {
        mock_report_unmatched(w->report, "Signal", "signal/terminate or signal/ctrl_c", code);
    }
    return etsn_wsman_build_signal_response(reply, m->message_id) < 0 ? -1 : 200;
}

static int do_delete(mock_winrs *w, wshell *sh, const etsn_wsman_msg *m, etsn_buf *reply)
{
    for (wshell **pp = &w->shells; *pp; pp = &(*pp)->next)
        if (*pp == sh) {
            *pp = sh->next;
            break;
        }
    w->n_shells--;
    fact(w, "winrs-shell-deleted", sh->id);
    event(w, "winrs-delete", "ShellId %s%s", sh->id, sh->cmds ? " (commands left)" : "");
    shell_free(sh);
    return etsn_wsman_build_delete_response(reply, m->message_id) < 0 ? -1 : 200;
}

/* ---- public ---- */

mock_winrs *mock_winrs_new(const mock_winrs_fixture *fx, const char *computer, mock_report *report,
                           pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stopping)
{
    mock_winrs *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->fx = fx;
    w->computer = computer;
    w->report = report;
    w->mu = mu;
    w->cv = cv;
    w->stopping = stopping;
    if (fx && fx->n_commands && !(w->runs = calloc(fx->n_commands, sizeof *w->runs))) {
        free(w);
        return NULL;
    }
    return w;
}

void mock_winrs_free(mock_winrs *w)
{
    if (!w) return;
    while (w->shells) {
        wshell *s = w->shells;
        w->shells = s->next;
        shell_free(s);
    }
    free(w->runs);
    for (size_t i = 0; i < w->n_facts; i++) {
        free(w->facts[i].key);
        free(w->facts[i].detail);
    }
    free(w->facts);
    free(w);
}

bool mock_winrs_claims(const mock_winrs *w, const etsn_wsman_msg *m)
{
    if (!w || !w->fx || !w->fx->n_commands) return false;
    if (m->action == ETSN_WSMAN_CREATE)
        return m->resource_uri && !strcasecmp(m->resource_uri, MOCK_WINRS_URI);
    return find_shell(w, m->shell_id) != NULL;
}

int mock_winrs_handle(mock_winrs *w, const etsn_wsman_msg *m, const char *user, etsn_buf *reply)
{
    char host[256];
    if (m->action == ETSN_WSMAN_CREATE) return do_create(w, m, user, reply);
    if (m->action == ETSN_WSMAN_RECEIVE) return do_receive(w, m, reply);
    wshell *sh = find_shell(w, m->shell_id);
    if (!sh) return fault_no_shell(w, m, reply);
    switch (m->action) {
    case ETSN_WSMAN_COMMAND:
        return do_command(w, sh, m, reply);
    case ETSN_WSMAN_SEND:
        return do_send(w, sh, m, reply);
    case ETSN_WSMAN_SIGNAL:
        return do_signal(w, sh, m, reply);
    case ETSN_WSMAN_DELETE:
        return do_delete(w, sh, m, reply);
    default:
        mock_report_unmatched(w->report, m->action_uri ? m->action_uri : "(no Action)",
                              "Command, Send, Receive, Signal or Delete",
                              "not an operation of a WinRS shell");
        etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "a:ActionNotSupported",
                               2150858782u, machine(w, m, host, sizeof host),
                               "The WS-Management service cannot process the request because "
                               "the action is not supported. ");
        return 500;
    }
}

int mock_winrs_evaluate(const mock_winrs *w, const char *id, char *detail, size_t dl)
{
    if (strncasecmp(id, "winrs-", 6)) return -1;
    for (size_t i = 0; w && i < w->n_facts; i++)
        if (!strcasecmp(w->facts[i].key, id)) {
            snprintf(detail, dl, "%s", w->facts[i].detail);
            return 1;
        }
    static const char *const known[] = {"winrs-shell-created", "winrs-shell-deleted",
                                        "winrs-signal-terminate", "winrs-signal-ctrl-c", NULL};
    for (size_t i = 0; known[i]; i++)
        if (!strcasecmp(id, known[i])) {
            snprintf(detail, dl, "did not happen");
            return 0;
        }
    if (!strncasecmp(id, "winrs-command:", 14)) {
        snprintf(detail, dl, "no such command ran");
        return 0;
    }
    if (!strncasecmp(id, "winrs-codepage:", 15)) {
        snprintf(detail, dl, "no shell was created with that code page");
        return 0;
    }
    return -1;
}
