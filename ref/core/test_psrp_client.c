/* The sans-I/O client engine driven with envelopes made by the server-side
 * builders: no sockets, every state reachable. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fragment.h"
#include "message.h"
#include "psrp_client.h"
#include "wsman.h"

typedef struct {
    int capability, pool_state, outputs, host_calls, pipe_state, done;
    char last_output[128];
    int last_method;
} seen;

static void record(void *ctx, const etsn_event *ev)
{
    seen *s = ctx;
    switch (ev->kind) {
    case ETSN_EV_SERVER_CAPABILITY:
        s->capability++;
        break;
    case ETSN_EV_POOL_STATE:
        s->pool_state = ev->state;
        break;
    case ETSN_EV_OUTPUT:
        s->outputs++;
        snprintf(s->last_output, sizeof s->last_output, "%s", etsn_v_as_str(ev->value));
        break;
    case ETSN_EV_HOST_CALL:
        s->host_calls++;
        s->last_method = ev->method;
        break;
    case ETSN_EV_PIPELINE_STATE:
        s->pipe_state = ev->state;
        break;
    case ETSN_EV_COMMAND_DONE:
        s->done++;
        break;
    default:
        break;
    }
}

static etsn_client *new_client(size_t envelope)
{
    etsn_client_config cfg = {.url = "http://server01:5985/wsman",
                              .max_envelope_size = (uint32_t)envelope};
    etsn_client *c = etsn_client_new(&cfg);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Appends one server message (as fragments of object_id) to out. */
static void server_message(etsn_buf *out, uint64_t object_id, uint32_t type, const etsn_guid *rpid,
                           const etsn_guid *pid, etsn_value *body, size_t max_fragment)
{
    etsn_buf xml = ETSN_BUF_INIT, msg = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_clixml_write(body, &xml), 0);
    ck_assert_int_eq(etsn_message_encode(&msg, ETSN_DEST_CLIENT, type, rpid, pid,
                                         (const char *)xml.data, xml.len),
                     0);
    ck_assert_int_gt(etsn_fragment_message(out, object_id, msg.data, msg.len, max_fragment), 0);
    etsn_v_free(body);
    etsn_buf_free(&xml);
    etsn_buf_free(&msg);
}

static int feed(etsn_client *c, const etsn_buf *frags, const char *command_id, bool done, seen *s)
{
    etsn_wsman_stream st = {
        .name = "stdout", .command_id = (char *)command_id, .data = frags->data, .len = frags->len};
    etsn_buf env = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_wsman_build_receive_response(&env, "uuid:X", &st, 1, command_id,
                                                       done ? ETSN_COMMAND_STATE_DONE : NULL),
                     0);
    etsn_error err;
    etsn_error_clear(&err);
    int rc = etsn_client_handle_reply(c, env.data, env.len, record, s, &err);
    etsn_buf_free(&env);
    return rc;
}

typedef struct {
    int n;
    uint32_t types[4];
    etsn_guid rpid;
} creation_seen;

static int on_creation_message(void *ctx, uint64_t id, const uint8_t *data, size_t len)
{
    (void)id;
    creation_seen *g = ctx;
    etsn_message msg;
    ck_assert_int_eq(etsn_message_decode(data, len, &msg), 0);
    if (g->n < 4) g->types[g->n++] = msg.type;
    g->rpid = msg.rpid;
    return 0;
}

START_TEST(create_carries_capability_and_init)
{
    etsn_client *c = new_client(512000);
    etsn_buf req = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_client_build_create(c, &req), 0);
    etsn_wsman_msg m;
    char err[256];
    ck_assert_int_eq(etsn_wsman_parse(req.data, req.len, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_CREATE);
    ck_assert_str_eq(m.protocol_version, "2.3");
    /* The creationXml holds exactly two messages for our pool. */
    etsn_defrag *d = etsn_defrag_new(1 << 20, 4);
    creation_seen got = {0};
    int rc = etsn_defrag_feed(d, m.creation_xml.data, m.creation_xml.len, on_creation_message, &got,
                              err, sizeof err);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(got.n, 2);
    ck_assert_uint_eq(got.types[0], ETSN_MSG_SESSION_CAPABILITY);
    ck_assert_uint_eq(got.types[1], ETSN_MSG_INIT_RUNSPACEPOOL);
    ck_assert(etsn_guid_equal(&got.rpid, etsn_client_pool_id(c)));
    etsn_defrag_free(d);
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&req);
    etsn_client_free(c);
}
END_TEST

START_TEST(pool_opens_and_pipeline_completes)
{
    etsn_client *c = new_client(512000);
    const etsn_guid *rpid = etsn_client_pool_id(c);
    static const etsn_guid none;
    seen s = {0};
    etsn_buf frags = ETSN_BUF_INIT;
    server_message(&frags, 1, ETSN_MSG_SESSION_CAPABILITY, rpid, &none,
                   etsn_msg_session_capability("2.3"), 32768);
    server_message(&frags, 2, ETSN_MSG_RUNSPACEPOOL_STATE, rpid, &none,
                   etsn_msg_runspacepool_state(ETSN_POOL_OPENED, NULL), 32768);
    ck_assert_int_eq(feed(c, &frags, NULL, false, &s), 0);
    ck_assert_int_eq(s.capability, 1);
    ck_assert_int_eq(s.pool_state, ETSN_POOL_OPENED);
    ck_assert(etsn_client_pool_opened(c));
    ck_assert_str_eq(etsn_client_server_protocol(c), "2.3");

    etsn_command cmd = {.text = "prompt"};
    etsn_pipeline *p = etsn_client_pipeline(c, ETSN_MSG_CREATE_PIPELINE,
                                            etsn_msg_create_pipeline(&cmd, 1, false, NULL));
    ck_assert_ptr_nonnull(p);
    char command_id[40];
    etsn_guid_format(etsn_pipeline_id(p), command_id, true);

    /* A long output split into small fragments, then a void host call and
     * the final state, with CommandState Done. */
    etsn_buf_reset(&frags);
    server_message(&frags, 3, ETSN_MSG_PIPELINE_OUTPUT, rpid, etsn_pipeline_id(p),
                   etsn_v_string("PS C:\\Users\\alice\\Documents> "), 40);
    etsn_value *mp = etsn_v_obj();
    etsn_obj_set_coll(mp, ETSN_COLL_LST);
    etsn_obj_push_item(mp, etsn_v_string("hello"));
    server_message(&frags, 4, ETSN_MSG_PIPELINE_HOST_CALL, rpid, etsn_pipeline_id(p),
                   etsn_msg_host_call(-100, 16, mp), 32768);
    server_message(&frags, 5, ETSN_MSG_PIPELINE_STATE, rpid, etsn_pipeline_id(p),
                   etsn_msg_pipeline_state(ETSN_PIPE_COMPLETED, NULL), 32768);
    ck_assert_int_eq(feed(c, &frags, command_id, true, &s), 0);
    ck_assert_int_eq(s.outputs, 1);
    ck_assert_str_eq(s.last_output, "PS C:\\Users\\alice\\Documents> ");
    ck_assert_int_eq(s.host_calls, 1);
    ck_assert_int_eq(s.last_method, 16);
    ck_assert_int_eq(s.pipe_state, ETSN_PIPE_COMPLETED);
    ck_assert_int_eq(s.done, 1);
    ck_assert(etsn_pipeline_done(p));
    etsn_pipeline_free(c, p);
    etsn_buf_free(&frags);
    etsn_client_free(c);
}
END_TEST

/* MS-PSRP 3.1.5.3.4: a server (WinRM 2.0) that names the command itself is
 * addressed by that CommandId from then on, and its output reaches the
 * pipeline. */
START_TEST(command_id_from_command_response)
{
    etsn_client *c = new_client(512000);
    etsn_command cmd = {.text = "hostname"};
    etsn_pipeline *p = etsn_client_pipeline(c, ETSN_MSG_CREATE_PIPELINE,
                                            etsn_msg_create_pipeline(&cmd, 1, false, NULL));
    ck_assert_ptr_nonnull(p);
    etsn_buf req = ETSN_BUF_INIT, env = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_client_build_command(c, p, &req), 0);
    etsn_wsman_msg m;
    char why[256];
    ck_assert_int_eq(etsn_wsman_parse(req.data, req.len, &m, why, sizeof why), 0);
    const char *server_id = "0B7A2D3C-1111-4222-8333-944455556666";
    ck_assert_str_ne(m.command_id, server_id);
    ck_assert_int_eq(etsn_wsman_build_command_response(&env, m.message_id, server_id), 0);
    etsn_wsman_msg_free(&m);
    seen s = {0};
    etsn_error err;
    etsn_error_clear(&err);
    ck_assert_int_eq(etsn_client_handle_reply(c, env.data, env.len, record, &s, &err), 0);

    ck_assert_int_eq(etsn_client_build_receive(c, p, &req), 0);
    ck_assert_int_eq(etsn_wsman_parse(req.data, req.len, &m, why, sizeof why), 0);
    ck_assert_str_eq(m.command_id, server_id);
    etsn_wsman_msg_free(&m);

    etsn_buf frags = ETSN_BUF_INIT;
    server_message(&frags, 1, ETSN_MSG_PIPELINE_OUTPUT, etsn_client_pool_id(c), etsn_pipeline_id(p),
                   etsn_v_string("SERVER01"), 32768);
    ck_assert_int_eq(feed(c, &frags, server_id, true, &s), 0);
    ck_assert_int_eq(s.outputs, 1);
    ck_assert_int_eq(s.done, 1);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    etsn_buf_free(&env);
    etsn_pipeline_free(c, p);
    etsn_client_free(c);
}
END_TEST

START_TEST(fault_becomes_error)
{
    etsn_client *c = new_client(512000);
    etsn_buf env = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_wsman_build_fault(&env, "uuid:X", "s:Sender", "w:AccessDenied", 5,
                                            "server01", "Access is denied."),
                     0);
    etsn_error err;
    etsn_error_clear(&err);
    ck_assert_int_eq(etsn_client_handle_reply(c, env.data, env.len, NULL, NULL, &err), -1);
    ck_assert_uint_eq(err.winrm_code, 5);
    ck_assert_str_eq(err.message, "Access is denied.");
    etsn_buf_free(&env);
    etsn_client_free(c);
}
END_TEST

START_TEST(bad_fragment_is_an_error_not_a_crash)
{
    etsn_client *c = new_client(512000);
    seen s = {0};
    etsn_buf frags = ETSN_BUF_INIT;
    /* A middle fragment with no start. */
    static const uint8_t bad[21] = {0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
    etsn_buf_append(&frags, bad, sizeof bad);
    ck_assert_int_eq(feed(c, &frags, NULL, false, &s), -1);
    etsn_buf_free(&frags);
    etsn_client_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("psrp_client");
    TCase *tc = tcase_create("engine");
    tcase_add_test(tc, create_carries_capability_and_init);
    tcase_add_test(tc, pool_opens_and_pipeline_completes);
    tcase_add_test(tc, command_id_from_command_response);
    tcase_add_test(tc, fault_becomes_error);
    tcase_add_test(tc, bad_fragment_is_an_error_not_a_crash);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
