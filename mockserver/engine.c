#include "engine.h"
#include "replay.h"

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
#include "winrs.h"
#include "answers.h"
#include "builtins.h"
#include "cmdtext.h"
#include "completion.h"
#include "history.h"
#include "input.h"
#include "metadata.h"
#include "pool.h"
#include "records.h"
#include "render.h"

/* ---- outbound queues ---- */

typedef struct omsg {
    struct omsg *next;
    uint8_t *data;
    size_t len;
    bool cut; /* the Receive that completes this message ends with it */
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
    PS_WAIT_INPUT,  /* <input/>: waits for PIPELINE_INPUT or END_OF_PIPELINE_INPUT */
    PS_WAIT_KEY,    /* <secure-string>: waits for the client's PUBLIC_KEY */
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
    etsn_value *metadata;       /* GET_COMMAND_METADATA held while the pool is busy */
    mock_input input;           /* PIPELINE_INPUT objects, for <input/> */
    int stream_options;         /* CREATE_PIPELINE's RemoteStreamOptions */
    mock_invocation invocation; /* the script, for records that carry it */
    bool add_to_history;        /* CREATE_PIPELINE's AddToHistory: recorded when it ends */
    mock_out_string out_string; /* the pipeline ends in Out-String: output as text */
    bool first_is_command;      /* its first command is a command, not a script */
    int merged;                 /* MOCK_MERGE_*: streams the client merged into output */
    bool any_script;            /* some command is script text */
    const fx_step *key_step;    /* the <secure-string> waiting for the session key */
    etsn_buf out_text;          /* Out-String (no -Stream): the text so far */
    time_t started;
    char *tab_input; /* TabExpansion2's inputScript, when that is the command */
    int tab_cursor;  /* its cursorColumn (-1: the end) */
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
    int64_t pipelines_run;      /* HistoryId of the last pipeline */
    bool key_requested;         /* PUBLIC_KEY_REQUEST sent, no PUBLIC_KEY yet */
    mock_history history;       /* pipelines created with AddToHistory, for Get-History */
    etsn_value *app_args;       /* INIT_RUNSPACEPOOL's ApplicationArguments, or NULL */
    mock_pool pool;             /* min/max runspaces (pool.h) */
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
    mock_winrs *winrs; /* the WinRS cmd shell (winrs.h) */
    unsigned *runs;    /* per fixture pipeline: times its command ran (<pipeline run=>) */
    bool *replied;     /* per fixture <reply>: already given */
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

/* Windows PowerShell's PSVersionTable also names PSCompatibleVersions,
 * CLRVersion and BuildVersion (pypsrp's recordings of 5.1.14393: 1.0 ... 5.0
 * and the version itself, 4.0.30319.42000, 10.0.14393.2248). */
static int desktop_versions(const mock_fixture *fx, etsn_value *table)
{
    if (strcmp(fx->edition, "Desktop")) return 0;
    static const char *const t[] = {"System.Version[]", "System.Array", "System.Object", NULL};
    static const char *const older[] = {"1.0", "2.0", "3.0", "4.0", "5.0"};
    etsn_value *list = etsn_v_typed(t, ETSN_COLL_LST);
    if (!list) return -1;
    for (size_t i = 0; i < 5 && strcmp(older[i], fx->ps_version) < 0; i++)
        if (strncmp(older[i], fx->ps_version, 3) && etsn_obj_push_item(list, version(older[i])) < 0)
            break;
    if (etsn_obj_push_item(list, version(fx->ps_version)) < 0 ||
        etsn_obj_push_entry(table, etsn_v_string("PSCompatibleVersions"), list) < 0 ||
        etsn_obj_push_entry(table, etsn_v_string("CLRVersion"), version("4.0.30319.42000")) < 0)
        return -1;
    if (!strncmp(fx->ps_version, "5.1.", 4)) {
        char build[64];
        snprintf(build, sizeof build, "10.0.%s", fx->ps_version + 4);
        if (etsn_obj_push_entry(table, etsn_v_string("BuildVersion"), version(build)) < 0)
            return -1;
    }
    return 0;
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
             !desktop_versions(fx, table) &&
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

/* One void host call (ci -100) with a String parameter. */
static int queue_text_call(mock_engine *e, shell *sh, pipe *p, int method, const char *text,
                           uint64_t n)
{
    etsn_value *s = etsn_v_string(text);
    if (!s) return -1;
    const etsn_value *items[1] = {s};
    int rc =
        queue_owned(e, sh, p, ETSN_MSG_PIPELINE_HOST_CALL, host_call(-100, method, items, 1), n);
    etsn_v_free(s);
    return rc;
}

static int queue_error_line(mock_engine *e, shell *sh, pipe *p, const char *text, uint64_t n)
{
    return queue_text_call(e, sh, p, 18, text, n); /* WriteErrorLine */
}

/* cnt NUL-separated lines, one host call each. */
static int queue_lines(mock_engine *e, shell *sh, pipe *p, int method, const etsn_buf *lines,
                       size_t cnt, uint64_t n)
{
    const char *l = (const char *)lines->data;
    int rc = 0;
    for (size_t i = 0; i < cnt && !rc && l; i++) {
        rc = queue_text_call(e, sh, p, method, l, n);
        l += strlen(l) + 1;
    }
    return rc;
}

static int queue_error(mock_engine *e, shell *sh, pipe *p, const fx_error *fe, uint64_t n)
{
    if (!p->merge_errors) {
        etsn_error_record r;
        to_record(fe, &r);
        etsn_value *v = etsn_msg_error_record(&r, NULL);
        /* A record written to the error stream says so (ErrorRecord's
         * writeErrorStream, in every ERROR_RECORD of pypsrp's recordings;
         * absent from PIPELINE_STATE's ExceptionAsErrorRecord), and carries
         * its invocation when the client asked (AddInvocationInfoToErrorRecord). */
        if (v &&
            (etsn_obj_add_member(v, "writeErrorStream", etsn_v_bool(true)) < 0 ||
             mock_error_record_extend(v, (p->stream_options & 1) ? &p->invocation : NULL) < 0)) {
            etsn_v_free(v);
            v = NULL;
        }
        /* Merged into the output (2>&1, pypsrp's merge_error): the record
         * is an output object (test_psrp_merge_commands). */
        uint32_t type =
            (p->merged & MOCK_MERGE_ERROR) ? ETSN_MSG_PIPELINE_OUTPUT : ETSN_MSG_ERROR_RECORD;
        return queue_owned(e, sh, p, type, v, n);
    }
    etsn_buf lines = ETSN_BUF_INIT;
    size_t cnt = 0;
    mock_render_error(e->fx, fe, &lines, &cnt);
    int rc = queue_lines(e, sh, p, 18, &lines, cnt, n); /* WriteErrorLine */
    etsn_buf_free(&lines);
    return rc;
}

/* Output piped into Out-String: the text Out-Default would show, as
 * strings — one per line with -Stream, else gathered into one String (each
 * line ending in CRLF, Windows' NewLine) sent when the pipeline completes. */
static int queue_out_string(mock_engine *e, shell *sh, pipe *p, const fx_step *s, uint64_t n)
{
    etsn_buf lines = ETSN_BUF_INIT;
    size_t cnt = 0;
    mock_render_output(s, &lines, &cnt);
    const char *l = (const char *)lines.data;
    int rc = 0;
    for (size_t i = 0; i < cnt && !rc && l; i++, l += strlen(l) + 1) {
        if (p->out_string == MOCK_OUT_STRING_STREAM) {
            etsn_value *v = etsn_v_string(l);
            rc = v ? queue_owned(e, sh, p, ETSN_MSG_PIPELINE_OUTPUT, v, n) : -1;
        } else {
            rc = etsn_buf_append_str(&p->out_text, l) || etsn_buf_append_str(&p->out_text, "\r\n");
        }
    }
    etsn_buf_free(&lines);
    return rc;
}

/* An <output> step: PIPELINE_OUTPUT objects, or for a pipeline ending in
 * Out-Default what Out-Default writes to the host (render.h). */
static int queue_output(mock_engine *e, shell *sh, pipe *p, const fx_step *s, uint64_t n)
{
    if (p->out_string != MOCK_OUT_NONE && !p->merge_errors) return queue_out_string(e, sh, p, s, n);
    if (!p->merge_errors) {
        for (size_t i = 0; i < s->n_values; i++)
            if (queue_value(e, sh, p, ETSN_MSG_PIPELINE_OUTPUT, s->values[i], n) < 0) return -1;
        return 0;
    }
    etsn_buf lines = ETSN_BUF_INIT;
    size_t cnt = 0;
    mock_render_output(s, &lines, &cnt);
    int rc = queue_lines(e, sh, p, 16, &lines, cnt, n); /* WriteLine2 */
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
        /* ExceptionAsErrorRecord never carries the InvocationInfo_*
         * members (test_psrp_error_failed: SerializeExtendedInfo false),
         * only the InvocationInfo property, when the fixture gives a
         * position. */
        if (err &&
            (mock_error_record_extend(err, NULL) < 0 ||
             (fe->position && mock_error_record_invocation(err, p->text, fe->position) < 0))) {
            etsn_v_free(err);
            err = NULL;
        }
        if (!err) return -1;
    }
    p->st = PS_FINISHED;
    if (p->out_text.len && state == ETSN_PIPE_COMPLETED) {
        etsn_buf_append_byte(&p->out_text, 0);
        queue_owned(e, sh, p, ETSN_MSG_PIPELINE_OUTPUT, etsn_v_string((char *)p->out_text.data), 0);
        etsn_buf_reset(&p->out_text);
    }
    if (p->add_to_history && p->text) {
        p->add_to_history = false;
        mock_history_add(&sh->history, p->text, state, p->started, time(NULL));
    }
    return queue_owned(e, sh, p, ETSN_MSG_PIPELINE_STATE, etsn_msg_pipeline_state(state, err), 0);
}

/* ---- running a pipeline program ---- */

static void command_metadata(mock_engine *e, shell *sh, pipe *p, const etsn_value *v);
static void record_host_call(mock_engine *e, pipe *p, const fx_step *s, int64_t ci);

/* The invocation a WARNING/DEBUG/VERBOSE record carries when the client's
 * RemoteStreamOptions asks for it (AddInvocationInfoToWarningRecord 2,
 * ...DebugRecord 4, ...VerboseRecord 8; MS-PSRP 2.2.3.8 in 2.2.2.10), else NULL. */
static const mock_invocation *invocation_for(const pipe *p, uint32_t type)
{
    int flag = type == ETSN_MSG_WARNING_RECORD   ? 2
               : type == ETSN_MSG_DEBUG_RECORD   ? 4
               : type == ETSN_MSG_VERBOSE_RECORD ? 8
                                                 : 0;
    return (p->stream_options & flag) ? &p->invocation : NULL;
}

/* The message a WARNING/VERBOSE/DEBUG/INFORMATION record goes out as: the
 * record's own, or PIPELINE_OUTPUT when the client merged that stream into
 * the output (MergeWarning=Output ..., test_psrp_merge_commands). */
static uint32_t stream_type(const pipe *p, uint32_t type)
{
    int flag = type == ETSN_MSG_WARNING_RECORD   ? MOCK_MERGE_WARNING
               : type == ETSN_MSG_VERBOSE_RECORD ? MOCK_MERGE_VERBOSE
               : type == ETSN_MSG_DEBUG_RECORD   ? MOCK_MERGE_DEBUG
                                                 : MOCK_MERGE_INFORMATION;
    return (p->merged & flag) && !p->merge_errors ? ETSN_MSG_PIPELINE_OUTPUT : type;
}

static int queue_stream(mock_engine *e, shell *sh, pipe *p, const fx_step *s, uint64_t n)
{
    if (s->stream == ETSN_MSG_INFORMATION_RECORD)
        return queue_owned(e, sh, p, stream_type(p, s->stream), mock_information_record(e->fx, s),
                           n);
    if (s->via == FX_VIA_BOTH &&
        queue_owned(e, sh, p, stream_type(p, s->stream),
                    mock_informational_record(s->stream, s->text, invocation_for(p, s->stream)),
                    n) < 0)
        return -1;
    if (s->via != FX_VIA_MESSAGE) {
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
    return queue_owned(e, sh, p, stream_type(p, s->stream),
                       mock_informational_record(s->stream, s->text, invocation_for(p, s->stream)),
                       n);
}

static int queue_progress(mock_engine *e, shell *sh, pipe *p, const fx_step *s, uint64_t n)
{
    if (s->via != FX_VIA_HOST_CALL &&
        queue_value(e, sh, p, ETSN_MSG_PROGRESS_RECORD, s->values[0], n) < 0)
        return -1;
    if (s->via == FX_VIA_MESSAGE) return 0;
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

/* <input/>: hands on the input received so far as output; true (state
 * PS_WAIT_INPUT) while more may come. */
static bool pass_input(mock_engine *e, shell *sh, pipe *p)
{
    while (p->input.sent < p->input.n) {
        fx_step one = {.kind = FX_OUTPUT, .values = &p->input.items[p->input.sent], .n_values = 1};
        queue_output(e, sh, p, &one, 0);
        p->input.sent++;
    }
    if (p->input.ended) return false;
    p->st = PS_WAIT_INPUT;
    return true;
}

/* <secure-string>: a SecureString output. A console (or Out-String) gets
 * its text, "System.Security.SecureString". Otherwise protocol 2.4 sends it
 * as plain UTF-16LE; 2.3 and earlier encrypt it with the session key, and a
 * server without one asks the client first (PUBLIC_KEY_REQUEST on the pool,
 * MS-PSRP 2.2.2.5) and holds the pipeline until the key is exchanged: true
 * while it waits. */
static bool queue_secure(mock_engine *e, shell *sh, pipe *p, const fx_step *s, uint64_t n)
{
    if (p->merge_errors || p->out_string != MOCK_OUT_NONE) {
        etsn_value *t = etsn_v_string("System.Security.SecureString");
        fx_step one = {.kind = FX_OUTPUT, .values = &t, .n_values = 1};
        queue_output(e, sh, p, &one, n);
        etsn_v_free(t);
        return false;
    }
    bool pwsh = !strcmp(e->fx->protocol, "2.4");
    if (!pwsh && !(sh->keys && etsn_psrp_keys_ready(sh->keys))) {
        if (!sh->key_requested) {
            queue_owned(e, sh, NULL, ETSN_MSG_PUBLIC_KEY_REQUEST, etsn_v_string(""), 0);
            sh->key_requested = true;
            event(e, "public-key-request", "'%s' outputs a SecureString", p->text ? p->text : "");
        }
        p->st = PS_WAIT_KEY;
        p->key_step = s;
        return true;
    }
    etsn_buf u16 = ETSN_BUF_INIT, enc = ETSN_BUF_INIT;
    int rc = etsn_utf8_to_utf16le(s->text, strlen(s->text), &u16);
    if (!rc && !pwsh) rc = etsn_secure_string_encrypt(sh->keys, u16.data, u16.len, &enc);
    const etsn_buf *b = pwsh ? &u16 : &enc;
    if (!rc)
        queue_owned(e, sh, p, ETSN_MSG_PIPELINE_OUTPUT,
                    etsn_v_text(ETSN_V_SECURESTRING, (const char *)b->data, b->len), n);
    etsn_secure_zero(u16.data, u16.len);
    etsn_buf_free(&u16);
    etsn_buf_free(&enc);
    return false;
}

/* Generates until something is queued, the pipeline blocks or ends. */
static void generate(mock_engine *e, shell *sh, pipe *p)
{
    if (p->st == PS_SLEEPING && reached(&p->wake)) p->st = PS_RUNNING;
    if (p->st == PS_WAIT_KEY && sh->keys && etsn_psrp_keys_ready(sh->keys)) {
        p->st = PS_RUNNING;
        const fx_step *ks = p->key_step;
        p->key_step = NULL;
        if (ks && queue_secure(e, sh, p, ks, 0)) return;
    }
    if (p->st == PS_WAIT_INPUT && (p->input.sent < p->input.n || p->input.ended)) {
        p->st = PS_RUNNING;
        if (pass_input(e, sh, p)) return;
    }
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
            queue_output(e, sh, p, s, n);
            break;
        case FX_INPUT:
            if (pass_input(e, sh, p)) return;
            break;
        case FX_SECURE:
            if (queue_secure(e, sh, p, s, n)) return;
            break;
        case FX_MESSAGE:
            queue_value(e, sh, p, s->message_type, s->values[0], n);
            /* A recorded PIPELINE_STATE (replay.c) ends the pipeline as <state> does. */
            if (s->message_type == ETSN_MSG_PIPELINE_STATE) p->st = PS_FINISHED;
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

/* Fragments one Receive carries: WinRM sends each in an <rsp:Stream> of its
 * own (pypsrp's recordings), so each costs its element too. */
#define MAX_STREAMS 512
#define STREAM_COST 120 /* raw bytes the ~160 bytes of <rsp:Stream ...> markup take */

typedef struct {
    size_t end[MAX_STREAMS]; /* offsets in data where each fragment ends */
    size_t n;
} frag_ends;

/* Appends fragments to data up to budget bytes (each fragment charged
 * STREAM_COST more), recording where each ends. */
static void fill(mock_engine *e, shell *sh, pipe *p, etsn_buf *data, size_t budget, frag_ends *fe)
{
    outq *q = p ? &p->out : &sh->out;
    while (fe->n < MAX_STREAMS && data->len + (fe->n + 1) * STREAM_COST < budget) {
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
        size_t room = budget - data->len - (fe->n + 1) * STREAM_COST;
        size_t w = etsn_fragment_some(data, q->cur_oid, q->cur->data, q->cur->len, &q->cur_off,
                                      &q->cur_fid, room, budget);
        if (w) fe->end[fe->n++] = data->len;
        if (q->cur_off >= q->cur->len && q->cur_fid > 0) {
            bool cut = q->cur->cut;
            free_omsg(e, q->cur);
            q->cur = NULL;
            if (cut) break;
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
    return mock_not_found_step(e->fx, line, p->first_is_command, s);
}

/* ---- TabExpansion2 (remote tab completion) ----
 * PowerShell's console completes against a remote runspace with
 * CommandCompletion.CompleteInput, which runs the command TabExpansion2
 * with three positional arguments (input, cursor index, options); a script
 * may also name them (-inputScript, -cursorColumn). The answer is one
 * CommandCompletion object. */

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
    return step_value(s, mock_command_completion(c, p->tab_input, cursor));
}

/* Get-History: the HistoryInfo of every pipeline added so far, with the
 * table Out-Default shows for them. */
static int program_history(shell *sh, pipe *p)
{
    fx_step *s = own_steps(p, 1);
    if (!s) return -1;
    s->kind = FX_OUTPUT;
    for (size_t i = 0; i < sh->history.n; i++)
        if (step_value(s, mock_history_info(&sh->history.items[i])) < 0) return -1;
    etsn_buf lines = ETSN_BUF_INIT;
    size_t n = 0;
    mock_history_table(&sh->history, &lines, &n);
    s->lines = n ? calloc(n, sizeof *s->lines) : NULL;
    const char *l = (const char *)lines.data;
    for (size_t i = 0; s->lines && i < n; i++) {
        s->lines[s->n_lines++] = strdup(l);
        l += strlen(l) + 1;
    }
    etsn_buf_free(&lines);
    return n && !s->lines ? -1 : 0;
}

/* <scenario strict-commands="true"> (a replayed transcript): a command no
 * pipeline expects is a near-miss, reported with the nearest and a diff. */
static void strict_miss(mock_engine *e, const char *t, const fx_pipeline *near)
{
    etsn_buf d = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    etsn_buf_printf(&req, "CREATE_PIPELINE '%s'", t);
    if (near) mock_text_diff(near->command, t, &d);
    unmatched(e, (const char *)req.data, near ? near->command : "(no pipeline in the scenario)",
              "%s", d.data ? (const char *)d.data : "no pipeline runs this command");
    etsn_buf_free(&d);
    etsn_buf_free(&req);
}

/* Chooses what a pipeline runs: a fixture pipeline, a built-in, or the
 * CommandNotFoundException. */
static int choose_program(mock_engine *e, shell *sh, pipe *p)
{
    const fx_pipeline *fp = mock_fixture_find_pipeline(e->fx, p->text);
    const char *t = p->text;
    int code = 0;
    if (fp) fp = mock_fixture_pipeline_run(e->fx, fp, ++e->runs[fp - e->fx->pipelines]);
    if (fp) {
        p->steps = fp->steps;
        p->n_steps = fp->n_steps;
    } else if (e->fx->no_language && p->any_script) {
        fx_step *s = own_steps(p, 1);
        if (!s || mock_no_language_step(s) < 0) return -1;
        event(e, "scripts-not-allowed", "'%s' on a NoLanguage endpoint", t);
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
    } else if (!strcasecmp(t, "Get-History")) {
        if (program_history(sh, p) < 0) return -1;
    } else if (!strcasecmp(t, "$PSSenderInfo.ApplicationArguments")) {
        /* what the client sent in INIT_RUNSPACEPOOL (test_psrp_application_args) */
        fx_step *s = own_steps(p, 1);
        if (!s) return -1;
        s->kind = FX_OUTPUT;
        if (sh->app_args && step_value(s, etsn_v_ref(sh->app_args)) < 0) return -1;
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
        if (e->fx->strict_commands) strict_miss(e, t, near);
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

int mock_engine_pipeline_text(const etsn_value *create_pipeline, etsn_buf *out)
{
    /* The same text the engine matches fixture pipelines by (cmdtext.h). */
    mock_pipeline_text t = {0};
    if (mock_pipeline_text_read(etsn_v_get(create_pipeline, "PowerShell"), &t) < 0 || !t.text)
        return -1;
    int rc = etsn_buf_append_str(out, t.text);
    free(t.text);
    return rc;
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
    if (cmds && cmds->n_items) {
        p->tab_input = mock_tab_expansion_input(cmds->items[0], &p->tab_cursor);
        const etsn_value *is = etsn_v_get(cmds->items[0], "IsScript");
        const char *c0 = etsn_v_as_str(etsn_v_get(cmds->items[0], "Cmd"));
        p->first_is_command = !(is && is->kind == ETSN_V_BOOL && is->num.b) &&
                              !(c0 && !strcasecmp(c0, "Invoke-Expression"));
    } else
        unmatched(e, "CREATE_PIPELINE", "CREATE_PIPELINE with PowerShell.Cmds",
                  "no PowerShell.Cmds list in the message");
    mock_pipeline_text pt;
    if (mock_pipeline_text_read(etsn_v_get(v, "PowerShell"), &pt) < 0) return;
    p->text = pt.text;
    p->merge_errors = pt.out_default;
    p->merged = pt.merged;
    p->any_script = pt.any_script;
    p->out_string = pt.fmt;
    /* NoInput (MS-PSRP 2.2.2.10): without it the client sends input and
     * END_OF_PIPELINE_INPUT; with it there is none to wait for. */
    const etsn_value *no_input = etsn_v_get(v, "NoInput");
    p->input.ended = !no_input || no_input->kind != ETSN_V_BOOL || no_input->num.b;
    p->st = PS_RUNNING;
    sh->pool.ran_pipeline = true;
    int64_t opts = 0;
    if (etsn_v_as_i64(etsn_v_get(v, "RemoteStreamOptions"), &opts)) p->stream_options = (int)opts;
    p->invocation.script = p->text;
    const etsn_value *hist = etsn_v_get(v, "AddToHistory");
    p->add_to_history = hist && hist->kind == ETSN_V_BOOL && hist->num.b;
    p->started = time(NULL);
    p->invocation.history_id = ++sh->pipelines_run;
    if (!sh->opened)
        unmatched(e, "CREATE_PIPELINE", "INIT_RUNSPACEPOOL (open the pool first)",
                  "pipeline '%s' created while the pool is not open", p->text);
    char key[600];
    snprintf(key, sizeof key, "pipeline:%s", p->text);
    add_fact(e, key, true, p->command_id);
    event(e, "pipeline", "%s", p->text);
    if (choose_program(e, sh, p) < 0) {
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

/* A <pipeline> "GET_COMMAND_METADATA <names>" (a replayed transcript,
 * replay.c) answers instead of the built-in. */
static bool recorded_metadata(mock_engine *e, pipe *p, const char *asked)
{
    etsn_buf key = ETSN_BUF_INIT;
    etsn_buf_printf(&key, "GET_COMMAND_METADATA %s", asked);
    const fx_pipeline *fp = key.data ? mock_fixture_find_pipeline(e->fx, (char *)key.data) : NULL;
    etsn_buf_free(&key);
    if (!fp) return false;
    fp = mock_fixture_pipeline_run(e->fx, fp, ++e->runs[fp - e->fx->pipelines]);
    p->steps = fp->steps;
    p->n_steps = fp->n_steps;
    fx_cursor_init(&p->cur, p->steps, p->n_steps);
    p->st = PS_RUNNING;
    return true;
}

/* GET_COMMAND_METADATA: the answer comes from metadata.h. */
static void command_metadata(mock_engine *e, shell *sh, pipe *p, const etsn_value *v)
{
    etsn_value **vals = NULL;
    char *asked = NULL;
    long n = mock_metadata_answer(e->fx, v, &vals, &asked);
    if (!p->text) p->text = strdup("(GET_COMMAND_METADATA)");
    add_fact(e, "command-metadata-requested", true, asked ? asked : "");
    event(e, "command-metadata", "%s (%ld found)", asked ? asked : "", n > 0 ? n - 1 : 0);
    bool recorded = recorded_metadata(e, p, asked ? asked : "");
    free(asked);
    if (recorded) {
        for (long i = 0; i < n; i++) etsn_v_free(vals[i]);
        free(vals);
        return;
    }
    for (long i = 0; i < n; i++) queue_owned(e, sh, p, ETSN_MSG_PIPELINE_OUTPUT, vals[i], 0);
    free(vals);
    queue_state(e, sh, p, n < 0 ? ETSN_PIPE_FAILED : ETSN_PIPE_COMPLETED, NULL);
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
    mock_answer_ctx x = {!strcmp(e->fx->protocol, "2.4"), sh->keys};
    bool ok = mock_answer_check(&x, s, etsn_v_get(v, "mr"), etsn_v_get(v, "me"), &got, &why);
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

/* The recorded program for a pool request (a replayed transcript: a
 * <pipeline> named after the message type, replay.c), run by run. */
static const fx_pipeline *recorded_pool_program(mock_engine *e, const char *type_name)
{
    const fx_pipeline *fp = mock_fixture_find_pipeline(e->fx, type_name);
    return fp ? mock_fixture_pipeline_run(e->fx, fp, ++e->runs[fp - e->fx->pipelines]) : NULL;
}

/* Its recorded SetMinMaxRunspacesResponse, or NULL for the built-in answer. */
static etsn_value *recorded_pool_answer(mock_engine *e, const char *type_name)
{
    const fx_pipeline *fp = recorded_pool_program(e, type_name);
    if (!fp || !fp->n_steps || fp->steps[0].kind != FX_MESSAGE) return NULL;
    etsn_value *r = etsn_v_get(fp->steps[0].values[0], "SetMinMaxRunspacesResponse");
    return r ? etsn_v_ref(r) : NULL;
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
    const fx_pipeline *rec = recorded_pool_program(e, "PUBLIC_KEY");
    if (rec && !rec->n_steps) {
        /* The recorded server never answered the key (pypsrp's recording
         * test_psrp_key_exchange_timeout): neither does the replay. */
        event(e, "key-exchange", "PUBLIC_KEY left unanswered, as recorded");
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
        sh->key_requested = false;
        add_fact(e, "session-key-exchanged", true, sh->shell_id);
        event(e, "key-exchange", "ENCRYPTED_SESSION_KEY sent");
    } else {
        etsn_v_free(o);
        etsn_psrp_keys_free(k);
        event(e, "internal-error", "cannot build ENCRYPTED_SESSION_KEY");
    }
    etsn_buf_free(&b64);
}

/* Runspaces in use: a busy pool (<server busy-ms>) has none free; else each
 * pipeline that has started and not finished holds one. */
static int32_t runspaces_in_use(const shell *sh)
{
    if (!reached(&sh->busy_until)) return sh->pool.max_runspaces;
    int32_t n = 0;
    for (const pipe *p = sh->pipes; p; p = p->next)
        if (p->st != PS_NEW && p->st != PS_FINISHED && p->st != PS_QUEUED) n++;
    return n;
}

static int on_pipe_message(dctx *c, const etsn_message *m);

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
        mock_pool_init(&c->sh->pool, v);
        const etsn_value *args = etsn_v_get(v, "ApplicationArguments");
        if (args && args->kind != ETSN_V_NIL && !c->sh->app_args)
            c->sh->app_args = etsn_v_ref((etsn_value *)args);
        etsn_v_free(v);
        c->sh->rpid = m->rpid;
        c->sh->opened = true;
        queue_owned(e, c->sh, NULL, ETSN_MSG_SESSION_CAPABILITY,
                    etsn_msg_session_capability(e->fx->protocol), 0);
        queue_owned(e, c->sh, NULL, ETSN_MSG_APPLICATION_PRIVATE_DATA, private_data(e->fx), 0);
        /* Windows PowerShell 3+ servers answer the pool's first Receive with
         * these two and send RUNSPACEPOOL_STATE Opened in the next one (every
         * 2.2/2.3 recording in pypsrp's tests); PowerShell 2.0 (2.1) sends all
         * three at once. */
        if (strcmp(e->fx->protocol, "2.2") >= 0 && c->sh->out.tail) c->sh->out.tail->cut = true;
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
        if (!v) return 0;
        int64_t ci = 0;
        bool busy = !reached(&c->sh->busy_until);
        etsn_value *reply =
            mock_pool_answer(&c->sh->pool, m->type, v, runspaces_in_use(c->sh), &ci);
        etsn_v_free(v);
        if (busy && m->type == ETSN_MSG_GET_AVAILABLE_RUNSPACES) {
            add_fact(e, "busy-polled", true, "GET_AVAILABLE_RUNSPACES while busy");
            event(e, "busy-poll", "GET_AVAILABLE_RUNSPACES ci=%" PRId64 " answered 0", ci);
        }
        /* A replayed transcript answers as the recorded server did. */
        etsn_value *rec = recorded_pool_answer(e, tn);
        if (rec) {
            etsn_v_free(reply);
            reply = mock_pool_reply(rec, ci);
        }
        queue_owned(e, c->sh, NULL, ETSN_MSG_RUNSPACE_AVAILABILITY, reply, 0);
        event(e, "pool-message", "%s ci=%" PRId64 " (min %d, max %d)", tn, ci,
              c->sh->pool.min_runspaces, c->sh->pool.max_runspaces);
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
        /* A pipeline's message sent to the shell without a CommandId (pypsrp
         * sends host responses so): PowerShell's server dispatches by the
         * message's PID (ServerRunspacePoolDataStructureHandler), so do we. */
        for (pipe *p = etsn_guid_is_zero(&m->pid) ? NULL : c->sh->pipes; p; p = p->next) {
            if (!etsn_guid_equal(&p->pid, &m->pid)) continue;
            dctx d = *c;
            d.p = p;
            return on_pipe_message(&d, m);
        }
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
    case ETSN_MSG_PIPELINE_INPUT: {
        etsn_value *v = parse_body(e, m, tn);
        if (p->input.ended)
            unmatched(e, tn,
                      "PIPELINE_INPUT before END_OF_PIPELINE_INPUT, to a pipeline with input",
                      "input to '%s', which %s", p->text ? p->text : "",
                      p->input.n ? "had ended its input" : "was created with NoInput");
        if (v && mock_input_add(&p->input, v, m->len) < 0)
            unmatched(e, tn, "a bounded input", "more than %d input objects or %u bytes",
                      MOCK_INPUT_MAX, MOCK_INPUT_MAX_BYTES);
        event(e, "pipeline-input", "%s on %s", tn, p->command_id);
        return 0;
    }
    case ETSN_MSG_END_OF_PIPELINE_INPUT:
        p->input.ended = true;
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
    mock_input_free(&p->input);
    etsn_buf_free(&p->out_text);
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
    mock_history_free(&sh->history);
    etsn_v_free(sh->app_args);
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

static int recorded_reply(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply);

static int fault_no_shell(mock_engine *e, const etsn_wsman_msg *m, const char *what,
                          etsn_buf *reply)
{
    int rc = recorded_reply(e, m, reply); /* the recording has this fault too */
    if (rc > 0) return rc;
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
    int rc = recorded_reply(e, m, reply); /* the recording has this fault too */
    if (rc > 0) return rc;
    etsn_buf known = ETSN_BUF_INIT;
    for (pipe *p = sh->pipes; p; p = p->next)
        etsn_buf_printf(&known, "%s%s", known.len ? ", " : "", p->command_id);
    char req[300];
    snprintf(req, sizeof req, "%s CommandId=%s", what, cid ? cid : "(none)");
    unmatched(e, req, known.len ? (const char *)known.data : "Command (no command is running)",
              "unknown CommandId %s", cid ? cid : "(missing)");
    etsn_buf_free(&known);
    /* WinRM's WSManFault message for an unknown CommandId, which clients
     * show (pypsrp's recording test_psrp_receive_failure). */
    etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "w:InvalidSelectors",
                           MOCK_FAULT_INVALID_SELECTORS, machine(e),
                           "The Windows Remote Shell received a request to perform an operation "
                           "on a command identifier that does not exist. Either the command has "
                           "completed execution or the client specified an invalid command "
                           "identifier. ");
    return 500;
}

/* ---- actions ---- */

static void new_guid_text(char out[37])
{
    etsn_guid g;
    if (etsn_guid_random(&g) < 0) memset(&g, 0, sizeof g);
    etsn_guid_format(&g, out, true);
}

/* A PowerShell 2.0 server (protocol 2.0/2.1) sits on WinRM 2.0, which
 * ignores the ShellId and CommandId a client proposes and chooses its own
 * (pypsrp's recording test_psrp_run_protocol_version_2.1: the CreateResponse
 * and CommandResponse name other GUIDs); later WinRM keeps the client's. */
static bool old_winrm(const mock_engine *e)
{
    return strcmp(e->fx->protocol, "2.2") < 0;
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
    if (!sid || !*sid || old_winrm(e)) {
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
    /* The pool's RPID is the id the client proposed as ShellId, even when
     * WinRM 2.0 names the shell otherwise (the client's RunspacePool keeps
     * its InstanceId; MS-PSRP 2.2.1). */
    etsn_guid g;
    if (m->shell_id && etsn_guid_parse(m->shell_id, &g)) sh->rpid = g;
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
    if (!cid || !*cid || old_winrm(e)) {
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
    } else if (!strcasecmp(code, ETSN_SIGNAL_TERMINATE)) {
        /* Case-insensitive: WinRM accepts pypsrp's ".../signal/Terminate"
         * (pypsrp's recording test_psrp_multiple_invocations). */
        add_fact(e, "signal-terminate", true, p->text ? p->text : p->command_id);
        event(e, "signal", "terminate on '%s'", p->text ? p->text : p->command_id);
        if (p->st != PS_FINISHED || !p->done_reported)
            event(e, "terminated-early", "'%s' had not finished", p->text ? p->text : "");
        remove_pipe(e, sh, p);
    } else {
        int rc = recorded_reply(e, m, reply); /* a code the recorded server accepted */
        if (rc > 0) return rc;
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

/* WS-Transfer Get: only WinRM's configuration, which clients read for
 * MaxEnvelopeSizekb (pypsrp's update_max_payload_size; recordings
 * test_wsman_update_envelope_size_*.yml in pypsrp's tests). */
static int do_get(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    const char *uri = m->resource_uri ? m->resource_uri : "";
    if (strcasecmp(uri, ETSN_WSMAN_CONFIG_URI)) {
        unmatched(e, "Get", ETSN_WSMAN_CONFIG_URI, "Get of %s", uri);
        etsn_wsman_build_fault(reply, m->message_id, "s:Sender", "a:DestinationUnreachable",
                               MOCK_FAULT_INVALID_RESOURCE_URI, machine(e),
                               "The WS-Management service cannot process the request. The "
                               "resource URI is not valid. ");
        return 500;
    }
    event(e, "get-config", "MaxEnvelopeSizekb %u", e->fx->max_envelope_kb);
    etsn_wsman_build_get_config_response(reply, m->message_id, e->fx->max_envelope_kb, 60000);
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

/* A ReceiveResponse as WinRM writes one (pypsrp's recordings): an
 * <rsp:Stream> per fragment, no End attribute; for a command, CommandState
 * Done at the end, Pending while it waits for a host response, none while
 * it simply runs. */
static void build_receive_reply(const etsn_wsman_msg *m, const pipe *p, const etsn_buf *data,
                                const frag_ends *fe, bool done, etsn_buf *reply)
{
    etsn_wsman_stream s[MAX_STREAMS];
    size_t start = 0;
    for (size_t i = 0; i < fe->n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].name = (char *)"stdout";
        s[i].command_id = p ? p->command_id : NULL;
        s[i].data = data->data + start;
        s[i].len = fe->end[i] - start;
        start = fe->end[i];
    }
    const char *state = NULL;
    if (p && done)
        state = ETSN_COMMAND_STATE_DONE;
    else if (p && p->st == PS_WAIT_HOST)
        state = ETSN_COMMAND_STATE_PENDING;
    etsn_wsman_build_receive_response(reply, m->message_id, s, fe->n, p ? p->command_id : NULL,
                                      state);
}

static int do_receive(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    uint32_t timeout = m->operation_timeout_ms ? m->operation_timeout_ms : MOCK_DEFAULT_TIMEOUT_MS;
    struct timespec deadline;
    deadline_after(&deadline, timeout);
    size_t budget = payload_budget(m->max_envelope_size);
    etsn_buf data = ETSN_BUF_INIT;
    frag_ends fe;
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
        fe.n = 0;
        fill(e, sh, p, &data, budget, &fe);
        if (sh->vanished) {
            status = fault_no_shell(e, m, "Receive", reply);
            break;
        }
        bool done = p && p->st == PS_FINISHED && outq_empty(&p->out);
        if (done && p->done_reported && !data.len)
            unmatched(e, "Receive", "Signal terminate (the command is done)",
                      "Receive for command '%s' after its Done state", p->text ? p->text : "");
        if (data.len || done) {
            if (done) p->done_reported = true;
            build_receive_reply(m, p, &data, &fe, done, reply);
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
    case ETSN_WSMAN_GET:
        return "Get";
    default:
        return "unknown";
    }
}

/* The next unused <reply> for this action (a replayed transcript), given
 * with the live ids; 0 when there is none. */
static int recorded_reply(mock_engine *e, const etsn_wsman_msg *m, etsn_buf *reply)
{
    for (size_t i = 0; m->action_uri && i < e->fx->n_replies; i++) {
        if (e->replied[i] || strcmp(e->fx->replies[i].action, m->action_uri)) continue;
        e->replied[i] = true;
        event(e, "recorded-reply", "%s (line %d)", m->action_uri, e->fx->replies[i].line);
        return mock_replay_reply(&e->fx->replies[i], m->message_id, m->shell_id, reply);
    }
    return 0;
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
    } else if (mock_winrs_claims(e->winrs, &m)) {
        status = mock_winrs_handle(e->winrs, &m, user, reply);
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
        case ETSN_WSMAN_GET:
            /* A replayed transcript's recorded answer first. */
            if ((status = recorded_reply(e, &m, reply)) <= 0) status = do_get(e, &m, reply);
            break;
        default: {
            if ((status = recorded_reply(e, &m, reply)) > 0) break;
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
    e->runs = calloc(fx->n_pipelines + 1, sizeof *e->runs);
    e->replied = calloc(fx->n_replies + 1, sizeof *e->replied);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    e->winrs = mock_winrs_new(fx->winrs, fx->computer, e->report, &e->mu, &e->cv, &e->stopping);
    if (!e->report || !e->winrs || !e->runs || !e->replied || rc ||
        pthread_mutex_init(&e->mu, NULL)) {
        if (!rc) pthread_cond_destroy(&e->cv);
        mock_winrs_free(e->winrs);
        mock_report_free(e->report);
        free(e->runs);
        free(e->replied);
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
    mock_winrs_free(e->winrs);
    free(e->runs);
    free(e->replied);
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
    int wr = mock_winrs_evaluate(e->winrs, id, detail, dl);
    if (wr >= 0) return wr == 1;
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
