/* The engine tests' client: drives mock_engine_handle directly (no sockets)
 * with envelopes built by wsman.h and PSRP messages built by
 * psrp_msgs.h/message.h/fragment.h, the way a client would, and reads the
 * replies back the way a client would. Included by test_engine.c and
 * test_fidelity.c; not every test uses every helper. */
#ifndef ETSN_MOCK_TEST_CLIENT_H
#define ETSN_MOCK_TEST_CLIENT_H

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/core/clixml.h"
#include "../ref/core/fragment.h"
#include "../ref/core/guid.h"
#include "../ref/core/message.h"
#include "../ref/core/psrp_msgs.h"
#include "../ref/core/wsman.h"
#include "engine.h"
#include "fixture.h"

#pragma GCC diagnostic ignored "-Wunused-function"

#define SHELL_URI "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"

typedef struct {
    uint32_t type;
    etsn_guid rpid, pid;
    etsn_value *v;
} got_msg;

typedef struct {
    mock_fixture *fx;
    mock_engine *e;
    char shell_id[37];
    etsn_guid rpid;
    uint64_t oid;
    int msg_n;
    char msg_id[64];
    uint32_t max_env;
    uint32_t timeout_ms;
    etsn_defrag *defrag;
    got_msg msgs[64];
    size_t n_msgs;
    size_t total_msgs; /* counted even when not kept */
    size_t max_reply;
    size_t receives;
} client;

static etsn_wsman_header header(client *c, bool with_shell)
{
    snprintf(c->msg_id, sizeof c->msg_id, "uuid:00000000-0000-4000-8000-%012d", ++c->msg_n);
    etsn_wsman_header h = {
        .to = "http://127.0.0.1:5985/wsman",
        .resource_uri = SHELL_URI,
        .message_id = c->msg_id,
        .shell_id = with_shell ? c->shell_id : NULL,
        .max_envelope_size = c->max_env,
        .operation_timeout_ms = c->timeout_ms,
        .locale = "en-US",
        .data_locale = "en-US",
    };
    return h;
}

/* Sends one envelope, parses the reply, checks RelatesTo. */
static int call(client *c, const etsn_buf *req, etsn_wsman_msg *reply)
{
    etsn_buf out = ETSN_BUF_INIT;
    int status = mock_engine_handle(c->e, 1, "CONTOSO\\alice", req->data, req->len, &out);
    if (out.len > c->max_reply) c->max_reply = out.len;
    char err[256] = "";
    memset(reply, 0, sizeof *reply);
    ck_assert_msg(etsn_wsman_parse(out.data, out.len, reply, err, sizeof err) == 0, "%s", err);
    ck_assert_ptr_nonnull(reply->relates_to);
    ck_assert_str_eq(reply->relates_to, c->msg_id);
    etsn_buf_free(&out);
    return status;
}

static void add_message(etsn_buf *frags, client *c, uint32_t type, const etsn_guid *pid,
                        etsn_value *v)
{
    etsn_buf xml = ETSN_BUF_INIT, msg = ETSN_BUF_INIT;
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(etsn_clixml_write(v, &xml), 0);
    ck_assert_int_eq(etsn_message_encode(&msg, ETSN_DEST_SERVER, type, &c->rpid, pid,
                                         (const char *)xml.data, xml.len),
                     0);
    ck_assert_int_gt(etsn_fragment_message(frags, c->oid++, msg.data, msg.len, 32768), 0);
    etsn_v_free(v);
    etsn_buf_free(&xml);
    etsn_buf_free(&msg);
}

static int on_obj(void *ctx, uint64_t oid, const uint8_t *data, size_t len)
{
    client *c = ctx;
    (void)oid;
    etsn_message m;
    ck_assert_int_eq(etsn_message_decode(data, len, &m), 0);
    ck_assert_uint_eq(m.destination, ETSN_DEST_CLIENT);
    c->total_msgs++;
    if (c->n_msgs < 64) {
        got_msg *g = &c->msgs[c->n_msgs++];
        g->type = m.type;
        g->rpid = m.rpid;
        g->pid = m.pid;
        char err[256] = "";
        g->v = etsn_clixml_parse((const char *)m.data, m.len, NULL, err, sizeof err);
        ck_assert_msg(g->v != NULL, "reply CLIXML: %s", err);
    }
    return 0;
}

static void clear_msgs(client *c)
{
    for (size_t i = 0; i < c->n_msgs; i++) etsn_v_free(c->msgs[i].v);
    c->n_msgs = 0;
    c->total_msgs = 0;
}

static void client_open(client *c, const char *xml)
{
    memset(c, 0, sizeof *c);
    char err[512];
    c->fx = mock_fixture_load_memory(xml, strlen(xml), "test.xml", err, sizeof err);
    ck_assert_msg(c->fx != NULL, "%s", err);
    c->e = mock_engine_new(c->fx);
    ck_assert_ptr_nonnull(c->e);
    c->max_env = 512000;
    c->timeout_ms = 2000;
    c->oid = 1;
    c->defrag = etsn_defrag_new(64u << 20, 8);
    ck_assert_int_eq(etsn_guid_random(&c->rpid), 0);
    etsn_guid_format(&c->rpid, c->shell_id, true);
}

static void client_close(client *c)
{
    clear_msgs(c);
    etsn_defrag_free(c->defrag);
    mock_engine_free(c->e);
    mock_fixture_free(c->fx);
}

static void create_shell(client *c)
{
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    etsn_host_info host = {0};
    add_message(&frags, c, ETSN_MSG_SESSION_CAPABILITY, &(etsn_guid){0},
                etsn_msg_session_capability("2.3"));
    add_message(&frags, c, ETSN_MSG_INIT_RUNSPACEPOOL, &(etsn_guid){0},
                etsn_msg_init_runspacepool(1, 1, &host));
    etsn_wsman_header h = header(c, false);
    ck_assert_int_eq(
        etsn_wsman_build_create(&req, &h, c->shell_id, "2.3", false, frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    ck_assert_int_eq(r.action, ETSN_WSMAN_CREATE_RESPONSE);
    ck_assert_str_eq(r.shell_id, c->shell_id);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
}

/* One Receive; returns the HTTP status; feeds stream data to the
 * defragmenter; *done set when CommandState is Done. */
static int receive(client *c, const char *command_id, bool *done, etsn_wsman_msg *fault)
{
    etsn_buf req = ETSN_BUF_INIT;
    etsn_wsman_header h = header(c, true);
    ck_assert_int_eq(etsn_wsman_build_receive(&req, &h, command_id, "stdout", 0), 0);
    etsn_wsman_msg r;
    int status = call(c, &req, &r);
    c->receives++;
    if (done) *done = false;
    if (status == 200) {
        ck_assert_int_eq(r.action, ETSN_WSMAN_RECEIVE_RESPONSE);
        for (size_t i = 0; i < r.n_streams; i++) {
            if (command_id) ck_assert_str_eq(r.streams[i].command_id, command_id);
            char err[256] = "";
            ck_assert_msg(etsn_defrag_feed(c->defrag, r.streams[i].data, r.streams[i].len, on_obj,
                                           c, err, sizeof err) == 0,
                          "%s", err);
        }
        if (done && r.command_state && !strcmp(r.command_state, ETSN_COMMAND_STATE_DONE))
            *done = true;
    }
    if (fault)
        *fault = r;
    else
        etsn_wsman_msg_free(&r);
    etsn_buf_free(&req);
    return status;
}

/* Receives on the pool until RUNSPACEPOOL_STATE has come (a 2.2+ server
 * sends it in the Receive after SESSION_CAPABILITY and
 * APPLICATION_PRIVATE_DATA); the messages stay in c->msgs. */
static void receive_opened(client *c)
{
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(receive(c, NULL, NULL, NULL), 200);
        for (size_t j = 0; j < c->n_msgs; j++)
            if (c->msgs[j].type == ETSN_MSG_RUNSPACEPOOL_STATE) return;
    }
    ck_abort_msg("no RUNSPACEPOOL_STATE after three Receives");
}

static void receive_until_done(client *c, const char *command_id)
{
    bool done = false;
    for (int i = 0; i < 100000 && !done; i++)
        ck_assert_int_eq(receive(c, command_id, &done, NULL), 200);
    ck_assert(done);
}

/* Starts a pipeline; returns the command id in cid (37 bytes). */
static void run_command(client *c, const char *text, bool is_script, bool out_default, char cid[37])
{
    etsn_guid pid;
    ck_assert_int_eq(etsn_guid_random(&pid), 0);
    etsn_guid_format(&pid, cid, true);
    etsn_command cmds[2] = {
        {.text = text, .is_script = is_script},
        {.text = "Out-Default",
         .use_local_scope = true,
         .has_use_local_scope = true,
         .merge_previous = 3},
    };
    if (out_default) {
        cmds[0].merge_my_result = 2;
        cmds[0].merge_to_result = 1;
    }
    etsn_host_info host = {0};
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, c, ETSN_MSG_CREATE_PIPELINE, &pid,
                etsn_msg_create_pipeline(cmds, out_default ? 2 : 1, out_default, &host));
    etsn_wsman_header h = header(c, true);
    ck_assert_int_eq(etsn_wsman_build_command(&req, &h, cid, frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    ck_assert_int_eq(r.action, ETSN_WSMAN_COMMAND_RESPONSE);
    ck_assert_str_eq(r.command_id, cid);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
}

static void signal_cmd(client *c, const char *cid, const char *code)
{
    etsn_buf req = ETSN_BUF_INIT;
    etsn_wsman_header h = header(c, true);
    ck_assert_int_eq(etsn_wsman_build_signal(&req, &h, cid, code), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&req);
}

static int64_t num(const etsn_value *v, const char *path)
{
    int64_t n = -999;
    const etsn_value *x = etsn_v_path(v, path);
    ck_assert_msg(x && etsn_v_as_i64(x, &n), "no number at %s", path);
    return n;
}

static void check_ids(client *c, const char *cid)
{
    for (size_t i = 0; i < c->n_msgs; i++) {
        ck_assert(etsn_guid_equal(&c->msgs[i].rpid, &c->rpid));
        if (cid) {
            char pid[37];
            etsn_guid_format(&c->msgs[i].pid, pid, true);
            ck_assert_str_eq(pid, cid);
        }
    }
}

/* The host call's first parameter as a string. */
static const char *host_arg(const got_msg *g)
{
    const etsn_value *mp = etsn_v_get(g->v, "mp");
    ck_assert_ptr_nonnull(mp);
    ck_assert_uint_ge(mp->n_items, 1);
    return etsn_v_as_str(mp->items[0]);
}

#endif
