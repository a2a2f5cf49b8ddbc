#include "engine.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../ref/core/clixml.h"
#include "../ref/core/fragment.h"
#include "../ref/core/guid.h"
#include "../ref/core/message.h"
#include "../ref/core/psrp_crypto.h"
#include "../ref/core/psrp_msgs.h"
#include "../ref/core/wsman.h"

/* ---- outbound queues ---- */

typedef struct omsg {
    struct omsg *next;
    uint8_t *data;
    size_t len;
} omsg;

typedef struct {
    omsg *head, *tail;
    omsg *cur; /* being fragmented across Receives */
    size_t cur_off;
    uint64_t cur_fid;
    uint64_t cur_oid;
} outq;

typedef enum {
    PS_NEW,         /* Command arrived, CREATE_PIPELINE not complete yet */
    PS_RUNNING,     /* generating from the program */
    PS_WAIT_HOST,   /* a host call waits for its PIPELINE_HOST_RESPONSE */
    PS_WAIT_SIGNAL, /* <wait-signal/>: runs until Ctrl+C */
    PS_SLEEPING,    /* <sleep ms=>: resumes at wake */
    PS_QUEUED,      /* created while the pool is busy: starts when it is free */
    PS_FINISHED,    /* final PIPELINE_STATE queued */
} pstate;

typedef struct pipe {
    struct pipe *next;
    char *command_id;
    etsn_guid pid;
    etsn_defrag *defrag;
    outq out;
    pstate st;
    bool done_reported;
    char *text;
    bool merge_errors;
    const fx_step *steps;
    size_t n_steps;
    fx_step *own; /* built-in program, owned */
    size_t n_own;
    fx_cursor cur;
    int64_t wait_ci;
    int64_t aborted_ci; /* a host call Ctrl+C stopped; its late answer is expected */
    const fx_step *wait_step;
    long wait_report; /* index in the report's host_calls */
    struct timespec wake;
    etsn_value *metadata; /* GET_COMMAND_METADATA held while the pool is busy */
    char *tab_input;      /* TabExpansion2's inputScript, when that is the command */
    int tab_cursor;       /* its cursorColumn (-1: the end) */
} pipe;

typedef struct shell {
    struct shell *next;
    char *shell_id;
    etsn_guid rpid;
    char *resource_uri;
    outq out;
    etsn_defrag *defrag;
    uint64_t next_oid;
    int64_t next_ci;
    pipe *pipes;
    bool opened;
    etsn_psrp_keys *keys;       /* the 2.3 session key, once exchanged */
    bool broken;                /* RUNSPACEPOOL_STATE Broken sent: no more commands */
    bool vanished;              /* <break-session mode="vanish">: every request faults */
    struct timespec busy_until; /* <server busy-ms>: pipelines wait until then */
} shell;

typedef struct {
    char *key;
    char *detail;
    bool ok;
} fact;

struct mock_engine {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const mock_fixture *fx;
    mock_report *report;
    shell *shells;
    bool stopping;
    size_t queued;
    size_t high_water;
    fact *facts;
    size_t n_facts;
    size_t requests, req_sealed, req_plain, req_tls;
};

static const etsn_guid zero_guid;

/* ---- time (CLOCK_MONOTONIC, as the condition variable uses) ---- */

static struct timespec now_plus(uint32_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static bool ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static bool reached(const struct timespec *t)
{
    struct timespec now = now_plus(0);
    return !ts_before(&now, t);
}

/* ---- facts (what happened, for expectations) ---- */

static void add_fact(mock_engine *e, const char *key, bool ok, const char *detail)
{
    for (size_t i = 0; i < e->n_facts; i++)
        if (!strcasecmp(e->facts[i].key, key)) {
            if (!ok && e->facts[i].ok) { /* a failure outweighs an earlier success */
                char *d = strdup(detail ? detail : "");
                if (d) {
                    free(e->facts[i].detail);
                    e->facts[i].detail = d;
                    e->facts[i].ok = false;
                }
            }
            return;
        }
    fact *f = realloc(e->facts, (e->n_facts + 1) * sizeof *f);
    if (!f) return;
    e->facts = f;
    f = &f[e->n_facts];
    f->key = strdup(key);
    f->detail = strdup(detail ? detail : "");
    f->ok = ok;
    if (!f->key || !f->detail) {
        free(f->key);
        free(f->detail);
        return;
    }
    e->n_facts++;
}

static const fact *find_fact(const mock_engine *e, const char *key)
{
    for (size_t i = 0; i < e->n_facts; i++)
        if (!strcasecmp(e->facts[i].key, key)) return &e->facts[i];
    return NULL;
}

static void event(mock_engine *e, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void event(mock_engine *e, const char *kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mock_report_event(e->report, kind, buf);
}

static void unmatched(mock_engine *e, const char *request, const char *nearest, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
static void unmatched(mock_engine *e, const char *request, const char *nearest, const char *fmt,
                      ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    mock_report_unmatched(e->report, request, nearest, buf);
}

/* ---- queues ---- */

static void account(mock_engine *e, ssize_t delta)
{
    e->queued = (size_t)((ssize_t)e->queued + delta);
    if (e->queued > e->high_water) e->high_water = e->queued;
}

static int push_msg(mock_engine *e, outq *q, etsn_buf *msg)
{
    omsg *m = calloc(1, sizeof *m);
    if (!m) return -1;
    m->len = msg->len;
    m->data = (uint8_t *)etsn_buf_steal(msg);
    if (!m->data) {
        free(m);
        return -1;
    }
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    account(e, (ssize_t)m->len);
    return 0;
}

static void free_omsg(mock_engine *e, omsg *m)
{
    account(e, -(ssize_t)m->len);
    free(m->data);
    free(m);
}

static void outq_free(mock_engine *e, outq *q)
{
    while (q->head) {
        omsg *m = q->head;
        q->head = m->next;
        free_omsg(e, m);
    }
    q->tail = NULL;
    if (q->cur) free_omsg(e, q->cur);
    q->cur = NULL;
}

static bool outq_empty(const outq *q)
{
    return !q->head && !q->cur;
}

/* Encodes a value as one PSRP message (server to client) and queues it. n
 * (> 0 inside a <repeat>) replaces {n} in the serialized text. */
static int queue_value(mock_engine *e, shell *sh, pipe *p, uint32_t type, const etsn_value *v,
                       uint64_t n)
{
    etsn_buf xml = ETSN_BUF_INIT, sub = ETSN_BUF_INIT, msg = ETSN_BUF_INIT;
    int rc = etsn_clixml_write(v, &xml);
    const char *x = (const char *)xml.data;
    size_t xl = xml.len;
    if (!rc && n && memmem(xml.data, xml.len, "{n}", 3)) {
        rc = fx_substitute(x, xl, n, &sub);
        x = (const char *)sub.data;
        xl = sub.len;
    }
    if (!rc)
        rc = etsn_message_encode(&msg, ETSN_DEST_CLIENT, type, &sh->rpid, p ? &p->pid : &zero_guid,
                                 x ? x : "", xl);
    if (!rc) rc = push_msg(e, p ? &p->out : &sh->out, &msg);
    etsn_buf_free(&xml);
    etsn_buf_free(&sub);
    etsn_buf_free(&msg);
    return rc;
}

/* Takes ownership of v. */
static int queue_owned(mock_engine *e, shell *sh, pipe *p, uint32_t type, etsn_value *v, uint64_t n)
{
    if (!v) return -1;
    int rc = queue_value(e, sh, p, type, v, n);
    etsn_v_free(v);
    return rc;
}

/* ---- CLIXML helpers ---- */

static etsn_value *array_list(void)
{
    static const char *const t[] = {"System.Collections.ArrayList", "System.Object", NULL};
    return etsn_v_typed(t, ETSN_COLL_LST);
}

static etsn_value *version(const char *s)
{
    return etsn_v_text(ETSN_V_VERSION, s, strlen(s));
}

static etsn_value *host_call(int64_t ci, int method, const etsn_value *const *items, size_t n)
{
    etsn_value *mp = array_list();
    if (!mp) return NULL;
    for (size_t i = 0; i < n; i++)
        if (etsn_obj_push_item(mp, etsn_v_ref((etsn_value *)items[i])) < 0) {
            etsn_v_free(mp);
            return NULL;
        }
    return etsn_msg_host_call(ci, method, mp);
}

static etsn_value *private_data(const mock_fixture *fx)
{
    static const char *const prim[] = {"System.Management.Automation.PSPrimitiveDictionary",
                                       "System.Collections.Hashtable", "System.Object", NULL};
    etsn_value *v = etsn_v_obj();
    etsn_value *outer = etsn_v_typed(prim, ETSN_COLL_DCT);
    etsn_value *table = etsn_v_typed(prim, ETSN_COLL_DCT);
    bool ok = v && outer && table;
    if (ok)
        ok = !etsn_obj_push_entry(table, etsn_v_string("PSVersion"), version(fx->ps_version)) &&
             !etsn_obj_push_entry(table, etsn_v_string("PSEdition"), etsn_v_string(fx->edition)) &&
             !etsn_obj_push_entry(table, etsn_v_string("WSManStackVersion"), version("3.0")) &&
             !etsn_obj_push_entry(table, etsn_v_string("PSRemotingProtocolVersion"),
                                  version(fx->protocol)) &&
             !etsn_obj_push_entry(table, etsn_v_string("SerializationVersion"), version("1.1.0.1"));
    if (ok) {
        ok = !etsn_obj_push_entry(outer, etsn_v_string("PSVersionTable"), table);
        table = NULL;
    }
    if (ok) {
        ok = !etsn_obj_add_member(v, "ApplicationPrivateData", outer);
        outer = NULL;
    }
    etsn_v_free(table);
    etsn_v_free(outer);
    if (!ok) {
        etsn_v_free(v);
        return NULL;
    }
    return v;
}

/* ---- errors ---- */

static void to_record(const fx_error *fe, etsn_error_record *r)
{
    memset(r, 0, sizeof *r);
    r->message = fe->message;
    r->exception_type = fe->exception_type;
    r->fqid = fe->fqid;
    r->category = fe->category;
    r->category_name = fe->category_name;
    r->activity = fe->activity ? fe->activity : "";
    r->reason = fe->reason;
    r->target_name = fe->target_name ? fe->target_name : "";
    r->target_type = fe->target_type ? fe->target_type : "";
    r->position_message = fe->position;
}

static void push_lines(etsn_buf *lines, size_t *n, const char *text)
{
    /* lines holds NUL-separated strings */
    const char *p = text;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len && p[len - 1] == '\r') len--;
        etsn_buf_append(lines, p, len);
        etsn_buf_append_byte(lines, 0);
        (*n)++;
        if (!nl) break;
        p = nl + 1;
    }
}

/* How the server's Out-Default shows an error: Windows PowerShell's
 * NormalView (protocol <= 2.3) or pwsh's ConciseView (2.4). */
static void render_error(const mock_fixture *fx, const fx_error *fe, etsn_buf *lines, size_t *n)
{
    etsn_buf b = ETSN_BUF_INIT;
    const char *act = fe->activity && *fe->activity ? fe->activity : NULL;
    if (!strcmp(fx->protocol, "2.4")) {
        if (act) etsn_buf_printf(&b, "%s: ", act);
        etsn_buf_append_str(&b, fe->message);
        push_lines(lines, n, (const char *)b.data);
        etsn_buf_free(&b);
        return;
    }
    if (act) etsn_buf_printf(&b, "%s : ", act);
    etsn_buf_append_str(&b, fe->message);
    push_lines(lines, n, (const char *)b.data);
    etsn_buf_reset(&b);
    if (fe->position) push_lines(lines, n, fe->position);
    etsn_buf_printf(&b, "    + CategoryInfo          : %s: (%s:%s) [%s], %s", fe->category_name,
                    fe->target_name ? fe->target_name : "", fe->target_type ? fe->target_type : "",
                    fe->activity ? fe->activity : "", fe->reason ? fe->reason : "");
    push_lines(lines, n, (const char *)b.data);
    etsn_buf_reset(&b);
    etsn_buf_printf(&b, "    + FullyQualifiedErrorId : %s", fe->fqid ? fe->fqid : "");
    push_lines(lines, n, (const char *)b.data);
    push_lines(lines, n, "");
    etsn_buf_free(&b);
}

static int queue_error_line(mock_engine *e, shell *sh, pipe *p, const char *text, uint64_t n)
{
    etsn_value *s = etsn_v_string(text);
    if (!s) return -1;
    const etsn_value *items[1] = {s};
    int rc = queue_owned(e, sh, p, ETSN_MSG_PIPELINE_HOST_CALL, host_call(-100, 18, items, 1), n);
    etsn_v_free(s);
    return rc;
}

static int queue_error(mock_engine *e, shell *sh, pipe *p, const fx_error *fe, uint64_t n)
{
    if (!p->merge_errors) {
        etsn_error_record r;
        to_record(fe, &r);
        return queue_owned(e, sh, p, ETSN_MSG_ERROR_RECORD, etsn_msg_error_record(&r, NULL), n);
    }
    if (fe->n_lines) {
        for (size_t i = 0; i < fe->n_lines; i++)
            if (queue_error_line(e, sh, p, fe->lines[i], n) < 0) return -1;
        return 0;
    }
    etsn_buf lines = ETSN_BUF_INIT;
    size_t cnt = 0;
    render_error(e->fx, fe, &lines, &cnt);
    const char *l = (const char *)lines.data;
    int rc = 0;
    for (size_t i = 0; i < cnt && !rc && l; i++) {
        rc = queue_error_line(e, sh, p, l, n);
        l += strlen(l) + 1;
    }
    etsn_buf_free(&lines);
    return rc;
}

static int queue_state(mock_engine *e, shell *sh, pipe *p, int state, const fx_error *fe)
{
    etsn_value *err = NULL;
    if (fe) {
        etsn_error_record r;
        to_record(fe, &r);
        err = etsn_msg_error_record(&r, NULL);
        if (!err) return -1;
    }
    p->st = PS_FINISHED;
    return queue_owned(e, sh, p, ETSN_MSG_PIPELINE_STATE, etsn_msg_pipeline_state(state, err), 0);
}

/* ---- running a pipeline program ---- */

static void command_metadata(mock_engine *e, shell *sh, pipe *p, const etsn_value *v);
static void record_host_call(mock_engine *e, pipe *p, const fx_step *s, int64_t ci);

/* An InformationalRecord (WARNING_RECORD, VERBOSE_RECORD, DEBUG_RECORD) as
 * PowerShell serializes one without invocation info. */
static etsn_value *informational_record(uint32_t type, const char *text)
{
    const char *tn = type == ETSN_MSG_WARNING_RECORD ? "System.Management.Automation.WarningRecord"
                     : type == ETSN_MSG_VERBOSE_RECORD
                         ? "System.Management.Automation.VerboseRecord"
                         : "System.Management.Automation.DebugRecord";
    const char *const t[] = {tn, "System.Management.Automation.InformationalRecord",
                             "System.Object", NULL};
    etsn_value *o = etsn_v_typed(t, ETSN_COLL_NONE);
    if (!o || etsn_obj_set_tostring(o, text) < 0 ||
        etsn_obj_add_member(o, "InformationalRecord_Message", etsn_v_string(text)) < 0 ||
        etsn_obj_add_member(o, "InformationalRecord_SerializeInvocationInfo", etsn_v_bool(false)) <
            0) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

/* An InformationRecord as InformationRecord.ToPSObjectForRemoting writes it. */
static etsn_value *information_record(mock_engine *e, const fx_step *s)
{
    static const char *const t[] = {"System.Management.Automation.InformationRecord",
                                    "System.Object", NULL};
    static const char *const lt[] = {
        "System.Collections.Generic.List`1[[System.String, mscorlib, Version=4.0.0.0, "
        "Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
        "System.Object", NULL};
    etsn_value *o = etsn_v_typed(t, ETSN_COLL_NONE);
    etsn_value *tags = etsn_v_typed(lt, ETSN_COLL_LST);
    bool ok = o && tags && !etsn_obj_set_tostring(o, s->text);
    for (size_t i = 0; ok && i < s->n_tags; i++)
        ok = !etsn_obj_push_item(tags, etsn_v_string(s->tags[i]));
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.0000000+00:00", &tm);
    char user[300];
    const fx_user *u = e->fx->n_users ? &e->fx->users[0] : NULL;
    snprintf(user, sizeof user, "%s%s%s", u && *u->domain ? u->domain : "",
             u && *u->domain ? "\\" : "", u ? u->name : "");
    if (ok) {
        ok = !etsn_obj_add_member(o, "MessageData", etsn_v_string(s->text)) &&
             !etsn_obj_add_member(o, "Source", etsn_v_string(s->source ? s->source : "")) &&
             !etsn_obj_add_member(o, "TimeGenerated",
                                  etsn_v_text(ETSN_V_DATETIME, when, strlen(when))) &&
             !etsn_obj_add_member(o, "Tags", tags) &&
             !etsn_obj_add_member(o, "User", etsn_v_string(user)) &&
             !etsn_obj_add_member(o, "Computer", etsn_v_string(e->fx->computer)) &&
             !etsn_obj_add_member(o, "ProcessId", etsn_v_uint(ETSN_V_U32, 4242)) &&
             !etsn_obj_add_member(o, "NativeThreadId", etsn_v_uint(ETSN_V_U32, 1)) &&
             !etsn_obj_add_member(o, "ManagedThreadId", etsn_v_uint(ETSN_V_U32, 1));
        tags = NULL;
    }
    etsn_v_free(tags);
    if (!ok) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

static int queue_stream(mock_engine *e, shell *sh, pipe *p, const fx_step *s, uint64_t n)
{
    if (s->stream == ETSN_MSG_INFORMATION_RECORD)
        return queue_owned(e, sh, p, s->stream, information_record(e, s), n);
    if (s->via == FX_VIA_HOST_CALL) {
        int method = s->stream == ETSN_MSG_WARNING_RECORD   ? 22  /* WriteWarningLine */
                     : s->stream == ETSN_MSG_VERBOSE_RECORD ? 21  /* WriteVerboseLine */
                                                            : 19; /* WriteDebugLine */
        etsn_value *t = etsn_v_string(s->text);
        if (!t) return -1;
        const etsn_value *items[1] = {t};
        int rc = queue_owned(e, sh, p, ETSN_MSG_PIPELINE_HOST_CALL,
                             host_call(-100, method, items, 1), n);
        etsn_v_free(t);
        return rc;
    }
    return queue_owned(e, sh, p, s->stream, informational_record(s->stream, s->text), n);
}

static int queue_progress(mock_engine *e, shell *sh, pipe *p, const fx_step *s, uint64_t n)
{
    if (s->via == FX_VIA_MESSAGE)
        return queue_value(e, sh, p, ETSN_MSG_PROGRESS_RECORD, s->values[0], n);
    /* WriteProgress(Int64 sourceId, ProgressRecord record) */
    etsn_value *src = etsn_v_i64(s->source_id);
    if (!src) return -1;
    const etsn_value *items[2] = {src, s->values[0]};
    int rc = queue_owned(e, sh, p, ETSN_MSG_PIPELINE_HOST_CALL, host_call(-100, 20, items, 2), n);
    etsn_v_free(src);
    return rc;
}

/* <break-session>: the pool breaks (RUNSPACEPOOL_STATE Broken with the
 * error, the pipeline fails) or the shell vanishes (every later request
 * naming it gets WinRM's shell-not-found fault). */
static void break_session(mock_engine *e, shell *sh, pipe *p, const fx_step *s)
{
    etsn_error_record r;
    to_record(&s->error, &r);
    if (s->vanish) {
        sh->vanished = true;
        event(e, "session-broken", "shell %s vanished during '%s'", sh->shell_id,
              p->text ? p->text : "");
        p->st = PS_FINISHED;
        return;
    }
    sh->broken = true;
    event(e, "session-broken", "RUNSPACEPOOL_STATE Broken during '%s'", p->text ? p->text : "");
    queue_owned(e, sh, NULL, ETSN_MSG_RUNSPACEPOOL_STATE,
                etsn_msg_runspacepool_state(ETSN_POOL_BROKEN, etsn_msg_error_record(&r, NULL)), 0);
    queue_state(e, sh, p, ETSN_PIPE_FAILED, &s->error);
}

/* Generates until something is queued, the pipeline blocks or ends. */
static void generate(mock_engine *e, shell *sh, pipe *p)
{
    if (p->st == PS_SLEEPING && reached(&p->wake)) p->st = PS_RUNNING;
    if (p->st == PS_QUEUED && reached(&sh->busy_until)) {
        event(e, "busy-ended", "'%s' starts", p->text ? p->text : "");
        p->st = PS_RUNNING;
        if (p->metadata) {
            etsn_value *v = p->metadata;
            p->metadata = NULL;
            command_metadata(e, sh, p, v);
            etsn_v_free(v);
        }
    }
    while (p->st == PS_RUNNING && !p->out.head && !sh->vanished) {
        uint64_t n = 0;
        const fx_step *s = fx_cursor_next(&p->cur, &n);
        if (!s) {
            queue_state(e, sh, p, ETSN_PIPE_COMPLETED, NULL);
            return;
        }
        switch (s->kind) {
        case FX_HOST_CALL: {
            int64_t ci = s->wants_answer ? sh->next_ci++ : -100;
            queue_owned(
                e, sh, p, ETSN_MSG_PIPELINE_HOST_CALL,
                host_call(ci, s->method_id, (const etsn_value *const *)s->values, s->n_values), n);
            if (s->wants_answer) {
                p->st = PS_WAIT_HOST;
                p->wait_ci = ci;
                p->wait_step = s;
                record_host_call(e, p, s, ci);
            }
            break;
        }
        case FX_SLEEP:
            p->st = PS_SLEEPING;
            p->wake = now_plus(s->ms);
            break;
        case FX_PROGRESS:
            queue_progress(e, sh, p, s, n);
            break;
        case FX_STREAM:
            queue_stream(e, sh, p, s, n);
            break;
        case FX_INCOMPLETE:
            event(e, "incomplete-input", "'%s' fails with IncompleteParseException",
                  p->text ? p->text : "");
            queue_state(e, sh, p, ETSN_PIPE_FAILED, &s->error);
            break;
        case FX_BREAK:
            break_session(e, sh, p, s);
            break;
        case FX_KEY_REQUEST:
            queue_owned(e, sh, NULL, ETSN_MSG_PUBLIC_KEY_REQUEST, etsn_v_string(""), 0);
            event(e, "public-key-request", "sent during '%s'", p->text ? p->text : "");
            break;
        case FX_OUTPUT:
            for (size_t i = 0; i < s->n_values; i++)
                queue_value(e, sh, p, ETSN_MSG_PIPELINE_OUTPUT, s->values[i], n);
            break;
        case FX_MESSAGE:
            queue_value(e, sh, p, s->message_type, s->values[0], n);
            break;
        case FX_ERROR_LINE:
            if (p->merge_errors) {
                queue_error_line(e, sh, p, s->text, n);
            } else {
                fx_error fe = {0};
                fe.message = s->text;
                fe.category_name = "NotSpecified";
                fe.fqid = "";
                fe.reason = "Exception";
                queue_error(e, sh, p, &fe, n);
            }
            break;
        case FX_ERROR_RECORD:
            queue_error(e, sh, p, &s->error, n);
            break;
        case FX_WAIT_SIGNAL:
            p->st = PS_WAIT_SIGNAL;
            break;
        case FX_STATE:
            queue_state(e, sh, p, s->state, s->has_error ? &s->error : NULL);
            break;
        case FX_REPEAT:
            break; /* the cursor never returns one */
        }
    }
}

/* Appends fragments to data up to budget bytes. */
static void fill(mock_engine *e, shell *sh, pipe *p, etsn_buf *data, size_t budget)
{
    outq *q = p ? &p->out : &sh->out;
    while (data->len < budget) {
        if (!q->cur) {
            if (!q->head && p) generate(e, sh, p);
            if (!q->head) break;
            q->cur = q->head;
            q->head = q->cur->next;
            if (!q->head) q->tail = NULL;
            q->cur->next = NULL;
            q->cur_off = 0;
            q->cur_fid = 0;
            q->cur_oid = sh->next_oid++;
        }
        size_t w = etsn_fragment_some(data, q->cur_oid, q->cur->data, q->cur->len, &q->cur_off,
                                      &q->cur_fid, budget - data->len, budget);
        if (q->cur_off >= q->cur->len && q->cur_fid > 0) {
            free_omsg(e, q->cur);
            q->cur = NULL;
        } else if (w == 0) {
            break;
        } else {
            break; /* budget used up mid-message: continue in the next Receive */
        }
    }
}

/* ---- built-in programs ---- */

static fx_step *own_steps(pipe *p, size_t n)
{
    p->own = calloc(n, sizeof *p->own);
    if (!p->own) return NULL;
    p->n_own = n;
    p->steps = p->own;
    p->n_steps = n;
    return p->own;
}

static int step_value(fx_step *s, etsn_value *v)
{
    if (!v) return -1;
    etsn_value **nv = realloc(s->values, (s->n_values + 1) * sizeof *nv);
    if (!nv) {
        etsn_v_free(v);
        return -1;
    }
    s->values = nv;
    s->values[s->n_values++] = v;
    return 0;
}

static bool is_exit(const char *t, int *code)
{
    if (strncasecmp(t, "exit", 4)) return false;
    const char *r = t + 4;
    if (!*r) {
        *code = 0;
        return true;
    }
    if (!isspace((unsigned char)*r)) return false;
    while (isspace((unsigned char)*r)) r++;
    char *end;
    long v = strtol(r, &end, 10);
    if (end == r || *end) return false;
    *code = (int)v;
    return true;
}

/* The CommandNotFoundException a server raises for text it cannot run. */
static int program_not_found(mock_engine *e, pipe *p, const char *line)
{
    fx_step *s = own_steps(p, 1);
    if (!s) return -1;
    const char *start = line;
    while (isspace((unsigned char)*start)) start++;
    size_t tok = 0;
    while (start[tok] && !isspace((unsigned char)start[tok])) tok++;
    char *cmd = strndup(start, tok);
    if (!cmd) return -1;
    bool pwsh = !strcmp(e->fx->protocol, "2.4");
    etsn_buf b = ETSN_BUF_INIT;
    if (pwsh)
        etsn_buf_printf(&b,
                        "The term '%s' is not recognized as a name of a cmdlet, function, script "
                        "file, or executable program.\nCheck the spelling of the name, or if a "
                        "path was included, verify that the path is correct and try again.",
                        cmd);
    else
        etsn_buf_printf(&b,
                        "The term '%s' is not recognized as the name of a cmdlet, function, "
                        "script file, or operable program. Check the spelling of the name, or if "
                        "a path was included, verify that the path is correct and try again.",
                        cmd);
    fx_error *fe = &s->error;
    s->kind = FX_ERROR_RECORD;
    s->has_error = true;
    fe->message = etsn_buf_steal(&b);
    fe->exception_type = strdup("System.Management.Automation.CommandNotFoundException");
    fe->fqid = strdup("CommandNotFoundException");
    fe->category_name = strdup("ObjectNotFound");
    fe->category = 13;
    fe->activity = strdup("");
    fe->reason = strdup("CommandNotFoundException");
    fe->target_name = strdup(cmd);
    fe->target_type = strdup("String");
    /* InvocationInfo.PositionMessage of a one-line command. */
    etsn_buf pos = ETSN_BUF_INIT;
    const char *first_line_end = strchr(line, '\n');
    size_t line_len = first_line_end ? (size_t)(first_line_end - line) : strlen(line);
    if (line_len && line[line_len - 1] == '\r') line_len--;
    etsn_buf_printf(&pos, "At line:1 char:%zu\n+ %.*s\n+ ", (size_t)(start - line) + 1,
                    (int)line_len, line);
    for (size_t i = 0; i < (size_t)(start - line); i++) etsn_buf_append_byte(&pos, ' ');
    for (size_t i = 0; i < tok; i++) etsn_buf_append_byte(&pos, '~');
    fe->position = etsn_buf_steal(&pos);
    /* What each Out-Default prints. */
    etsn_buf lines = ETSN_BUF_INIT;
    size_t cnt = 0;
    if (pwsh) {
        etsn_buf first = ETSN_BUF_INIT;
        etsn_buf_printf(&first, "%s: %s", cmd, fe->message);
        push_lines(&lines, &cnt, (const char *)first.data);
        etsn_buf_free(&first);
    } else {
        etsn_buf first = ETSN_BUF_INIT;
        etsn_buf_printf(&first, "%s : %s", cmd, fe->message);
        push_lines(&lines, &cnt, (const char *)first.data);
        push_lines(&lines, &cnt, fe->position);
        etsn_buf_reset(&first);
        etsn_buf_printf(&first,
                        "    + CategoryInfo          : ObjectNotFound: (%s:String) [], "
                        "CommandNotFoundException",
                        cmd);
        push_lines(&lines, &cnt, (const char *)first.data);
        push_lines(&lines, &cnt, "    + FullyQualifiedErrorId : CommandNotFoundException");
        push_lines(&lines, &cnt, "");
        etsn_buf_free(&first);
    }
    free(cmd);
    fe->lines = calloc(cnt ? cnt : 1, sizeof *fe->lines);
    const char *l = (const char *)lines.data;
    for (size_t i = 0; fe->lines && l && i < cnt; i++) {
        fe->lines[fe->n_lines++] = strdup(l);
        l += strlen(l) + 1;
    }
    etsn_buf_free(&lines);
    return fe->message && fe->position ? 0 : -1;
}

/* ---- TabExpansion2 (remote tab completion) ----
 * PowerShell's console completes against a remote runspace with
 * CommandCompletion.CompleteInput, which runs the command TabExpansion2
 * with three positional arguments (input, cursor index, options); a script
 * may also name them (-inputScript, -cursorColumn). The answer is one
 * CommandCompletion object. */

static bool param_is(const char *given, const char *full)
{
    size_t l = strlen(given);
    return l && l <= strlen(full) && !strncasecmp(given, full, l);
}

/* Next token of a simple command line: a quoted string ('..' with ''
 * doubling, ".." with `" escapes) or a bare word. NULL at the end. */
static char *next_token(const char **pp)
{
    const char *p = *pp;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return NULL;
    etsn_buf b = ETSN_BUF_INIT;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (*p) {
            if (*p == q && q == '\'' && p[1] == '\'') {
                etsn_buf_append_byte(&b, '\'');
                p += 2;
            } else if (q == '"' && *p == '`' && p[1]) {
                etsn_buf_append_byte(&b, (uint8_t)p[1]);
                p += 2;
            } else if (*p == q) {
                p++;
                break;
            } else {
                etsn_buf_append_byte(&b, (uint8_t)*p++);
            }
        }
    } else {
        while (*p && !isspace((unsigned char)*p)) etsn_buf_append_byte(&b, (uint8_t)*p++);
    }
    *pp = p;
    char *t = b.data ? etsn_buf_steal(&b) : strdup("");
    etsn_buf_free(&b);
    return t;
}

/* Learns TabExpansion2's input and cursor from the first command. */
static void learn_tab_expansion(pipe *p, const etsn_value *cmd)
{
    const char *c = etsn_v_as_str(etsn_v_get(cmd, "Cmd"));
    const etsn_value *is_script = etsn_v_get(cmd, "IsScript");
    bool script = is_script && is_script->kind == ETSN_V_BOOL && is_script->num.b;
    if (!c) return;
    char *input = NULL;
    int64_t cursor = -1;
    if (!script) {
        if (strcasecmp(c, "TabExpansion2")) return;
        const etsn_value *args = etsn_v_get(cmd, "Args");
        int pos = 0;
        for (size_t i = 0; args && i < args->n_items; i++) {
            const etsn_value *n = etsn_v_get(args->items[i], "N");
            const etsn_value *v = etsn_v_get(args->items[i], "V");
            const char *ns = n && n->kind != ETSN_V_NIL ? etsn_v_as_str(n) : NULL;
            if (ns && *ns == '-') ns++;
            bool is_input = ns ? param_is(ns, "inputScript") : pos == 0;
            bool is_cursor = ns ? param_is(ns, "cursorColumn") : pos == 1;
            if (!ns) pos++;
            if (is_input && v && !input) input = strdup(etsn_v_as_str(v) ? etsn_v_as_str(v) : "");
            if (is_cursor && v) etsn_v_as_i64(v, &cursor);
        }
    } else {
        const char *q = c;
        char *w = next_token(&q);
        if (!w || strcasecmp(w, "TabExpansion2")) {
            free(w);
            return;
        }
        free(w);
        int pos = 0;
        char *t;
        while ((t = next_token(&q))) {
            char *val = NULL;
            bool is_input = false, is_cursor = false;
            if (t[0] == '-' && t[1]) {
                char *colon = strchr(t, ':');
                if (colon) *colon = 0;
                is_input = param_is(t + 1, "inputScript");
                is_cursor = param_is(t + 1, "cursorColumn");
                val = colon ? strdup(colon + 1) : next_token(&q);
            } else {
                is_input = pos == 0;
                is_cursor = pos == 1;
                pos++;
                val = strdup(t);
            }
            if (is_input && val && !input) {
                input = val;
                val = NULL;
            } else if (is_cursor && val) {
                cursor = strtoll(val, NULL, 10);
            }
            free(val);
            free(t);
        }
    }
    if (!input) return;
    p->tab_input = input;
    p->tab_cursor = cursor < 0 || cursor > (int64_t)strlen(input) ? -1 : (int)cursor;
}

static etsn_value *completion_result(const fx_match *m)
{
    static const char *const t[] = {"System.Management.Automation.CompletionResult",
                                    "System.Object", NULL};
    etsn_value *o = etsn_v_typed(t, ETSN_COLL_NONE);
    if (!o || etsn_obj_set_tostring(o, "System.Management.Automation.CompletionResult") < 0 ||
        etsn_obj_add_prop(o, "CompletionText", etsn_v_string(m->text)) < 0 ||
        etsn_obj_add_prop(o, "ListItemText", etsn_v_string(m->list_item)) < 0 ||
        etsn_obj_add_prop(o, "ResultType",
                          etsn_enum_value("System.Management.Automation.CompletionResultType",
                                          m->type_name, m->type)) < 0 ||
        etsn_obj_add_prop(o, "ToolTip", etsn_v_string(m->tooltip)) < 0) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

static etsn_value *command_completion(const fx_completion *c, const char *input, int cursor)
{
    static const char *const t[] = {"System.Management.Automation.CommandCompletion",
                                    "System.Object", NULL};
    static const char *const ct[] = {
        "System.Collections.ObjectModel.Collection`1[[System.Management.Automation."
        "CompletionResult, System.Management.Automation, Version=3.0.0.0, Culture=neutral, "
        "PublicKeyToken=31bf3856ad364e35]]",
        "System.Object", NULL};
    /* The word around the cursor is what a match replaces. */
    int start = cursor, end = cursor;
    while (start > 0 && !isspace((unsigned char)input[start - 1])) start--;
    while (input[end] && !isspace((unsigned char)input[end])) end++;
    int ri = c && c->replacement_index >= 0 ? c->replacement_index : start;
    int rl = c && c->replacement_length >= 0 ? c->replacement_length : end - start;
    etsn_value *o = etsn_v_typed(t, ETSN_COLL_NONE);
    etsn_value *list = etsn_v_typed(ct, ETSN_COLL_LST);
    bool ok = o && list;
    for (size_t i = 0; ok && c && i < c->n_matches; i++) {
        etsn_value *r = completion_result(&c->matches[i]);
        ok = r && !etsn_obj_push_item(list, r);
    }
    ok = ok && !etsn_obj_set_tostring(o, "System.Management.Automation.CommandCompletion") &&
         !etsn_obj_add_prop(o, "CurrentMatchIndex", etsn_v_i32(-1)) &&
         !etsn_obj_add_prop(o, "ReplacementIndex", etsn_v_i32(c && c->n_matches ? ri : cursor)) &&
         !etsn_obj_add_prop(o, "ReplacementLength", etsn_v_i32(c && c->n_matches ? rl : 0));
    if (ok) {
        ok = !etsn_obj_add_prop(o, "CompletionMatches", list);
        list = NULL;
    }
    etsn_v_free(list);
    if (!ok) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

static int program_completion(mock_engine *e, pipe *p)
{
    int cursor = p->tab_cursor < 0 ? (int)strlen(p->tab_input) : p->tab_cursor;
    const fx_completion *c = mock_fixture_find_completion(e->fx, p->tab_input, cursor);
    char key[600];
    snprintf(key, sizeof key, "completion:%s", p->tab_input);
    if (c) {
        add_fact(e, key, true, p->command_id);
        event(e, "completion", "'%s' cursor %d: %zu match(es)", p->tab_input, cursor, c->n_matches);
    } else {
        const fx_completion *near = NULL;
        for (size_t i = 0; i < e->fx->n_completions; i++)
            if (!near || !strncmp(e->fx->completions[i].input, p->tab_input,
                                  strlen(e->fx->completions[i].input)))
                near = &e->fx->completions[i];
        char nearest[600];
        if (near)
            snprintf(nearest, sizeof nearest, "<completion input=\"%s\" cursor=\"%d\"> (line %d)",
                     near->input, near->cursor < 0 ? (int)strlen(near->input) : near->cursor,
                     near->line);
        else
            snprintf(nearest, sizeof nearest, "a <completion> in the fixture");
        unmatched(e, "TabExpansion2", nearest, "no completion for input '%s' cursor %d",
                  p->tab_input, cursor);
        event(e, "completion", "'%s' cursor %d: no <completion>, empty answer", p->tab_input,
              cursor);
    }
    fx_step *s = own_steps(p, 1);
    if (!s) return -1;
    s->kind = FX_OUTPUT;
    return step_value(s, command_completion(c, p->tab_input, cursor));
}

/* Chooses what a pipeline runs: a fixture pipeline, a built-in, or the
 * CommandNotFoundException. */
static int choose_program(mock_engine *e, pipe *p)
{
    const fx_pipeline *fp = mock_fixture_find_pipeline(e->fx, p->text);
    const char *t = p->text;
    int code = 0;
    if (fp) {
        p->steps = fp->steps;
        p->n_steps = fp->n_steps;
    } else if (p->tab_input) {
        if (program_completion(e, p) < 0) return -1;
    } else if (!strcasecmp(t, "prompt")) {
        fx_step *s = own_steps(p, 1);
        if (!s) return -1;
        s->kind = FX_OUTPUT;
        etsn_buf b = ETSN_BUF_INIT;
        etsn_buf_printf(&b, "PS %s> ", e->fx->location);
        int rc = step_value(s, etsn_v_string((const char *)b.data));
        etsn_buf_free(&b);
        if (rc < 0) return -1;
    } else if (!strcasecmp(t, "Exit-PSSession")) {
        fx_step *s = own_steps(p, 1);
        if (!s) return -1;
        s->kind = FX_HOST_CALL;
        s->method_id = 53; /* PopRunspace, void */
    } else if (is_exit(t, &code)) {
        fx_step *s = own_steps(p, 1);
        if (!s) return -1;
        s->kind = FX_HOST_CALL;
        s->method_id = 6; /* SetShouldExit, void */
        if (step_value(s, etsn_v_i32(code)) < 0) return -1;
    } else {
        if (program_not_found(e, p, p->text) < 0) return -1;
        const fx_pipeline *near = mock_fixture_nearest_pipeline(e->fx, t);
        if (near)
            event(e, "command-not-found", "%s (nearest fixture pipeline: '%s', line %d)", t,
                  near->command, near->line);
        else
            event(e, "command-not-found", "%s", t);
    }
    fx_cursor_init(&p->cur, p->steps, p->n_steps);
    return 0;
}

static char *trim_copy(const char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1])) l--;
    return strndup(s, l);
}

/* Text of a command entry: the script, or "Name -Param value ..." rebuilt
 * from a command and its arguments. */
static void command_text(const etsn_value *cmd, etsn_buf *out)
{
    const char *c = etsn_v_as_str(etsn_v_get(cmd, "Cmd"));
    const etsn_value *is_script = etsn_v_get(cmd, "IsScript");
    const etsn_value *args = etsn_v_get(cmd, "Args");
    bool script = is_script && is_script->kind == ETSN_V_BOOL && is_script->num.b;
    /* Invoke-Expression -Command <text> (pypsrp's execute_ps) runs <text>. */
    if (!script && c && !strcasecmp(c, "Invoke-Expression") && args && args->n_items == 1) {
        const etsn_value *n = etsn_v_get(args->items[0], "N");
        const char *ns = n && n->kind != ETSN_V_NIL ? etsn_v_as_str(n) : NULL;
        const char *vs = etsn_v_as_str(etsn_v_get(args->items[0], "V"));
        if (vs && (!ns || !strcasecmp(ns, "Command"))) {
            etsn_buf_append_str(out, vs);
            return;
        }
    }
    etsn_buf_append_str(out, c ? c : "");
    if (script || !args) return;
    for (size_t i = 0; i < args->n_items; i++) {
        const etsn_value *a = args->items[i];
        const etsn_value *n = etsn_v_get(a, "N");
        const etsn_value *v = etsn_v_get(a, "V");
        const char *ns = n && n->kind != ETSN_V_NIL ? etsn_v_as_str(n) : NULL;
        if (ns) etsn_buf_printf(out, " -%s", ns);
        if (!v || v->kind == ETSN_V_NIL) continue;
        if (v->kind == ETSN_V_BOOL && ns) {
            /* a switch: -Name, or -Name:$false */
            if (!v->num.b) etsn_buf_append_str(out, ":$false");
            continue;
        }
        etsn_buf disp = ETSN_BUF_INIT;
        etsn_v_display(v, &disp);
        etsn_buf_append_byte(out, ' ');
        if (disp.len) etsn_buf_append(out, disp.data, disp.len);
        etsn_buf_free(&disp);
    }
}

/* The console size the client declared with the pipeline (HostInfo,
 * MS-PSRP 2.2.3.14: _hostDefaultData entry 6, WindowSize), kept as the fact
 * "host-size:WxH" so a case can check the client follows resizes. */
static void note_host_size(mock_engine *e, const etsn_value *v)
{
    const etsn_value *data = etsn_v_path(v, "HostInfo._hostDefaultData.data");
    for (size_t i = 0; data && i + 1 < data->n_items; i += 2) {
        int64_t key = -1, w = 0, h = 0;
        if (!etsn_v_as_i64(data->items[i], &key) || key != 6) continue;
        const etsn_value *size = etsn_v_get(data->items[i + 1], "V");
        if (!size || !etsn_v_as_i64(etsn_v_get(size, "width"), &w) ||
            !etsn_v_as_i64(etsn_v_get(size, "height"), &h))
            return;
        char id[64];
        snprintf(id, sizeof id, "host-size:%" PRId64 "x%" PRId64, w, h);
        add_fact(e, id, true, "declared in a pipeline's HostInfo");
        return;
    }
}

static void start_pipeline(mock_engine *e, shell *sh, pipe *p, const etsn_value *v)
{
    note_host_size(e, v);
    const etsn_value *cmds = etsn_v_path(v, "PowerShell.Cmds");
    etsn_buf text = ETSN_BUF_INIT;
    bool merge = false;
    if (cmds && cmds->n_items) {
        command_text(cmds->items[0], &text);
        learn_tab_expansion(p, cmds->items[0]);
        for (size_t i = 0; i < cmds->n_items; i++) {
            const char *c = etsn_v_as_str(etsn_v_get(cmds->items[i], "Cmd"));
            if (c && !strcasecmp(c, "Out-Default")) merge = true;
        }
    } else {
        unmatched(e, "CREATE_PIPELINE", "CREATE_PIPELINE with PowerShell.Cmds",
                  "no PowerShell.Cmds list in the message");
    }
    p->text = trim_copy(text.data ? (const char *)text.data : "");
    etsn_buf_free(&text);
    if (!p->text) return;
    p->merge_errors = merge;
    p->st = PS_RUNNING;
    if (!sh->opened)
        unmatched(e, "CREATE_PIPELINE", "INIT_RUNSPACEPOOL (open the pool first)",
                  "pipeline '%s' created while the pool is not open", p->text);
    char key[600];
    snprintf(key, sizeof key, "pipeline:%s", p->text);
    add_fact(e, key, true, p->command_id);
    event(e, "pipeline", "%s", p->text);
    if (choose_program(e, p) < 0) {
        queue_state(e, sh, p, ETSN_PIPE_FAILED, NULL);
        return;
    }
    if (!reached(&sh->busy_until)) {
        /* A busy pool queues the pipeline: the Command succeeds, nothing
         * runs until a runspace is free. */
        p->st = PS_QUEUED;
        event(e, "busy-queued", "'%s' waits for the busy pool", p->text);
    }
}

static etsn_value *command_info(const char *name)
{
    static const char *const t[] = {"Selected.System.Management.Automation.CmdletInfo",
                                    "System.Management.Automation.PSCustomObject", "System.Object",
                                    NULL};
    static const char *const tf[] = {"Selected.System.Management.Automation.FunctionInfo",
                                     "System.Management.Automation.PSCustomObject", "System.Object",
                                     NULL};
    static const char *const out_t[] = {
        "System.Collections.ObjectModel.ReadOnlyCollection`1[[System.Management.Automation."
        "PSTypeName, System.Management.Automation, Version=3.0.0.0, Culture=neutral, "
        "PublicKeyToken=31bf3856ad364e35]]",
        "System.Object", NULL};
    static const char *const par_t[] = {
        "System.Collections.Generic.Dictionary`2[[System.String, mscorlib, Version=4.0.0.0, "
        "Culture=neutral, PublicKeyToken=b77a5c561934e089],[System.Management.Automation."
        "ParameterMetadata, System.Management.Automation, Version=3.0.0.0, Culture=neutral, "
        "PublicKeyToken=31bf3856ad364e35]]",
        "System.Object", NULL};
    bool fn = !strcasecmp(name, "prompt") || !strcasecmp(name, "TabExpansion2") ||
              !strcasecmp(name, "Clear-Host");
    etsn_value *o = etsn_v_typed(fn ? tf : t, ETSN_COLL_NONE);
    if (!o) return NULL;
    bool ok = !etsn_obj_add_member(o, "Name", etsn_v_string(name)) &&
              !etsn_obj_add_member(o, "Namespace",
                                   etsn_v_string(fn ? "" : "Microsoft.PowerShell.Core")) &&
              !etsn_obj_add_member(o, "HelpUri", etsn_v_string("")) &&
              !etsn_obj_add_member(o, "CommandType",
                                   etsn_enum_value("System.Management.Automation.CommandTypes",
                                                   fn ? "Function" : "Cmdlet", fn ? 2 : 8)) &&
              !etsn_obj_add_member(o, "ResolvedCommandName", etsn_v_nil()) &&
              !etsn_obj_add_member(o, "OutputType", etsn_v_typed(out_t, ETSN_COLL_LST)) &&
              !etsn_obj_add_member(o, "Parameters", etsn_v_typed(par_t, ETSN_COLL_DCT));
    if (!ok) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

static void command_metadata(mock_engine *e, shell *sh, pipe *p, const etsn_value *v)
{
    const etsn_value *names = etsn_v_get(v, "Name");
    const char *found[64];
    size_t n_found = 0;
    etsn_buf asked = ETSN_BUF_INIT;
    for (size_t i = 0; names && i < names->n_items && n_found < 64; i++) {
        const char *nm = etsn_v_as_str(names->items[i]);
        if (!nm) continue;
        etsn_buf_printf(&asked, "%s%s", asked.len ? ", " : "", nm);
        if (mock_fixture_has_command(e->fx, nm)) found[n_found++] = nm;
    }
    if (!p->text) p->text = strdup("(GET_COMMAND_METADATA)");
    add_fact(e, "command-metadata-requested", true, asked.data ? (char *)asked.data : "");
    event(e, "command-metadata", "%s", asked.data ? (char *)asked.data : "");
    etsn_buf_free(&asked);
    static const char *const ct[] = {"Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo",
                                     "System.Management.Automation.PSCustomObject", "System.Object",
                                     NULL};
    etsn_value *count = etsn_v_typed(ct, ETSN_COLL_NONE);
    if (count && etsn_obj_add_member(count, "Count", etsn_v_i32((int32_t)n_found)) < 0) {
        etsn_v_free(count);
        count = NULL;
    }
    queue_owned(e, sh, p, ETSN_MSG_PIPELINE_OUTPUT, count, 0);
    for (size_t i = 0; i < n_found; i++)
        queue_owned(e, sh, p, ETSN_MSG_PIPELINE_OUTPUT, command_info(found[i]), 0);
    queue_state(e, sh, p, ETSN_PIPE_COMPLETED, NULL);
}

/* ---- host call answers, compared by meaning ---- */

static const char *pipe_label(const pipe *p)
{
    return p->text ? p->text : p->command_id;
}

static void record_host_call(mock_engine *e, pipe *p, const fx_step *s, int64_t ci)
{
    char key[300];
    snprintf(key, sizeof key, "host-response:%s",
             s->id ? s->id : etsn_host_method_name(s->method_id));
    const char *m = etsn_host_method_name(s->method_id);
    p->wait_report = mock_report_host_call(e->report, key, m ? m : "?", pipe_label(p), ci);
}

/* A SecureString's text: decrypted with the shell's session key (protocol
 * 2.3 and earlier), or the plain UTF-16LE bytes a 2.4 server receives. */
static bool secure_text(mock_engine *e, const shell *sh, const etsn_value *v, etsn_buf *out)
{
    etsn_buf plain = ETSN_BUF_INIT;
    bool ok;
    if (!strcmp(e->fx->protocol, "2.4")) {
        ok = !etsn_utf16le_to_utf8((const uint8_t *)v->str, v->str_len, out);
    } else if (sh && sh->keys && etsn_psrp_keys_ready(sh->keys)) {
        ok = !etsn_secure_string_decrypt(sh->keys, (const uint8_t *)v->str, v->str_len, &plain) &&
             !etsn_utf16le_to_utf8(plain.data ? plain.data : (const uint8_t *)"", plain.len, out);
        if (!ok)
            etsn_buf_append_str(out, "(a SecureString that does not decrypt with the session key)");
    } else {
        etsn_buf_append_str(out, "(a SecureString, but no session key was exchanged)");
        ok = false;
    }
    if (plain.data) etsn_secure_zero(plain.data, plain.len);
    etsn_buf_free(&plain);
    return ok;
}

static bool is_list(const etsn_value *v)
{
    return v && v->kind == ETSN_V_OBJ &&
           (v->coll == ETSN_COLL_LST || v->coll == ETSN_COLL_IE || v->coll == ETSN_COLL_STK ||
            v->coll == ETSN_COLL_QUE);
}

/* What a value means, as text a fixture can state: strings as they are,
 * numbers in decimal, a Char as the character, a SecureString decrypted,
 * a list as its items joined with ",", a KeyInfo as its character, a
 * PSCredential as its user name, {T, V} (EncodeObjectWithType) as V, an
 * enum as its number. Returns false when a SecureString cannot be read. */
static bool value_text(mock_engine *e, const shell *sh, const etsn_value *v, etsn_buf *out)
{
    if (!v) return true;
    switch (v->kind) {
    case ETSN_V_NIL:
        return true;
    case ETSN_V_BOOL:
        etsn_buf_append_str(out, v->num.b ? "True" : "False");
        return true;
    case ETSN_V_I8:
    case ETSN_V_I16:
    case ETSN_V_I32:
    case ETSN_V_I64:
        etsn_buf_printf(out, "%" PRId64, v->num.i);
        return true;
    case ETSN_V_U8:
    case ETSN_V_U16:
    case ETSN_V_U32:
    case ETSN_V_U64:
        etsn_buf_printf(out, "%" PRIu64, v->num.u);
        return true;
    case ETSN_V_DOUBLE:
    case ETSN_V_FLOAT:
        etsn_buf_printf(out, "%g", v->num.d);
        return true;
    case ETSN_V_CHAR: {
        uint8_t u16[2] = {(uint8_t)(v->num.i & 0xFF), (uint8_t)((v->num.i >> 8) & 0xFF)};
        return !etsn_utf16le_to_utf8(u16, 2, out);
    }
    case ETSN_V_SECURESTRING:
        return secure_text(e, sh, v, out);
    case ETSN_V_BYTES:
        etsn_buf_printf(out, "(%zu bytes)", v->str_len);
        return true;
    case ETSN_V_OBJ: {
        if (v->base) return value_text(e, sh, v->base, out);
        const etsn_value *x;
        if ((x = etsn_v_get(v, "character"))) return value_text(e, sh, x, out); /* KeyInfo */
        if (etsn_v_get(v, "T") && (x = etsn_v_get(v, "V"))) return value_text(e, sh, x, out);
        if ((x = etsn_v_get(v, "UserName"))) return value_text(e, sh, x, out); /* PSCredential */
        if (is_list(v)) {
            bool ok = true;
            for (size_t i = 0; i < v->n_items; i++) {
                if (i) etsn_buf_append_byte(out, ',');
                ok = value_text(e, sh, v->items[i], out) && ok;
            }
            return ok;
        }
        if (v->coll == ETSN_COLL_DCT) {
            bool ok = true;
            for (size_t i = 0; i + 1 < v->n_items; i += 2) {
                if (i) etsn_buf_append_str(out, "; ");
                ok = value_text(e, sh, v->items[i], out) && ok;
                etsn_buf_append_str(out, "=");
                ok = value_text(e, sh, v->items[i + 1], out) && ok;
            }
            return ok;
        }
        if (v->to_string) {
            etsn_buf_append_str(out, v->to_string);
            return true;
        }
        return !etsn_v_display(v, out);
    }
    default:
        if (v->str) etsn_buf_append(out, v->str, v->str_len);
        return true;
    }
}

static char *text_of(mock_engine *e, const shell *sh, const etsn_value *v, bool *ok)
{
    etsn_buf b = ETSN_BUF_INIT;
    bool r = value_text(e, sh, v, &b);
    if (ok) *ok = r;
    char *t = b.data ? etsn_buf_steal(&b) : strdup("");
    etsn_buf_free(&b);
    return t;
}

/* Both texts with blanks around commas removed: "0, 2" means "0,2". */
static bool same_list_text(const char *a, const char *b)
{
    for (;;) {
        while (*a == ' ') a++;
        while (*b == ' ') b++;
        if (!*a || !*b) return !*a && !*b;
        if (*a != *b) return false;
        a++;
        b++;
    }
}

/* A dictionary entry by key (case-insensitive, as PowerShell's Prompt
 * results are looked up), unwrapping {T, V}. */
static const etsn_value *dict_value(const etsn_value *d, const char *key)
{
    if (!d || d->kind != ETSN_V_OBJ) return NULL;
    if (d->base) d = d->base;
    for (size_t i = 0; d->coll == ETSN_COLL_DCT && i + 1 < d->n_items; i += 2) {
        const char *k = etsn_v_as_str(d->items[i]);
        if (k && !strcasecmp(k, key)) return d->items[i + 1];
    }
    return NULL;
}

static bool check_field(mock_engine *e, const shell *sh, const fx_expect_field *f,
                        const etsn_value *mr, etsn_buf *why)
{
    const etsn_value *v = dict_value(mr, f->name);
    if (!v) {
        etsn_buf_printf(why, "%sno field '%s' in the answer", why->len ? "; " : "", f->name);
        return false;
    }
    if (v->kind == ETSN_V_OBJ && etsn_v_get(v, "T") && etsn_v_get(v, "V")) v = etsn_v_get(v, "V");
    if (f->is_list) {
        const etsn_value *l = v->kind == ETSN_V_OBJ && v->base ? v->base : v;
        bool ok = is_list(l) && l->n_items == f->n_items;
        for (size_t i = 0; ok && i < f->n_items; i++) {
            char *t = text_of(e, sh, l->items[i], NULL);
            ok = t && !strcmp(t, f->items[i]);
            free(t);
        }
        if (!ok) {
            char *t = text_of(e, sh, v, NULL);
            etsn_buf_printf(why, "%sfield '%s': expected %zu item(s), got '%s'%s",
                            why->len ? "; " : "", f->name, f->n_items, t ? t : "",
                            is_list(l) ? "" : " (not a list)");
            free(t);
        }
        return ok;
    }
    bool dec;
    char *t = text_of(e, sh, v, &dec);
    bool ok = dec && t && !strcmp(t, f->text);
    if (!ok)
        etsn_buf_printf(why, "%sfield '%s': expected '%s', got '%s'", why->len ? "; " : "", f->name,
                        f->text, t ? t : "");
    free(t);
    return ok;
}

/* Whether the answer is what the fixture expects; got receives what
 * arrived (for the report), why the differences. */
static bool check_answer(mock_engine *e, const shell *sh, const fx_step *s, const etsn_value *mr,
                         const etsn_value *me, etsn_buf *got, etsn_buf *why)
{
    if (me && me->kind != ETSN_V_NIL) {
        etsn_error_record r;
        etsn_error_record_read(me, &r);
        etsn_buf_printf(got, "an error: %s", r.message ? r.message : "(no message)");
        if (s->expect_error) return true;
        etsn_buf_append_str(why, "the client answered with an error");
        return false;
    }
    if (s->expect_error) {
        etsn_buf_append_str(why, "expected an error answer (me), got none");
        value_text(e, sh, mr, got);
        return false;
    }
    bool ok = true;
    if (s->method_id == 24 || s->method_id == 25) {
        const etsn_value *u = mr ? etsn_v_get(mr, "UserName") : NULL;
        const etsn_value *pw = mr ? etsn_v_get(mr, "Password") : NULL;
        char *ut = text_of(e, sh, u, NULL);
        bool dec = false;
        char *pt = pw ? text_of(e, sh, pw, &dec) : NULL;
        /* The report shows a password only when it is the fixture's own
         * test value; anything else a person typed stays out of it. */
        bool expected = dec && pt && s->expect_password && !strcmp(pt, s->expect_password);
        if (!pw)
            etsn_buf_printf(got, "user '%s', password (none)", ut ? ut : "");
        else if (expected)
            etsn_buf_printf(got, "user '%s', password '%s'", ut ? ut : "", pt);
        else if (dec && pt)
            etsn_buf_printf(got, "user '%s', a password of %zu characters (not shown)",
                            ut ? ut : "", strlen(pt));
        else
            etsn_buf_printf(got, "user '%s', a password that could not be decrypted", ut ? ut : "");
        if (!mr || mr->kind != ETSN_V_OBJ) {
            etsn_buf_append_str(why, "expected a PSCredential");
            ok = false;
        }
        if (s->expect_user && (!ut || strcasecmp(ut, s->expect_user))) {
            etsn_buf_printf(why, "%suser: expected '%s'", why->len ? "; " : "", s->expect_user);
            ok = false;
        }
        if (s->expect_password && (!dec || !pt || strcmp(pt, s->expect_password))) {
            etsn_buf_printf(why, "%spassword differs%s", why->len ? "; " : "",
                            pw && !dec ? " (it could not be decrypted)" : "");
            ok = false;
        }
        if (pt) etsn_secure_zero(pt, strlen(pt));
        free(ut);
        free(pt);
    } else {
        bool dec = value_text(e, sh, mr, got);
        if (s->method_id == 12 && mr && mr->kind != ETSN_V_SECURESTRING &&
            !(mr->kind == ETSN_V_OBJ && mr->base && mr->base->kind == ETSN_V_SECURESTRING)) {
            etsn_buf_printf(why, "expected a SecureString");
            ok = false;
        }
        if (!dec) {
            etsn_buf_printf(why, "%sa SecureString could not be read", why->len ? "; " : "");
            ok = false;
        }
    }
    if (s->expect && ok) {
        char *t = text_of(e, sh, mr, NULL);
        bool same = t && (is_list(mr) || (mr && mr->kind == ETSN_V_OBJ && is_list(mr->base))
                              ? same_list_text(t, s->expect)
                          : mr && mr->kind == ETSN_V_BOOL ? !strcasecmp(t, s->expect)
                                                          : !strcmp(t, s->expect));
        if (!same) {
            etsn_buf_printf(why, "expected '%s', got '%s'", s->expect, t ? t : "");
            ok = false;
        }
        free(t);
    }
    for (size_t i = 0; i < s->n_fields; i++) ok = check_field(e, sh, &s->fields[i], mr, why) && ok;
    return ok;
}

static void host_response(mock_engine *e, shell *sh, pipe *p, const etsn_value *v)
{
    int64_t ci = 0;
    const etsn_value *civ = etsn_v_get(v, "ci");
    if (!civ || !etsn_v_as_i64(civ, &ci)) {
        unmatched(e, "PIPELINE_HOST_RESPONSE", "PIPELINE_HOST_RESPONSE {ci, mi, mr}",
                  "no call id (ci) in the response");
        return;
    }
    if (p->aborted_ci && ci == p->aborted_ci) {
        /* DispatchTable.SetResponse: an answer to a call Ctrl+C aborted
         * has nobody waiting for it and is dropped silently. */
        event(e, "host-response-after-stop", "ci=%" PRId64 " on '%s'", ci, pipe_label(p));
        return;
    }
    if (p->st != PS_WAIT_HOST || ci != p->wait_ci) {
        char nearest[300];
        if (p->st == PS_WAIT_HOST)
            snprintf(nearest, sizeof nearest, "PIPELINE_HOST_RESPONSE ci=%" PRId64 " (%s)",
                     p->wait_ci, etsn_host_method_name(p->wait_step->method_id));
        else
            snprintf(nearest, sizeof nearest, "no host call is waiting on pipeline '%s'",
                     pipe_label(p));
        unmatched(e, "PIPELINE_HOST_RESPONSE", nearest,
                  "host response ci=%" PRId64 " answers a call never made", ci);
        return;
    }
    const fx_step *s = p->wait_step;
    int64_t mi = 0;
    const etsn_value *miv = etsn_v_get(v, "mi");
    etsn_buf got = ETSN_BUF_INIT, why = ETSN_BUF_INIT;
    bool ok = check_answer(e, sh, s, etsn_v_get(v, "mr"), etsn_v_get(v, "me"), &got, &why);
    if (miv && etsn_v_as_i64(miv, &mi) && mi != s->method_id) {
        etsn_buf_printf(&why, "%smi is %" PRId64 ", the call was %d (%s)", why.len ? "; " : "", mi,
                        s->method_id, etsn_host_method_name(s->method_id));
        ok = false;
    }
    char key[300];
    snprintf(key, sizeof key, "host-response:%s",
             s->id ? s->id : etsn_host_method_name(s->method_id));
    etsn_buf detail = ETSN_BUF_INIT;
    etsn_buf_printf(&detail, "ci=%" PRId64 " %s answered %s%s%s", ci,
                    etsn_host_method_name(s->method_id), got.data ? (char *)got.data : "",
                    why.len ? " -- " : "", why.data ? (char *)why.data : "");
    const char *d = detail.data ? (const char *)detail.data : "";
    add_fact(e, key, ok, d);
    mock_report_host_answer(e->report, p->wait_report, ok, d);
    event(e, "host-response", "%s %s", key, ok ? "met" : d);
    if (got.data) etsn_secure_zero(got.data, got.len);
    if (detail.data) etsn_secure_zero(detail.data, detail.len);
    etsn_buf_free(&got);
    etsn_buf_free(&why);
    etsn_buf_free(&detail);
    p->st = PS_RUNNING;
    p->wait_step = NULL;
}

/* ---- incoming PSRP messages ---- */

typedef struct {
    mock_engine *e;
    shell *sh;
    pipe *p; /* NULL: the pool */
    const char *where;
} dctx;

static etsn_value *parse_body(mock_engine *e, const etsn_message *m, const char *type)
{
    char err[256] = "";
    etsn_value *v = etsn_clixml_parse((const char *)m->data, m->len, NULL, err, sizeof err);
    if (!v) unmatched(e, type, type, "CLIXML does not parse: %s", err);
    return v;
}

/* PUBLIC_KEY: protocol 2.3 and earlier answer with ENCRYPTED_SESSION_KEY
 * (a fresh AES-256 key wrapped for the client's RSA key) and keep the key
 * to read SecureStrings in host responses; 2.4 has no exchange. */
static void public_key(mock_engine *e, shell *sh, const etsn_message *m, const char *tn)
{
    if (!strcmp(e->fx->protocol, "2.4")) {
        unmatched(e, tn, "no key exchange (protocol 2.4)",
                  "PUBLIC_KEY sent to a protocol 2.4 server: 2.4 sends SecureStrings without a "
                  "session key");
        add_fact(e, "session-key-exchanged", false, "PUBLIC_KEY sent to a 2.4 server");
        event(e, "unexpected-public-key", "protocol 2.4");
        return;
    }
    etsn_value *v = parse_body(e, m, tn);
    if (!v) return;
    const char *pub = etsn_v_as_str(etsn_v_get(v, "PublicKey"));
    char err[256] = "";
    etsn_psrp_keys *k = pub ? etsn_psrp_keys_server_new(pub, err, sizeof err) : NULL;
    etsn_v_free(v);
    if (!k) {
        unmatched(e, tn, "PUBLIC_KEY {PublicKey: base64 CAPI PUBLICKEYBLOB}", "%s",
                  pub ? err : "no PublicKey member");
        add_fact(e, "session-key-exchanged", false, pub ? err : "no PublicKey member");
        return;
    }
    etsn_buf b64 = ETSN_BUF_INIT;
    etsn_value *o = NULL;
    if (!etsn_psrp_keys_session_key_blob(k, &b64) && b64.data && (o = etsn_v_obj()) &&
        !etsn_obj_add_member(o, "EncryptedSessionKey", etsn_v_string((const char *)b64.data))) {
        queue_owned(e, sh, NULL, ETSN_MSG_ENCRYPTED_SESSION_KEY, o, 0);
        etsn_psrp_keys_free(sh->keys);
        sh->keys = k;
        add_fact(e, "session-key-exchanged", true, sh->shell_id);
        event(e, "key-exchange", "ENCRYPTED_SESSION_KEY sent");
    } else {
        etsn_v_free(o);
        etsn_psrp_keys_free(k);
        event(e, "internal-error", "cannot build ENCRYPTED_SESSION_KEY");
    }
    etsn_buf_free(&b64);
}

static etsn_value *pool_reply(const char *ci_name, int64_t ci, etsn_value *resp)
{
    etsn_value *v = etsn_v_obj();
    if (!v || etsn_obj_add_member(v, "SetMinMaxRunspacesResponse", resp) < 0 ||
        etsn_obj_add_member(v, ci_name, etsn_v_i64(ci)) < 0) {
        etsn_v_free(v);
        return NULL;
    }
    return v;
}

static int on_pool_message(dctx *c, const etsn_message *m)
{
    mock_engine *e = c->e;
    const char *tn = etsn_message_type_name(m->type);
    char tname[32];
    if (!tn) {
        snprintf(tname, sizeof tname, "0x%08X", m->type);
        tn = tname;
    }
    if (!etsn_guid_equal(&m->rpid, &c->sh->rpid) && !etsn_guid_is_zero(&c->sh->rpid)) {
        char a[37], b[37];
        etsn_guid_format(&m->rpid, a, true);
        etsn_guid_format(&c->sh->rpid, b, true);
        unmatched(e, tn, "a message for the shell's runspace pool", "RPID %s is not the pool %s", a,
                  b);
    }
    switch (m->type) {
    case ETSN_MSG_SESSION_CAPABILITY: {
        etsn_value *v = parse_body(e, m, tn);
        const char *pv = v ? etsn_v_as_str(etsn_v_get(v, "protocolversion")) : NULL;
        event(e, "client-capability", "protocolversion %s", pv ? pv : "?");
        etsn_v_free(v);
        return 0;
    }
    case ETSN_MSG_INIT_RUNSPACEPOOL:
    case ETSN_MSG_CONNECT_RUNSPACEPOOL: {
        if (m->type == ETSN_MSG_CONNECT_RUNSPACEPOOL) {
            unmatched(e, tn, "INIT_RUNSPACEPOOL", "reconnecting to a pool is not in this scenario");
            return 0;
        }
        etsn_value *v = parse_body(e, m, tn);
        etsn_v_free(v);
        c->sh->rpid = m->rpid;
        c->sh->opened = true;
        queue_owned(e, c->sh, NULL, ETSN_MSG_SESSION_CAPABILITY,
                    etsn_msg_session_capability(e->fx->protocol), 0);
        queue_owned(e, c->sh, NULL, ETSN_MSG_APPLICATION_PRIVATE_DATA, private_data(e->fx), 0);
        queue_owned(e, c->sh, NULL, ETSN_MSG_RUNSPACEPOOL_STATE,
                    etsn_msg_runspacepool_state(ETSN_POOL_OPENED, NULL), 0);
        add_fact(e, "pool-opened", true, c->sh->shell_id);
        event(e, "pool-opened", "%s", c->sh->shell_id);
        if (e->fx->request_public_key) {
            /* The server needs to send a SecureString: it asks for the key. */
            queue_owned(e, c->sh, NULL, ETSN_MSG_PUBLIC_KEY_REQUEST, etsn_v_string(""), 0);
            event(e, "public-key-request", "sent after the pool opened");
        }
        if (e->fx->busy_ms) {
            c->sh->busy_until = now_plus(e->fx->busy_ms);
            event(e, "busy", "the pool is busy for %u ms", e->fx->busy_ms);
        }
        return 0;
    }
    case ETSN_MSG_SET_MAX_RUNSPACES:
    case ETSN_MSG_SET_MIN_RUNSPACES:
    case ETSN_MSG_GET_AVAILABLE_RUNSPACES:
    case ETSN_MSG_RESET_RUNSPACE_STATE: {
        etsn_value *v = parse_body(e, m, tn);
        int64_t ci = 0;
        if (v) etsn_v_as_i64(etsn_v_get(v, "ci"), &ci);
        etsn_v_free(v);
        bool busy = !reached(&c->sh->busy_until);
        if (busy && m->type == ETSN_MSG_GET_AVAILABLE_RUNSPACES) {
            add_fact(e, "busy-polled", true, "GET_AVAILABLE_RUNSPACES while busy");
            event(e, "busy-poll", "GET_AVAILABLE_RUNSPACES ci=%" PRId64 " answered 0", ci);
        }
        /* A busy pool has no runspace free. */
        etsn_value *resp = m->type == ETSN_MSG_GET_AVAILABLE_RUNSPACES ? etsn_v_i64(busy ? 0 : 1)
                                                                       : etsn_v_bool(true);
        queue_owned(e, c->sh, NULL, ETSN_MSG_RUNSPACE_AVAILABILITY, pool_reply("ci", ci, resp), 0);
        event(e, "pool-message", "%s ci=%" PRId64, tn, ci);
        return 0;
    }
    case ETSN_MSG_PUBLIC_KEY:
        public_key(e, c->sh, m, tn);
        return 0;
    case ETSN_MSG_RUNSPACEPOOL_HOST_RESPONSE:
        unmatched(e, tn, "no runspace pool host call was made",
                  "host response for a call never made");
        return 0;
    default:
        unmatched(e, tn, "a runspace pool message (SET_MAX_RUNSPACES, ...)",
                  "%s is not expected on the pool's stream", tn);
        return 0;
    }
}

static int on_pipe_message(dctx *c, const etsn_message *m)
{
    mock_engine *e = c->e;
    pipe *p = c->p;
    const char *tn = etsn_message_type_name(m->type);
    char tname[32];
    if (!tn) {
        snprintf(tname, sizeof tname, "0x%08X", m->type);
        tn = tname;
    }
    if (!etsn_guid_equal(&m->rpid, &c->sh->rpid)) {
        char a[37], b[37];
        etsn_guid_format(&m->rpid, a, true);
        etsn_guid_format(&c->sh->rpid, b, true);
        unmatched(e, tn, "a message for the shell's runspace pool", "RPID %s is not the pool %s", a,
                  b);
    }
    if (p->st == PS_NEW) {
        if (m->type != ETSN_MSG_CREATE_PIPELINE && m->type != ETSN_MSG_GET_COMMAND_METADATA) {
            unmatched(e, tn, "CREATE_PIPELINE or GET_COMMAND_METADATA",
                      "first message of command %s is %s", p->command_id, tn);
            return 0;
        }
        p->pid = m->pid;
        char pid[37];
        etsn_guid_format(&m->pid, pid, true);
        if (strcasecmp(pid, p->command_id))
            event(e, "pid-differs", "CommandId %s carries PID %s", p->command_id, pid);
        etsn_value *v = parse_body(e, m, tn);
        if (!v) {
            p->st = PS_RUNNING;
            queue_state(e, c->sh, p, ETSN_PIPE_FAILED, NULL);
            return 0;
        }
        if (m->type == ETSN_MSG_CREATE_PIPELINE) {
            start_pipeline(e, c->sh, p, v);
        } else if (!reached(&c->sh->busy_until)) {
            p->text = strdup("(GET_COMMAND_METADATA)");
            p->metadata = etsn_v_ref(v);
            p->st = PS_QUEUED;
            event(e, "busy-queued", "GET_COMMAND_METADATA waits for the busy pool");
        } else {
            command_metadata(e, c->sh, p, v);
        }
        etsn_v_free(v);
        return 0;
    }
    switch (m->type) {
    case ETSN_MSG_PIPELINE_HOST_RESPONSE: {
        etsn_value *v = parse_body(e, m, tn);
        if (v) host_response(e, c->sh, p, v);
        etsn_v_free(v);
        return 0;
    }
    case ETSN_MSG_PIPELINE_INPUT:
    case ETSN_MSG_END_OF_PIPELINE_INPUT:
        event(e, "pipeline-input", "%s on %s", tn, p->command_id);
        return 0;
    default:
        unmatched(e, tn, "PIPELINE_HOST_RESPONSE or PIPELINE_INPUT",
                  "%s is not expected once pipeline '%s' runs", tn, p->text ? p->text : "");
        return 0;
    }
}

static int on_object(void *ctx, uint64_t object_id, const uint8_t *data, size_t len)
{
    dctx *c = ctx;
    etsn_message m;
    if (etsn_message_decode(data, len, &m) < 0) {
        unmatched(c->e, "PSRP message", "a PSRP message (40-byte header)",
                  "object %" PRIu64 " of %zu bytes is shorter than a message header", object_id,
                  len);
        return 0;
    }
    if (m.destination != ETSN_DEST_SERVER)
        unmatched(c->e, etsn_message_type_name(m.type) ? etsn_message_type_name(m.type) : "?",
                  "Destination 2 (server)", "Destination is %u", m.destination);
    return c->p ? on_pipe_message(c, &m) : on_pool_message(c, &m);
}

static void feed(mock_engine *e, shell *sh, pipe *p, const uint8_t *data, size_t len,
                 const char *where)
{
    etsn_defrag *d = p ? p->defrag : sh->defrag;
    dctx c = {e, sh, p, where};
    char err[256] = "";
    if (etsn_defrag_feed(d, data, len, on_object, &c, err, sizeof err) < 0)
        unmatched(e, where, "well-formed PSRP fragments", "%s", err);
}

/* ---- shells and pipelines ---- */

static shell *find_any_shell(mock_engine *e, const char *id)
{
    if (!id) return NULL;
    for (shell *s = e->shells; s; s = s->next)
        if (!strcasecmp(s->shell_id, id)) return s;
    return NULL;
}

/* A vanished shell (<break-session mode="vanish">) is not found. */
static shell *find_shell(mock_engine *e, const char *id)
{
    shell *s = find_any_shell(e, id);
    return s && !s->vanished ? s : NULL;
}

static pipe *find_pipe(shell *sh, const char *id)
{
    if (!id) return NULL;
    for (pipe *p = sh->pipes; p; p = p->next)
        if (!strcasecmp(p->command_id, id)) return p;
    return NULL;
}

static void pipe_free(mock_engine *e, pipe *p)
{
    outq_free(e, &p->out);
    etsn_defrag_free(p->defrag);
    fx_steps_free(p->own, p->n_own);
    etsn_v_free(p->metadata);
    free(p->tab_input);
    free(p->command_id);
    free(p->text);
    free(p);
}

static void remove_pipe(mock_engine *e, shell *sh, pipe *p)
{
    for (pipe **pp = &sh->pipes; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            pipe_free(e, p);
            return;
        }
}

static void shell_free(mock_engine *e, shell *sh)
{
    while (sh->pipes) {
        pipe *p = sh->pipes;
        sh->pipes = p->next;
        pipe_free(e, p);
    }
    outq_free(e, &sh->out);
    etsn_defrag_free(sh->defrag);
    etsn_psrp_keys_free(sh->keys);
    free(sh->shell_id);
    free(sh->resource_uri);
    free(sh);
}

/* ---- replies ---- */

static const char *machine(const mock_engine *e)
{
    return e->fx->computer;
}

static int fault_timeout(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    etsn_wsman_build_fault(reply, m->message_id, "s:Receiver", "w:TimedOut", MOCK_FAULT_TIMED_OUT,
                           machine(e),
                           "The WS-Management service cannot complete the operation within the "
                           "time specified in OperationTimeout.  ");
    return 500;
}

static int fault_no_shell(mock_engine *e, const etsn_wsman_msg *m, const char *what,
                          etsn_buf *reply)
{
    char msg[512];
    const char *id = m->shell_id ? m->shell_id : "";
    snprintf(msg, sizeof msg,
             "The request for the Windows Remote Shell with ShellId %s failed because the shell "
             "was not found on the server. Possible causes are: the specified ShellId is "
             "incorrect or the shell no longer exists on the server. Provide the correct ShellId "
             "or create a new shell and try again. ",
             id);
    etsn_buf known = ETSN_BUF_INIT;
    for (shell *s = e->shells; s; s = s->next)
        etsn_buf_printf(&known, "%s%s", known.len ? ", " : "", s->shell_id);
    char req[300];
    snprintf(req, sizeof req, "%s ShellId=%s", what, m->shell_id ? m->shell_id : "(none)");
    if (find_any_shell(e, m->shell_id))
        event(e, "vanished-shell-request", "%s: the fixture made the shell vanish", req);
    else
        unmatched(e, req, known.len ? (const char *)known.data : "Create (no shell is open)",
                  "unknown ShellId %s", m->shell_id ? m->shell_id : "(missing)");
    etsn_buf_free(&known);
    etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "w:InvalidSelectors",
                           MOCK_FAULT_INVALID_SELECTORS, machine(e), msg);
    return 500;
}

static int fault_no_command(mock_engine *e, const etsn_wsman_msg *m, shell *sh, const char *what,
                            const char *cid, etsn_buf *reply)
{
    etsn_buf known = ETSN_BUF_INIT;
    for (pipe *p = sh->pipes; p; p = p->next)
        etsn_buf_printf(&known, "%s%s", known.len ? ", " : "", p->command_id);
    char req[300];
    snprintf(req, sizeof req, "%s CommandId=%s", what, cid ? cid : "(none)");
    unmatched(e, req, known.len ? (const char *)known.data : "Command (no command is running)",
              "unknown CommandId %s", cid ? cid : "(missing)");
    etsn_buf_free(&known);
    etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "w:InvalidSelectors",
                           MOCK_FAULT_INVALID_SELECTORS, machine(e),
                           "The WS-Management service cannot process the request because the "
                           "request contained invalid selectors for the resource. ");
    return 500;
}

/* ---- actions ---- */

static void new_guid_text(char out[37])
{
    etsn_guid g;
    if (etsn_guid_random(&g) < 0) memset(&g, 0, sizeof g);
    etsn_guid_format(&g, out, true);
}

static int do_create(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    const mock_fixture *fx = e->fx;
    const char *uri = m->resource_uri ? m->resource_uri : "";
    bool bad = fx->resource_uri
                   ? strcasecmp(uri, fx->resource_uri) != 0
                   : strncasecmp(uri, ETSN_PSRP_SHELL_PREFIX, strlen(ETSN_PSRP_SHELL_PREFIX)) != 0;
    if (bad) {
        const char *name = strrchr(uri, '/');
        name = name ? name + 1 : uri;
        char msg[700];
        snprintf(msg, sizeof msg,
                 "The WS-Management service cannot process the request. Cannot find the %s "
                 "session configuration in the WSMan: drive on the %s computer. ",
                 name, fx->computer);
        unmatched(e, "Create", fx->resource_uri ? fx->resource_uri : ETSN_PSRP_SHELL_PREFIX "*",
                  "resource URI %s", uri);
        event(e, "configuration-not-found", "%s", uri);
        etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "w:InvalidResourceURI",
                               MOCK_FAULT_INVALID_RESOURCE_URI, machine(e), msg);
        return 500;
    }
    char gen[37];
    const char *sid = m->shell_id;
    if (!sid || !*sid) {
        new_guid_text(gen);
        sid = gen;
    }
    if (find_shell(e, sid)) {
        unmatched(e, "Create", "Create with a new ShellId", "ShellId %s already exists", sid);
        etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "w:AlreadyExists", 2150858785u,
                               machine(e),
                               "The WS-Management service cannot create the resource because it "
                               "already exists. ");
        return 500;
    }
    shell *sh = calloc(1, sizeof *sh);
    if (!sh) return -1;
    sh->shell_id = strdup(sid);
    sh->resource_uri = strdup(uri);
    sh->defrag = etsn_defrag_new(16u * 1024 * 1024, 16);
    sh->next_oid = 1;
    sh->next_ci = 1;
    if (!sh->shell_id || !sh->resource_uri || !sh->defrag) {
        shell_free(e, sh);
        return -1;
    }
    etsn_guid g;
    if (etsn_guid_parse(sid, &g)) sh->rpid = g;
    sh->next = e->shells;
    e->shells = sh;
    add_fact(e, "shell-created", true, sid);
    event(e, "create", "ShellId %s, %s, protocolversion %s", sid, uri,
          m->protocol_version ? m->protocol_version : "-");
    if (!m->creation_xml.len)
        unmatched(e, "Create", "Create with creationXml (SESSION_CAPABILITY + INIT_RUNSPACEPOOL)",
                  "no creationXml");
    else
        feed(e, sh, NULL, m->creation_xml.data, m->creation_xml.len, "Create creationXml");
    if (!sh->opened && m->creation_xml.len)
        unmatched(e, "Create", "creationXml with INIT_RUNSPACEPOOL",
                  "the creationXml did not hold INIT_RUNSPACEPOOL");
    char to[512];
    snprintf(to, sizeof to, "%s", m->to ? m->to : "http://localhost/wsman");
    etsn_wsman_build_create_response(reply, m->message_id, to, uri, sh->shell_id);
    return 200;
}

static int do_command(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    shell *sh = find_shell(e, m->shell_id);
    if (!sh) return fault_no_shell(e, m, "Command", reply);
    if (sh->broken) {
        /* The pool broke: its server process is gone, as WinRM reports. */
        event(e, "broken-session-request", "Command on the broken shell %s", sh->shell_id);
        char msg[512];
        snprintf(msg, sizeof msg,
                 "The request for the Windows Remote Shell with ShellId %s failed because the "
                 "shell was not found on the server. Possible causes are: the specified ShellId "
                 "is incorrect or the shell no longer exists on the server. Provide the correct "
                 "ShellId or create a new shell and try again. ",
                 sh->shell_id);
        etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "w:InvalidSelectors",
                               MOCK_FAULT_INVALID_SELECTORS, machine(e), msg);
        return 500;
    }
    char gen[37];
    const char *cid = m->command_id;
    if (!cid || !*cid) {
        new_guid_text(gen);
        cid = gen;
    }
    if (find_pipe(sh, cid)) {
        unmatched(e, "Command", "Command with a new CommandId", "CommandId %s already exists", cid);
        etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "w:AlreadyExists", 2150858785u,
                               machine(e),
                               "The WS-Management service cannot create the resource because it "
                               "already exists. ");
        return 500;
    }
    pipe *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->command_id = strdup(cid);
    p->defrag = etsn_defrag_new(16u * 1024 * 1024, 16);
    if (!p->command_id || !p->defrag) {
        pipe_free(e, p);
        return -1;
    }
    etsn_guid g;
    if (etsn_guid_parse(cid, &g)) p->pid = g;
    p->next = sh->pipes;
    sh->pipes = p;
    if (m->arguments.len) feed(e, sh, p, m->arguments.data, m->arguments.len, "Command Arguments");
    etsn_wsman_build_command_response(reply, m->message_id, p->command_id);
    return 200;
}

static int do_send(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    shell *sh = find_shell(e, m->shell_id);
    if (!sh) return fault_no_shell(e, m, "Send", reply);
    for (size_t i = 0; i < m->n_streams; i++) {
        const etsn_wsman_stream *s = &m->streams[i];
        const char *cid = s->command_id ? s->command_id : m->command_id;
        if (cid) {
            pipe *p = find_pipe(sh, cid);
            if (!p) return fault_no_command(e, m, sh, "Send", cid, reply);
            feed(e, sh, p, s->data, s->len, "Send");
        } else {
            feed(e, sh, NULL, s->data, s->len, "Send");
        }
    }
    etsn_wsman_build_send_response(reply, m->message_id);
    return 200;
}

static int do_signal(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    shell *sh = find_shell(e, m->shell_id);
    if (!sh) return fault_no_shell(e, m, "Signal", reply);
    const char *code = m->signal_code ? m->signal_code : "";
    pipe *p = find_pipe(sh, m->command_id);
    if (!p) return fault_no_command(e, m, sh, "Signal", m->command_id, reply);
    if (!strcmp(code, ETSN_SIGNAL_CTRL_C)) {
        add_fact(e, "signal-ctrl-c", true, p->text ? p->text : p->command_id);
        event(e, "signal", "crtl_c on '%s'", p->text ? p->text : p->command_id);
        if (p->st != PS_FINISHED) {
            if (p->st == PS_WAIT_HOST) p->aborted_ci = p->wait_ci;
            fx_error fe = {0};
            fe.message = "The pipeline has been stopped.";
            fe.exception_type = "System.Management.Automation.PipelineStoppedException";
            fe.fqid = "PipelineStopped";
            fe.category_name = "OperationStopped";
            fe.category = 14;
            fe.reason = "PipelineStoppedException";
            fe.activity = "";
            fe.target_name = "";
            fe.target_type = "";
            queue_state(e, sh, p, ETSN_PIPE_STOPPED, &fe);
        }
    } else if (!strcmp(code, ETSN_SIGNAL_TERMINATE)) {
        add_fact(e, "signal-terminate", true, p->text ? p->text : p->command_id);
        event(e, "signal", "terminate on '%s'", p->text ? p->text : p->command_id);
        if (p->st != PS_FINISHED || !p->done_reported)
            event(e, "terminated-early", "'%s' had not finished", p->text ? p->text : "");
        remove_pipe(e, sh, p);
    } else {
        unmatched(e, "Signal", "Signal " ETSN_SIGNAL_CTRL_C " or terminate", "signal code '%s'",
                  code);
    }
    etsn_wsman_build_signal_response(reply, m->message_id);
    return 200;
}

static int do_delete(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    shell *sh = find_shell(e, m->shell_id);
    if (!sh) return fault_no_shell(e, m, "Delete", reply);
    for (shell **pp = &e->shells; *pp; pp = &(*pp)->next)
        if (*pp == sh) {
            *pp = sh->next;
            break;
        }
    add_fact(e, "shell-deleted", true, sh->shell_id);
    event(e, "delete", "ShellId %s", sh->shell_id);
    shell_free(e, sh);
    etsn_wsman_build_delete_response(reply, m->message_id);
    return 200;
}

static size_t payload_budget(uint32_t max_env)
{
    if (!max_env) max_env = MOCK_DEFAULT_ENVELOPE;
    if (max_env < MOCK_MIN_ENVELOPE) max_env = MOCK_MIN_ENVELOPE;
    size_t b = ((size_t)max_env - ETSN_WSMAN_RECEIVE_OVERHEAD) / 4 * 3;
    return b > 64 ? b : 64;
}

static void deadline_after(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int do_receive(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    uint32_t timeout = m->operation_timeout_ms ? m->operation_timeout_ms : MOCK_DEFAULT_TIMEOUT_MS;
    struct timespec deadline;
    deadline_after(&deadline, timeout);
    size_t budget = payload_budget(m->max_envelope_size);
    etsn_buf data = ETSN_BUF_INIT;
    int status;
    for (;;) {
        shell *sh = find_shell(e, m->shell_id);
        if (!sh) {
            status = fault_no_shell(e, m, "Receive", reply);
            break;
        }
        pipe *p = NULL;
        if (m->command_id) {
            p = find_pipe(sh, m->command_id);
            if (!p) {
                status = fault_no_command(e, m, sh, "Receive", m->command_id, reply);
                break;
            }
        }
        etsn_buf_reset(&data);
        fill(e, sh, p, &data, budget);
        if (sh->vanished) {
            status = fault_no_shell(e, m, "Receive", reply);
            break;
        }
        bool done = p && p->st == PS_FINISHED && outq_empty(&p->out);
        if (done && p->done_reported && !data.len)
            unmatched(e, "Receive", "Signal terminate (the command is done)",
                      "Receive for command '%s' after its Done state", p->text ? p->text : "");
        if (data.len || done) {
            etsn_wsman_stream s = {0};
            s.name = (char *)"stdout";
            s.command_id = p ? p->command_id : NULL;
            s.data = data.data ? data.data : (uint8_t *)"";
            s.len = data.len;
            s.end = done;
            if (done) p->done_reported = true;
            etsn_wsman_build_receive_response(
                reply, m->message_id, &s, 1, p ? p->command_id : NULL,
                p ? (done ? ETSN_COMMAND_STATE_DONE : ETSN_COMMAND_STATE_RUNNING) : NULL);
            uint32_t max = m->max_envelope_size ? m->max_envelope_size : MOCK_DEFAULT_ENVELOPE;
            if (reply->len > max)
                event(e, "oversize-reply", "ReceiveResponse of %zu bytes exceeds %u", reply->len,
                      max);
            status = 200;
            break;
        }
        if (e->stopping) {
            status = fault_timeout(e, m, reply);
            break;
        }
        /* A sleeping or queued pipeline wakes by itself: wait no longer. */
        struct timespec until = deadline;
        if (p && p->st == PS_SLEEPING && ts_before(&p->wake, &until)) until = p->wake;
        if (p && p->st == PS_QUEUED && ts_before(&sh->busy_until, &until)) until = sh->busy_until;
        int rc = pthread_cond_timedwait(&e->cv, &e->mu, &until);
        if (rc == ETIMEDOUT && !reached(&deadline)) continue;
        if (rc == ETIMEDOUT) {
            event(e, "receive-timeout", "%s %s after %u ms", m->shell_id ? m->shell_id : "",
                  m->command_id ? m->command_id : "(pool)", timeout);
            status = fault_timeout(e, m, reply);
            break;
        }
    }
    etsn_buf_free(&data);
    return status;
}

static const char *action_name(etsn_wsman_action a)
{
    switch (a) {
    case ETSN_WSMAN_CREATE:
        return "Create";
    case ETSN_WSMAN_COMMAND:
        return "Command";
    case ETSN_WSMAN_SEND:
        return "Send";
    case ETSN_WSMAN_RECEIVE:
        return "Receive";
    case ETSN_WSMAN_SIGNAL:
        return "Signal";
    case ETSN_WSMAN_DELETE:
        return "Delete";
    default:
        return "unknown";
    }
}

int mock_engine_handle(void *ctx, uint64_t conn_id, const char *user, const uint8_t *soap,
                       size_t len, etsn_buf *reply)
{
    mock_engine *e = ctx;
    etsn_wsman_msg m;
    memset(&m, 0, sizeof m);
    char err[512] = "";
    int prc = etsn_wsman_parse(soap, len, &m, err, sizeof err);
    pthread_mutex_lock(&e->mu);
    e->requests++;
    mock_wire_log_request(e->report->wire, soap, len); /* the literal wire, wire_log.h */
    int status;
    if (prc < 0) {
        char req[160];
        snprintf(req, sizeof req, "unparseable SOAP (%zu bytes)", len);
        unmatched(e, req, "a WS-Man envelope", "%s", err);
        etsn_wsman_build_fault(reply, NULL, "s:Sender", "w:SchemaValidationError",
                               MOCK_FAULT_SCHEMA_VALIDATION, machine(e),
                               "The SOAP XML in the message does not match the corresponding XML "
                               "schema definition. Change the XML and retry. ");
        status = 500;
    } else if (e->stopping && m.action == ETSN_WSMAN_RECEIVE) {
        status = fault_timeout(e, &m, reply);
    } else {
        switch (m.action) {
        case ETSN_WSMAN_CREATE:
            if (e->fx->create_delay_ms) {
                /* A slow server: the shell exists only once the delay is
                 * over. Other requests go on meanwhile (the wait releases
                 * the lock). */
                event(e, "create-delayed", "%u ms", e->fx->create_delay_ms);
                struct timespec until = now_plus(e->fx->create_delay_ms);
                while (!e->stopping && !reached(&until))
                    pthread_cond_timedwait(&e->cv, &e->mu, &until);
            }
            status = do_create(e, &m, reply);
            break;
        case ETSN_WSMAN_COMMAND:
            status = do_command(e, &m, reply);
            break;
        case ETSN_WSMAN_SEND:
            status = do_send(e, &m, reply);
            break;
        case ETSN_WSMAN_RECEIVE:
            status = do_receive(e, &m, reply);
            break;
        case ETSN_WSMAN_SIGNAL:
            status = do_signal(e, &m, reply);
            break;
        case ETSN_WSMAN_DELETE:
            status = do_delete(e, &m, reply);
            break;
        default: {
            unmatched(e, m.action_uri ? m.action_uri : "(no Action)",
                      "Create, Command, Send, Receive, Signal or Delete",
                      "action %s is not a shell operation", action_name(m.action));
            etsn_wsman_build_fault(reply, m.message_id, "s:Sender", "a:ActionNotSupported",
                                   MOCK_FAULT_ACTION_NOT_SUPPORTED, machine(e),
                                   "The WS-Management service cannot process the request because "
                                   "the action is not supported. ");
            status = 500;
        }
        }
    }
    if (status < 0) {
        event(e, "internal-error", "out of memory handling %s", action_name(m.action));
        etsn_wsman_build_fault(reply, m.message_id, "s:Receiver", "w:InternalError", 2150858752u,
                               machine(e), "Internal error in etsn-mockd.");
        status = 500;
    }
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    etsn_wsman_msg_free(&m);
    (void)conn_id;
    (void)user;
    return status;
}

void mock_engine_event(void *ctx, const char *kind, const char *detail)
{
    mock_engine *e = ctx;
    pthread_mutex_lock(&e->mu);
    if (!strcmp(kind, "request-sealed"))
        e->req_sealed++;
    else if (!strcmp(kind, "request-plain"))
        e->req_plain++;
    else if (!strcmp(kind, "request-tls"))
        e->req_tls++;
    else
        mock_report_event(e->report, kind, detail);
    pthread_mutex_unlock(&e->mu);
}

/* ---- lifecycle ---- */

mock_engine *mock_engine_new(const mock_fixture *fx)
{
    mock_engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->fx = fx;
    e->report = mock_report_new(fx->name);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!e->report || rc || pthread_mutex_init(&e->mu, NULL)) {
        if (!rc) pthread_cond_destroy(&e->cv);
        mock_report_free(e->report);
        free(e);
        return NULL;
    }
    return e;
}

void mock_engine_shutdown(mock_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void mock_engine_free(mock_engine *e)
{
    if (!e) return;
    while (e->shells) {
        shell *s = e->shells;
        e->shells = s->next;
        shell_free(e, s);
    }
    for (size_t i = 0; i < e->n_facts; i++) {
        free(e->facts[i].key);
        free(e->facts[i].detail);
    }
    free(e->facts);
    mock_report_free(e->report);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

static bool evaluate(mock_engine *e, const char *id, char *detail, size_t dl)
{
    const fact *f;
    if (!strcmp(id, "no-unmatched")) {
        size_t n = e->report->n_unmatched + e->report->dropped_unmatched;
        snprintf(detail, dl, "%zu unmatched request(s)", n);
        return n == 0;
    }
    if (!strcmp(id, "encrypted")) {
        size_t refused = mock_report_count_events(e->report, "unencrypted-refused");
        if (!e->requests) {
            snprintf(detail, dl, "no request arrived");
            return false;
        }
        if (e->req_plain) {
            snprintf(detail, dl, "%zu of %zu requests arrived unencrypted", e->req_plain,
                     e->requests);
            return false;
        }
        if (refused) {
            snprintf(detail, dl, "%zu unencrypted request(s) were refused", refused);
            return false;
        }
        if (e->req_sealed + e->req_tls) {
            snprintf(detail, dl, "%zu sealed, %zu over TLS", e->req_sealed, e->req_tls);
            return true;
        }
        snprintf(detail, dl, "%zu requests; the HTTP layer requires sealing (%s)", e->requests,
                 e->fx->require_encryption ? "on" : "off");
        return e->fx->require_encryption;
    }
    if ((f = find_fact(e, id))) {
        snprintf(detail, dl, "%s", f->detail);
        return f->ok;
    }
    if (!strncasecmp(id, "pipeline:", 9)) {
        char *t = trim_copy(id + 9);
        char key[600];
        snprintf(key, sizeof key, "pipeline:%s", t ? t : "");
        free(t);
        if ((f = find_fact(e, key))) {
            snprintf(detail, dl, "CommandId %s", f->detail);
            return true;
        }
        snprintf(detail, dl, "no such pipeline ran");
        return false;
    }
    static const char *const known[] = {
        "shell-deleted", "shell-created",    "pool-opened", "command-metadata-requested",
        "signal-ctrl-c", "signal-terminate", NULL};
    for (size_t i = 0; known[i]; i++)
        if (!strcmp(known[i], id)) {
            snprintf(detail, dl, "did not happen");
            return false;
        }
    if (!strncmp(id, "host-size:", 10)) {
        snprintf(detail, dl, "no pipeline declared that window size");
        return false;
    }
    if (!strncmp(id, "host-response:", 14)) {
        snprintf(detail, dl, "no answer arrived");
        return false;
    }
    snprintf(detail, dl, "unknown expectation id");
    return false;
}

bool mock_engine_expectation_met(mock_engine *e, const char *id, char *detail, size_t detail_len)
{
    char d[1024];
    pthread_mutex_lock(&e->mu);
    bool ok = evaluate(e, id, d, sizeof d);
    pthread_mutex_unlock(&e->mu);
    if (detail && detail_len) snprintf(detail, detail_len, "%s", d);
    return ok;
}

int mock_engine_report_json(mock_engine *e, etsn_buf *out)
{
    pthread_mutex_lock(&e->mu);
    mock_report *r = e->report;
    /* Re-evaluate from scratch each time. */
    for (size_t i = 0; i < r->n_expectations; i++) {
        free(r->expectations[i].id);
        free(r->expectations[i].description);
        free(r->expectations[i].detail);
    }
    r->n_expectations = 0;
    for (size_t i = 0; i < e->fx->n_expects; i++) {
        char d[1024];
        bool ok = evaluate(e, e->fx->expects[i].id, d, sizeof d);
        mock_report_expectation(r, e->fx->expects[i].id, e->fx->expects[i].description, ok, d);
    }
    int rc = mock_report_to_json(r, out);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int mock_engine_write_report(mock_engine *e, const char *path)
{
    etsn_buf b = ETSN_BUF_INIT;
    if (mock_engine_report_json(e, &b) < 0) {
        etsn_buf_free(&b);
        return -1;
    }
    etsn_buf_free(&b);
    pthread_mutex_lock(&e->mu);
    int rc = mock_report_write_file(e->report, path);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

size_t mock_engine_high_water(mock_engine *e)
{
    pthread_mutex_lock(&e->mu);
    size_t v = e->high_water;
    pthread_mutex_unlock(&e->mu);
    return v;
}

size_t mock_engine_unmatched_count(mock_engine *e)
{
    pthread_mutex_lock(&e->mu);
    size_t v = e->report->n_unmatched + e->report->dropped_unmatched;
    pthread_mutex_unlock(&e->mu);
    return v;
}
