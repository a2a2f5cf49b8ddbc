/* Drives the engine's handler directly (no sockets) with envelopes built by
 * wsman.h and PSRP messages built by psrp_msgs.h/message.h/fragment.h, the
 * way a client would, and reads the replies back the way a client would. */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ref/core/clixml.h"
#include "../ref/core/fragment.h"
#include "../ref/core/guid.h"
#include "../ref/core/message.h"
#include "../ref/core/psrp_crypto.h"
#include "../ref/core/psrp_msgs.h"
#include "../ref/core/wsman.h"
#include "engine.h"
#include "fixture.h"

static const char *fixture_xml =
    "<scenario name='engine-test' description='unit'>\n"
    "  <server computer='SERVER01' location='C:\\Users\\alice\\Documents'/>\n"
    "  <user name='CONTOSO\\alice' password='pw'/>\n"
    "  <pipeline command='Get-Date'>\n"
    "    <host-call method='WriteLine2'><S>Monday, 24 November 2026 22:00:00</S></host-call>\n"
    "  </pipeline>\n"
    "  <pipeline command='many'>\n"
    "    <repeat count='300'><host-call method='WriteLine2'>line {n}: "
    "0123456789012345678901234567890123456789012345678901234567890123456789</host-call>"
    "</repeat>\n"
    "    <output><S>one big object {n}</S></output>\n"
    "  </pipeline>\n"
    "  <pipeline command='huge'>\n"
    "    <repeat count='25000'><host-call method='WriteLine2'>{n}: some long text to make "
    "ten megabytes of output, padded padded padded padded padded padded padded padded padded "
    "padded padded padded padded padded padded padded padded padded padded padded padded"
    "</host-call></repeat>\n"
    "  </pipeline>\n"
    "  <pipeline command='ask'>\n"
    "    <host-call method='ReadLine' id='name' expect='bob'/>\n"
    "    <output><S>hello</S></output>\n"
    "  </pipeline>\n"
    "  <pipeline command='forever'><wait-signal/></pipeline>\n"
    "  <pipeline command='fails'>\n"
    "    <error-record message='Cannot find path' fqid='PathNotFound' category='ObjectNotFound'"
    "                  activity='Get-Item' target-name='C:\\nope' target-type='String'/>\n"
    "    <state value='Failed'><error-record message='stop' fqid='Stop'/></state>\n"
    "  </pipeline>\n"
    "  <expect id='shell-deleted' description='Delete'/>\n"
    "  <expect id='pool-opened'/>\n"
    "  <expect id='pipeline:prompt'/>\n"
    "  <expect id='host-response:name'/>\n"
    "  <expect id='signal-ctrl-c'/>\n"
    "  <expect id='no-unmatched'/>\n"
    "</scenario>\n";

#include "test_client.h"

START_TEST(test_main_path)
{
    client c;
    client_open(&c, fixture_xml);
    create_shell(&c);

    /* The pool's first Receive: capability and private data; the next one:
     * Opened (every 2.2/2.3 recording in pypsrp's tests). */
    ck_assert_int_eq(receive(&c, NULL, NULL, NULL), 200);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_int_eq(receive(&c, NULL, NULL, NULL), 200);
    ck_assert_uint_eq(c.n_msgs, 3);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_SESSION_CAPABILITY);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[0].v, "protocolversion")), "2.3");
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_APPLICATION_PRIVATE_DATA);
    const etsn_value *tbl =
        etsn_dict_get(etsn_v_get(c.msgs[1].v, "ApplicationPrivateData"), "PSVersionTable");
    ck_assert_ptr_nonnull(tbl);
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(tbl, "PSEdition")), "Desktop");
    ck_assert_uint_eq(c.msgs[2].type, ETSN_MSG_RUNSPACEPOOL_STATE);
    ck_assert_int_eq(num(c.msgs[2].v, "RunspaceState"), 2);
    check_ids(&c, "00000000-0000-0000-0000-000000000000");
    clear_msgs(&c);

    /* Required-commands check. */
    char cid[37];
    etsn_guid pid;
    etsn_guid_random(&pid);
    etsn_guid_format(&pid, cid, true);
    const char *names[] = {"Out-Default", "Exit-PSSession"};
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, &c, ETSN_MSG_GET_COMMAND_METADATA, &pid,
                etsn_msg_get_command_metadata(names, 2, 0x1F));
    etsn_wsman_header h = header(&c, true);
    etsn_wsman_build_command(&req, &h, cid, frags.data, frags.len);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(&c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 4);
    ck_assert_int_eq(num(c.msgs[0].v, "Count"), 2);
    /* in name order, as Get-Command lists them */
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[1].v, "Name")), "Exit-PSSession");
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[2].v, "Name")), "Out-Default");
    ck_assert_int_eq(num(c.msgs[3].v, "PipelineState"), 4);
    check_ids(&c, cid);
    clear_msgs(&c);
    signal_cmd(&c, cid, ETSN_SIGNAL_TERMINATE);

    /* prompt */
    run_command(&c, "prompt", false, false, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_OUTPUT);
    ck_assert_str_eq(etsn_v_as_str(c.msgs[0].v), "PS C:\\Users\\alice\\Documents> ");
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_PIPELINE_STATE);
    check_ids(&c, cid);
    clear_msgs(&c);
    signal_cmd(&c, cid, ETSN_SIGNAL_TERMINATE);

    /* A fixture pipeline, matched case-insensitively and trimmed. */
    run_command(&c, "  get-date ", true, true, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_HOST_CALL);
    ck_assert_int_eq(num(c.msgs[0].v, "ci"), -100);
    ck_assert_int_eq(num(c.msgs[0].v, "mi"), 16);
    ck_assert_str_eq(host_arg(&c.msgs[0]), "Monday, 24 November 2026 22:00:00");
    clear_msgs(&c);

    /* Unknown text, merged into Out-Default: Windows PowerShell's lines. */
    run_command(&c, "Get-Foo -Bar", true, true, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 8);
    ck_assert_int_eq(num(c.msgs[0].v, "mi"), 18);
    ck_assert_str_eq(host_arg(&c.msgs[0]),
                     "Get-Foo : The term 'Get-Foo' is not recognized as the name of a cmdlet, "
                     "function, script file, or operable program. Check the spelling of the name, "
                     "or if a path was included, verify that the path is correct and try again.");
    ck_assert_str_eq(host_arg(&c.msgs[1]), "At line:1 char:1");
    ck_assert_str_eq(host_arg(&c.msgs[2]), "+ Get-Foo -Bar");
    ck_assert_str_eq(host_arg(&c.msgs[3]), "+ ~~~~~~~");
    ck_assert_str_eq(host_arg(&c.msgs[4]),
                     "    + CategoryInfo          : ObjectNotFound: (Get-Foo:String) [], "
                     "CommandNotFoundException");
    ck_assert_str_eq(host_arg(&c.msgs[5]),
                     "    + FullyQualifiedErrorId : CommandNotFoundException");
    ck_assert_str_eq(host_arg(&c.msgs[6]), "");
    ck_assert_int_eq(num(c.msgs[7].v, "PipelineState"), 4);
    clear_msgs(&c);

    /* Unknown text without Out-Default: an ERROR_RECORD. */
    run_command(&c, "Get-Foo", true, false, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_ERROR_RECORD);
    etsn_error_record rec;
    etsn_error_record_read(c.msgs[0].v, &rec);
    ck_assert_str_eq(rec.fqid, "CommandNotFoundException");
    ck_assert_int_eq(rec.category, 13);
    ck_assert_str_eq(rec.target_name, "Get-Foo");
    clear_msgs(&c);

    /* Fixture error record and a Failed state. */
    run_command(&c, "fails", true, false, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_ERROR_RECORD);
    etsn_error_record_read(c.msgs[0].v, &rec);
    ck_assert_str_eq(rec.fqid, "PathNotFound");
    ck_assert_int_eq(num(c.msgs[1].v, "PipelineState"), 5);
    ck_assert_ptr_nonnull(etsn_v_get(c.msgs[1].v, "ExceptionAsErrorRecord"));
    clear_msgs(&c);

    /* exit 5 */
    run_command(&c, "exit 5", true, true, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_int_eq(num(c.msgs[0].v, "mi"), 6);
    ck_assert_int_eq(num(c.msgs[0].v, "ci"), -100);
    {
        const etsn_value *mp = etsn_v_get(c.msgs[0].v, "mp");
        int64_t code = 0;
        ck_assert(mp && mp->n_items == 1 && etsn_v_as_i64(mp->items[0], &code));
        ck_assert_int_eq(code, 5);
    }
    clear_msgs(&c);

    /* Exit-PSSession: PopRunspace, void. */
    run_command(&c, "Exit-PSSession", false, true, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_HOST_CALL);
    ck_assert_int_eq(num(c.msgs[0].v, "mi"), 53);
    ck_assert_int_eq(num(c.msgs[0].v, "ci"), -100);
    clear_msgs(&c);

    /* Delete; then the shell is gone. */
    etsn_buf del = ETSN_BUF_INIT;
    h = header(&c, true);
    etsn_wsman_build_delete(&del, &h);
    ck_assert_int_eq(call(&c, &del, &r), 200);
    ck_assert_int_eq(r.action, ETSN_WSMAN_DELETE_RESPONSE);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&del);
    ck_assert_int_eq(receive(&c, NULL, NULL, &r), 500);
    ck_assert_int_eq(r.action, ETSN_WSMAN_FAULT);
    ck_assert_uint_eq(r.wsman_fault_code, 2150858843u);
    ck_assert_str_eq(r.fault_subcode, "w:InvalidSelectors");
    etsn_wsman_msg_free(&r);

    char d[256];
    ck_assert(mock_engine_expectation_met(c.e, "shell-deleted", d, sizeof d));
    ck_assert(mock_engine_expectation_met(c.e, "pool-opened", d, sizeof d));
    ck_assert(mock_engine_expectation_met(c.e, "pipeline:prompt", d, sizeof d));
    ck_assert(mock_engine_expectation_met(c.e, "pipeline:Exit-PSSession", d, sizeof d));
    ck_assert(mock_engine_expectation_met(c.e, "command-metadata-requested", d, sizeof d));
    ck_assert(!mock_engine_expectation_met(c.e, "signal-ctrl-c", d, sizeof d));
    /* exactly one unmatched: the Receive on the deleted shell */
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 1);

    etsn_buf json = ETSN_BUF_INIT;
    ck_assert_int_eq(mock_engine_report_json(c.e, &json), 0);
    ck_assert_ptr_nonnull(strstr((char *)json.data, "\"scenario\": \"engine-test\""));
    ck_assert_ptr_nonnull(strstr((char *)json.data, "{\"id\": \"shell-deleted\", \"description\": "
                                                    "\"Delete\", \"met\": true"));
    etsn_buf_free(&json);
    client_close(&c);
}
END_TEST

START_TEST(test_small_envelope)
{
    client c;
    client_open(&c, fixture_xml);
    c.max_env = 8192;
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    char cid[37];
    run_command(&c, "many", true, true, cid);
    c.receives = 0;
    c.max_reply = 0;
    receive_until_done(&c, cid);
    ck_assert_uint_le(c.max_reply, 8192);
    ck_assert_uint_gt(c.receives, 5);
    ck_assert_uint_eq(c.total_msgs, 302);
    ck_assert_str_eq(
        host_arg(&c.msgs[0]),
        "line 1: 0123456789012345678901234567890123456789012345678901234567890123456789");
    clear_msgs(&c);
    client_close(&c);
}
END_TEST

START_TEST(test_receive_timeout)
{
    client c;
    client_open(&c, fixture_xml);
    c.timeout_ms = 200;
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    etsn_wsman_msg r;
    ck_assert_int_eq(receive(&c, NULL, NULL, &r), 500);
    ck_assert_int_eq(r.action, ETSN_WSMAN_FAULT);
    ck_assert_str_eq(r.fault_subcode, "w:TimedOut");
    ck_assert_uint_eq(r.wsman_fault_code, 2150858793u);
    ck_assert_ptr_nonnull(strstr(r.wsman_fault_message, "OperationTimeout"));
    etsn_wsman_msg_free(&r);
    client_close(&c);
}
END_TEST

START_TEST(test_large_streamed)
{
    client c;
    client_open(&c, fixture_xml);
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    char cid[37];
    run_command(&c, "huge", true, true, cid);
    /* Count bytes of messages: around 12 MB of host calls. */
    bool done = false;
    while (!done) {
        ck_assert_int_eq(receive(&c, cid, &done, NULL), 200);
        for (size_t i = 0; i < c.n_msgs; i++) etsn_v_free(c.msgs[i].v);
        c.n_msgs = 0;
    }
    ck_assert_uint_eq(c.total_msgs, 25001);
    ck_assert_uint_le(c.max_reply, 512000);
    /* One message at a time is held: far below the output size. */
    ck_assert_uint_lt(mock_engine_high_water(c.e), 16384);
    client_close(&c);
}
END_TEST

typedef struct {
    client *c;
    char cid[37];
    int status;
    size_t got;
} rx_arg;

static void *rx_thread(void *p)
{
    rx_arg *a = p;
    /* Separate request state: build by hand so as not to race on c->msg_id. */
    etsn_buf req = ETSN_BUF_INIT, out = ETSN_BUF_INIT;
    etsn_wsman_header h = {.to = "http://x/wsman",
                           .resource_uri = SHELL_URI,
                           .message_id = "uuid:99999999-0000-4000-8000-000000000001",
                           .shell_id = a->c->shell_id,
                           .max_envelope_size = 512000,
                           .operation_timeout_ms = 5000,
                           .locale = "en-US",
                           .data_locale = "en-US"};
    etsn_wsman_build_receive(&req, &h, a->cid, "stdout", 1);
    a->status = mock_engine_handle(a->c->e, 2, "u", req.data, req.len, &out);
    etsn_wsman_msg r;
    char err[256];
    if (etsn_wsman_parse(out.data, out.len, &r, err, sizeof err) == 0) {
        a->got = r.n_streams ? r.streams[0].len : 0;
        etsn_wsman_msg_free(&r);
    }
    etsn_buf_free(&req);
    etsn_buf_free(&out);
    return NULL;
}

START_TEST(test_host_response_and_ctrl_c)
{
    client c;
    client_open(&c, fixture_xml);
    c.timeout_ms = 300;
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    char cid[37];
    run_command(&c, "ask", true, true, cid);
    bool done = false;
    ck_assert_int_eq(receive(&c, cid, &done, NULL), 200);
    ck_assert_uint_eq(c.n_msgs, 1);
    ck_assert_int_eq(num(c.msgs[0].v, "mi"), 11);
    int64_t ci = num(c.msgs[0].v, "ci");
    ck_assert_int_ge(ci, 0);
    clear_msgs(&c);
    /* Nothing more until the answer: the Receive times out. */
    etsn_wsman_msg r;
    ck_assert_int_eq(receive(&c, cid, &done, &r), 500);
    ck_assert_str_eq(r.fault_subcode, "w:TimedOut");
    etsn_wsman_msg_free(&r);

    /* A Receive waits in another thread; the answer wakes it. */
    rx_arg a = {.c = &c};
    memcpy(a.cid, cid, sizeof cid);
    pthread_t t;
    pthread_create(&t, NULL, rx_thread, &a);
    usleep(100000);
    etsn_guid pid;
    etsn_guid_parse(cid, &pid);
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, &c, ETSN_MSG_PIPELINE_HOST_RESPONSE, &pid,
                etsn_msg_host_response(ci, 11, etsn_v_string("bob"), NULL));
    etsn_wsman_header h = header(&c, true);
    etsn_wsman_build_send(&req, &h, cid, "pr", frags.data, frags.len);
    ck_assert_int_eq(call(&c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    pthread_join(t, NULL);
    ck_assert_int_eq(a.status, 200);
    ck_assert_uint_gt(a.got, 0);
    char d[256];
    ck_assert_msg(mock_engine_expectation_met(c.e, "host-response:name", d, sizeof d), "%s", d);

    /* Ctrl+C on a running command: Stopped with PipelineStopped. */
    char cid2[37];
    run_command(&c, "forever", true, true, cid2);
    ck_assert_int_eq(receive(&c, cid2, &done, &r), 500);
    etsn_wsman_msg_free(&r);
    signal_cmd(&c, cid2, ETSN_SIGNAL_CTRL_C);
    receive_until_done(&c, cid2);
    ck_assert_uint_eq(c.n_msgs, 1);
    ck_assert_int_eq(num(c.msgs[0].v, "PipelineState"), 3);
    etsn_error_record rec;
    etsn_error_record_read(etsn_v_get(c.msgs[0].v, "ExceptionAsErrorRecord"), &rec);
    ck_assert_str_eq(rec.fqid, "PipelineStopped");
    ck_assert(mock_engine_expectation_met(c.e, "signal-ctrl-c", d, sizeof d));
    clear_msgs(&c);

    /* An answer to a call never made is recorded as unmatched. */
    size_t before = mock_engine_unmatched_count(c.e);
    add_message(&frags, &c, ETSN_MSG_PIPELINE_HOST_RESPONSE, &pid,
                etsn_msg_host_response(77, 11, etsn_v_string("x"), NULL));
    h = header(&c, true);
    etsn_wsman_build_send(&req, &h, cid, "pr", frags.data, frags.len);
    ck_assert_int_eq(call(&c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), before + 1);
    client_close(&c);
}
END_TEST

START_TEST(test_custom_endpoint)
{
    const char *xml = "<scenario name='custom'>"
                      "<server path='/MyApp' "
                      "resource-uri='http://schemas.microsoft.com/powershell/MyConfig'/>"
                      "<user name='alice' password='pw'/></scenario>";
    client c;
    client_open(&c, xml);
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    etsn_wsman_header h = header(&c, false);
    etsn_wsman_build_create(&req, &h, c.shell_id, "2.3", false, (const uint8_t *)"", 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(&c, &req, &r), 500);
    ck_assert_ptr_nonnull(strstr(r.wsman_fault_message,
                                 "Cannot find the Microsoft.PowerShell session configuration in "
                                 "the WSMan: drive on the SERVER01 computer."));
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 1);
    client_close(&c);
}
END_TEST

START_TEST(test_garbage)
{
    client c;
    client_open(&c, fixture_xml);
    etsn_buf out = ETSN_BUF_INIT;
    ck_assert_int_eq(mock_engine_handle(c.e, 1, "u", (const uint8_t *)"<nope", 5, &out), 500);
    etsn_buf_free(&out);
    etsn_buf req = ETSN_BUF_INIT;
    c.timeout_ms = 100;
    etsn_wsman_msg r;
    ck_assert_int_eq(receive(&c, NULL, NULL, &r), 500); /* no shell */
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&req);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 2);
    client_close(&c);
}
END_TEST

/* ---- host calls, streams, timing, busy, completion, keys ---- */

/* Sends one PSRP message on a command's pr stream (pid set) or the pool's
 * stdin (pid NULL). */
static void send_msg(client *c, const char *cid, uint32_t type, etsn_value *v)
{
    etsn_guid pid = {0};
    if (cid) ck_assert(etsn_guid_parse(cid, &pid));
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, c, type, &pid, v);
    etsn_wsman_header h = header(c, true);
    ck_assert_int_eq(
        etsn_wsman_build_send(&req, &h, cid, cid ? "pr" : "stdin", frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
}

/* Receives until a host call arrives; returns it (valid until clear_msgs). */
static const got_msg *next_host_call(client *c, const char *cid)
{
    for (int i = 0; i < 20; i++) {
        for (size_t j = 0; j < c->n_msgs; j++)
            if (c->msgs[j].type == ETSN_MSG_PIPELINE_HOST_CALL) return &c->msgs[j];
        bool done = false;
        ck_assert_int_eq(receive(c, cid, &done, NULL), 200);
        ck_assert(!done);
    }
    ck_abort_msg("no host call arrived");
    return NULL;
}

static const got_msg *find_msg(client *c, uint32_t type)
{
    for (size_t j = 0; j < c->n_msgs; j++)
        if (c->msgs[j].type == type) return &c->msgs[j];
    return NULL;
}

/* A SecureString as the client sends it: encrypted (2.3) or plain UTF-16LE. */
static etsn_value *secure(const etsn_psrp_keys *k, const char *text)
{
    etsn_buf u16 = ETSN_BUF_INIT, enc = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_utf8_to_utf16le(text, strlen(text), &u16), 0);
    etsn_value *v;
    if (k) {
        ck_assert_int_eq(etsn_secure_string_encrypt(k, u16.data, u16.len, &enc), 0);
        v = etsn_v_text(ETSN_V_SECURESTRING, (const char *)enc.data, enc.len);
    } else {
        v = etsn_v_text(ETSN_V_SECURESTRING, (const char *)u16.data, u16.len);
    }
    etsn_buf_free(&u16);
    etsn_buf_free(&enc);
    return v;
}

static etsn_value *hashtable(void)
{
    etsn_value *o = etsn_v_obj();
    etsn_obj_add_type(o, "System.Collections.Hashtable");
    etsn_obj_add_type(o, "System.Object");
    etsn_obj_set_coll(o, ETSN_COLL_DCT);
    return o;
}

static etsn_value *list_of(etsn_value *a, etsn_value *b)
{
    etsn_value *o = etsn_v_obj();
    etsn_obj_add_type(o, "System.Collections.ArrayList");
    etsn_obj_add_type(o, "System.Object");
    etsn_obj_set_coll(o, ETSN_COLL_LST);
    etsn_obj_push_item(o, a);
    if (b) etsn_obj_push_item(o, b);
    return o;
}

static etsn_value *credential(const char *user, etsn_value *pw)
{
    etsn_value *o = etsn_v_obj();
    etsn_obj_add_type(o, "System.Management.Automation.PSCredential");
    etsn_obj_add_type(o, "System.Object");
    etsn_obj_add_prop(o, "UserName", etsn_v_string(user));
    etsn_obj_add_prop(o, "Password", pw);
    return o;
}

static etsn_value *key_info(char ch)
{
    etsn_value *o = etsn_v_obj();
    etsn_obj_add_member(o, "virtualKeyCode", etsn_v_i32(89));
    etsn_obj_add_member(o, "character", etsn_v_int(ETSN_V_CHAR, ch));
    etsn_obj_add_member(o, "controlKeyState", etsn_v_i32(0));
    etsn_obj_add_member(o, "keyDown", etsn_v_bool(true));
    return o;
}

static const char *host_xml_fmt =
    "<scenario name='host-calls'>\n"
    "  <server protocol='%s'/>\n"
    "  <user name='CONTOSO\\alice' password='pw'/>\n"
    "  <pipeline command=\"$Host.UI.Prompt('Details', 'Enter them', $fields)\">\n"
    "    <host-call method='Prompt' id='details'><caption>Details</caption>"
    "<message>Enter them</message><field name='Name' type='System.String'/>"
    "<field name='Tags' type='System.String[]'/>"
    "<field name='Secret' type='System.Security.SecureString'/>"
    "<expect-field name='Name'>bob</expect-field>"
    "<expect-field name='Tags'><item>a</item><item>b</item></expect-field>"
    "<expect-field name='Secret'>s3cret</expect-field></host-call>\n"
    "  </pipeline>\n"
    "  <pipeline command='Remove-Item C:\\temp -Confirm'>\n"
    "    <host-call method='PromptForChoice' id='confirm' expect='1'><caption>Confirm</caption>"
    "<message>Are you sure?</message><choice label='&amp;Yes' help='Continue'/>"
    "<choice label='&amp;No' help='Stop'/><default>0</default></host-call>\n"
    "  </pipeline>\n"
    "  <pipeline command='Get-Credential'>\n"
    "    <host-call method='PromptForCredential2' id='cred'><caption>Windows PowerShell "
    "credential request</caption><message>Enter your credentials.</message><user/><target/>"
    "<expect-credential user='CONTOSO\\bob' password='P@ss'/></host-call>\n"
    "  </pipeline>\n"
    "  <pipeline command='Read-Host -AsSecureString'>\n"
    "    <host-call method='ReadLineAsSecureString' id='secret' expect='hunter2'/>\n"
    "  </pipeline>\n"
    "  <pipeline command='Select-Options'>\n"
    "    <host-call method='PromptForChoiceMultipleSelection' id='multi' expect='0,2'>"
    "<caption>Pick</caption><message>Which?</message><choice label='&amp;A'/>"
    "<choice label='&amp;B'/><choice label='&amp;C'/><default>0,1</default></host-call>\n"
    "  </pipeline>\n"
    "  <pipeline command=\"$Host.UI.RawUI.ReadKey('NoEcho,IncludeKeyDown')\">\n"
    "    <host-call method='ReadKey' id='key' expect='y'><options>6</options></host-call>\n"
    "  </pipeline>\n"
    "</scenario>\n";

static void open_with(client *c, const char *proto)
{
    char xml[8192];
    snprintf(xml, sizeof xml, host_xml_fmt, proto);
    client_open(c, xml);
    create_shell(c);
    receive(c, NULL, NULL, NULL);
    clear_msgs(c);
}

/* The 2.3 key exchange from the client's side. */
static etsn_psrp_keys *exchange_keys(client *c)
{
    char err[256];
    etsn_psrp_keys *k = etsn_psrp_keys_client_new(err, sizeof err);
    ck_assert_msg(k != NULL, "%s", err);
    etsn_buf pub = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_public_blob(k, &pub), 0);
    etsn_value *o = etsn_v_obj();
    etsn_obj_add_member(o, "PublicKey", etsn_v_string((const char *)pub.data));
    etsn_buf_free(&pub);
    send_msg(c, NULL, ETSN_MSG_PUBLIC_KEY, o);
    ck_assert_int_eq(receive(c, NULL, NULL, NULL), 200);
    const got_msg *g = find_msg(c, ETSN_MSG_ENCRYPTED_SESSION_KEY);
    ck_assert_ptr_nonnull(g);
    const char *sk = etsn_v_as_str(etsn_v_get(g->v, "EncryptedSessionKey"));
    ck_assert_ptr_nonnull(sk);
    ck_assert_msg(etsn_psrp_keys_accept_session_key(k, sk, err, sizeof err) == 0, "%s", err);
    clear_msgs(c);
    return k;
}

/* Runs a pipeline whose first step is a host call, answers it, returns
 * the call (parameters checked by the caller before the answer). */
static void ask_and_answer(client *c, const char *text, int method, etsn_value *answer,
                           void (*check)(const etsn_value *mp))
{
    char cid[37];
    run_command(c, text, true, true, cid);
    const got_msg *g = next_host_call(c, cid);
    ck_assert_int_eq(num(g->v, "mi"), method);
    int64_t ci = num(g->v, "ci");
    ck_assert_int_ge(ci, 1);
    if (check) check(etsn_v_get(g->v, "mp"));
    clear_msgs(c);
    send_msg(c, cid, ETSN_MSG_PIPELINE_HOST_RESPONSE,
             etsn_msg_host_response(ci, method, answer, NULL));
    receive_until_done(c, cid);
    clear_msgs(c);
}

static void check_prompt_params(const etsn_value *mp)
{
    ck_assert_uint_eq(mp->n_items, 3);
    ck_assert_str_eq(etsn_v_as_str(mp->items[0]), "Details");
    const etsn_value *fields = mp->items[2];
    ck_assert(etsn_v_has_type(fields, "System.Collections.ArrayList"));
    ck_assert_uint_eq(fields->n_items, 3);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(fields->items[1], "name")), "Tags");
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(fields->items[1], "parameterTypeFullName")),
                     "System.String[]");
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(fields->items[2], "parameterTypeName")),
                     "SecureString");
    ck_assert_ptr_nonnull(etsn_v_get(fields->items[0], "isFromRemoteHost"));
}

static void check_choice_params(const etsn_value *mp)
{
    ck_assert_uint_eq(mp->n_items, 4);
    ck_assert_uint_eq(mp->items[2]->n_items, 2);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(mp->items[2]->items[0], "label")), "&Yes");
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(mp->items[2]->items[1], "helpMessage")), "Stop");
    int64_t d = -1;
    ck_assert(etsn_v_as_i64(mp->items[3], &d));
    ck_assert_int_eq(d, 0);
}

static void check_cred_params(const etsn_value *mp)
{
    ck_assert_uint_eq(mp->n_items, 6);
    int64_t t = 0, o = 0;
    ck_assert(etsn_v_as_i64(mp->items[4], &t) && etsn_v_as_i64(mp->items[5], &o));
    ck_assert_int_eq(t, 3);
    ck_assert_int_eq(o, 1);
}

static void check_multi_params(const etsn_value *mp)
{
    ck_assert_uint_eq(mp->n_items, 4);
    ck_assert_uint_eq(mp->items[3]->n_items, 2); /* defaults 0,1 as a list */
}

static void check_met(client *c, const char *id, bool want)
{
    char d[1024];
    bool met = mock_engine_expectation_met(c->e, id, d, sizeof d);
    ck_assert_msg(met == want, "%s: %s", id, d);
}

START_TEST(test_host_calls_23)
{
    client c;
    open_with(&c, "2.3");
    etsn_psrp_keys *k = exchange_keys(&c);
    check_met(&c, "session-key-exchanged", true);

    etsn_value *ans = hashtable();
    etsn_obj_push_entry(ans, etsn_v_string("Name"), etsn_v_string("bob"));
    etsn_obj_push_entry(ans, etsn_v_string("Tags"),
                        list_of(etsn_v_string("a"), etsn_v_string("b")));
    etsn_obj_push_entry(ans, etsn_v_string("Secret"), secure(k, "s3cret"));
    ask_and_answer(&c, "$Host.UI.Prompt('Details', 'Enter them', $fields)", 23, ans,
                   check_prompt_params);
    check_met(&c, "host-response:details", true);

    ask_and_answer(&c, "Remove-Item C:\\temp -Confirm", 26, etsn_v_i32(1), check_choice_params);
    check_met(&c, "host-response:confirm", true);

    ask_and_answer(&c, "Get-Credential", 25, credential("CONTOSO\\bob", secure(k, "P@ss")),
                   check_cred_params);
    check_met(&c, "host-response:cred", true);

    ask_and_answer(&c, "Read-Host -AsSecureString", 12, secure(k, "hunter2"), NULL);
    check_met(&c, "host-response:secret", true);

    ask_and_answer(&c, "Select-Options", 56, list_of(etsn_v_i32(0), etsn_v_i32(2)),
                   check_multi_params);
    check_met(&c, "host-response:multi", true);

    /* A wrong key: unmet, and the report says what arrived. */
    ask_and_answer(&c, "$Host.UI.RawUI.ReadKey('NoEcho,IncludeKeyDown')", 46, key_info('n'), NULL);
    char d[1024];
    ck_assert(!mock_engine_expectation_met(c.e, "host-response:key", d, sizeof d));
    ck_assert_msg(strstr(d, "expected 'y', got 'n'"), "%s", d);
    etsn_buf json = ETSN_BUF_INIT;
    ck_assert_int_eq(mock_engine_report_json(c.e, &json), 0);
    ck_assert_ptr_nonnull(strstr((char *)json.data, "\"host_calls\": ["));
    ck_assert_ptr_nonnull(strstr((char *)json.data, "\"id\": \"host-response:confirm\", "
                                                    "\"method\": \"PromptForChoice\""));
    etsn_buf_free(&json);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 0);
    etsn_psrp_keys_free(k);
    client_close(&c);
}
END_TEST

START_TEST(test_host_calls_secure_without_key)
{
    /* 2.3 but the client never exchanged keys: the SecureString is unreadable. */
    client c;
    open_with(&c, "2.3");
    ask_and_answer(&c, "Read-Host -AsSecureString", 12, secure(NULL, "hunter2"), NULL);
    char d[1024];
    ck_assert(!mock_engine_expectation_met(c.e, "host-response:secret", d, sizeof d));
    ck_assert_msg(strstr(d, "no session key"), "%s", d);
    client_close(&c);
}
END_TEST

START_TEST(test_host_calls_24)
{
    client c;
    open_with(&c, "2.4");
    ask_and_answer(&c, "Read-Host -AsSecureString", 12, secure(NULL, "hunter2"), NULL);
    check_met(&c, "host-response:secret", true);
    ask_and_answer(&c, "Get-Credential", 25, credential("contoso\\BOB", secure(NULL, "P@ss")),
                   NULL);
    check_met(&c, "host-response:cred", true);
    /* PUBLIC_KEY to a 2.4 server is unexpected. */
    etsn_value *o = etsn_v_obj();
    etsn_obj_add_member(o, "PublicKey", etsn_v_string("AAAA"));
    send_msg(&c, NULL, ETSN_MSG_PUBLIC_KEY, o);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 1);
    check_met(&c, "session-key-exchanged", false);
    client_close(&c);
}
END_TEST

START_TEST(test_streams_and_sleep)
{
    const char *xml =
        "<scenario name='streams'><user name='alice' password='pw'/>\n"
        "<pipeline command='Invoke-Streams'>\n"
        "  <progress activity='Copying' status='Half' percent='50' id='1'/>\n"
        "  <progress activity='Copying' status='Done' id='1' completed='true' via='host-call'/>\n"
        "  <warning>careful</warning>\n"
        "  <verbose via='host-call'>details</verbose>\n"
        "  <debug>dbg</debug>\n"
        "  <information source='Write-Information' tags='a,b'>info</information>\n"
        "  <sleep ms='300'/>\n"
        "  <output>after</output>\n"
        "</pipeline></scenario>";
    client c;
    client_open(&c, xml);
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    char cid[37];
    run_command(&c, "Invoke-Streams", true, false, cid);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool done = false;
    while (!done) ck_assert_int_eq(receive(&c, cid, &done, NULL), 200);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    ck_assert_msg(ms >= 290 && ms < 1500, "sleep took %.0f ms", ms);
    ck_assert_uint_eq(c.n_msgs, 8);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PROGRESS_RECORD);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[0].v, "Activity")), "Copying");
    ck_assert_int_eq(num(c.msgs[0].v, "PercentComplete"), 50);
    ck_assert_int_eq(num(c.msgs[0].v, "Type"), 0);
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_PIPELINE_HOST_CALL);
    ck_assert_int_eq(num(c.msgs[1].v, "mi"), 20);
    const etsn_value *mp = etsn_v_get(c.msgs[1].v, "mp");
    ck_assert_int_eq(num(mp->items[1], "Type"), 1);
    ck_assert_uint_eq(c.msgs[2].type, ETSN_MSG_WARNING_RECORD);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[2].v, "InformationalRecord_Message")),
                     "careful");
    ck_assert_int_eq(num(c.msgs[3].v, "mi"), 21);
    ck_assert_uint_eq(c.msgs[4].type, ETSN_MSG_DEBUG_RECORD);
    ck_assert_uint_eq(c.msgs[5].type, ETSN_MSG_INFORMATION_RECORD);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[5].v, "MessageData")), "info");
    ck_assert_uint_eq(etsn_v_get(c.msgs[5].v, "Tags")->n_items, 2);
    ck_assert_uint_eq(c.msgs[6].type, ETSN_MSG_PIPELINE_OUTPUT);
    ck_assert_int_eq(num(c.msgs[7].v, "PipelineState"), 4);
    client_close(&c);
}
END_TEST

START_TEST(test_incomplete_and_multiline)
{
    const char *xml = "<scenario name='cont'><user name='alice' password='pw'/>\n"
                      "<pipeline command='if ($true) {'><incomplete-input/></pipeline>\n"
                      "<pipeline><command>\n"
                      "    if ($true) {\n"
                      "    'yes'\n"
                      "    }\n"
                      "  </command><output>yes</output></pipeline>\n"
                      "</scenario>";
    client c;
    client_open(&c, xml);
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    char cid[37];
    run_command(&c, "if ($true) {", true, true, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 1);
    ck_assert_int_eq(num(c.msgs[0].v, "PipelineState"), 5);
    etsn_error_record r;
    etsn_error_record_read(etsn_v_get(c.msgs[0].v, "ExceptionAsErrorRecord"), &r);
    ck_assert_str_eq(r.reason, "IncompleteParseException");
    ck_assert_str_eq(r.fqid, "IncompleteParseException");
    ck_assert_str_eq(r.message, "Missing closing '}' in statement block or type definition.");
    clear_msgs(&c);
    run_command(&c, "if ($true) {\r\n'yes'\r\n}", true, true, cid);
    receive_until_done(&c, cid);
    /* the pipeline ends in Out-Default: the string reaches the host */
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_HOST_CALL);
    ck_assert_int_eq(num(c.msgs[0].v, "mi"), 16);
    ck_assert_str_eq(host_arg(&c.msgs[0]), "yes");
    clear_msgs(&c);
    ck_assert(mock_fixture_find_pipeline(c.fx, "if ($true) {\n  'yes'\n}"));
    ck_assert(!mock_fixture_find_pipeline(c.fx, "if ($true) { 'yes' }"));
    client_close(&c);
}
END_TEST

START_TEST(test_busy_pool)
{
    const char *xml = "<scenario name='busy'><server busy-ms='400'/>"
                      "<user name='alice' password='pw'/></scenario>";
    client c;
    client_open(&c, xml);
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    etsn_value *o = etsn_v_obj();
    etsn_obj_add_member(o, "ci", etsn_v_i64(1));
    send_msg(&c, NULL, ETSN_MSG_GET_AVAILABLE_RUNSPACES, o);
    receive(&c, NULL, NULL, NULL);
    ck_assert_uint_eq(c.n_msgs, 1);
    ck_assert_int_eq(num(c.msgs[0].v, "SetMinMaxRunspacesResponse"), 0);
    clear_msgs(&c);
    check_met(&c, "busy-polled", true);
    /* A pipeline created now waits for the pool. */
    char cid[37];
    c.timeout_ms = 100;
    run_command(&c, "prompt", true, false, cid);
    etsn_wsman_msg r;
    ck_assert_int_eq(receive(&c, cid, NULL, &r), 500);
    etsn_wsman_msg_free(&r);
    c.timeout_ms = 2000;
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_OUTPUT);
    clear_msgs(&c);
    o = etsn_v_obj();
    etsn_obj_add_member(o, "ci", etsn_v_i64(2));
    send_msg(&c, NULL, ETSN_MSG_GET_AVAILABLE_RUNSPACES, o);
    receive(&c, NULL, NULL, NULL);
    ck_assert_int_eq(num(c.msgs[0].v, "SetMinMaxRunspacesResponse"), 1);
    client_close(&c);
}
END_TEST

/* A TabExpansion2 command as CommandCompletion.CompleteInput builds it. */
static void run_tab(client *c, const char *input, int cursor, char cid[37])
{
    etsn_guid pid;
    etsn_guid_random(&pid);
    etsn_guid_format(&pid, cid, true);
    etsn_value *v =
        etsn_msg_create_pipeline((etsn_command[]){{.text = "TabExpansion2", .is_script = false}}, 1,
                                 false, &(etsn_host_info){0});
    etsn_value *cmd = etsn_v_path(v, "PowerShell.Cmds")->items[0];
    etsn_value *args = etsn_v_get(cmd, "Args");
    const etsn_value *vals[3] = {etsn_v_string(input), etsn_v_i32(cursor), etsn_v_nil()};
    for (int i = 0; i < 3; i++) {
        etsn_value *a = etsn_v_obj();
        etsn_obj_add_member(a, "N", etsn_v_nil());
        etsn_obj_add_member(a, "V", (etsn_value *)vals[i]);
        etsn_obj_push_item(args, a);
    }
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, c, ETSN_MSG_CREATE_PIPELINE, &pid, v);
    etsn_wsman_header h = header(c, true);
    etsn_wsman_build_command(&req, &h, cid, frags.data, frags.len);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
}

START_TEST(test_completion)
{
    const char *xml = "<scenario name='completion'><user name='alice' password='pw'/>"
                      "<completion input='Get-Ch' cursor='6'><match>Get-ChildItem</match>"
                      "<match tooltip='Get-Children [-Name]'>Get-Children</match></completion>"
                      "</scenario>";
    client c;
    client_open(&c, xml);
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    char cid[37];
    run_tab(&c, "Get-Ch", 6, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_OUTPUT);
    const etsn_value *cc = c.msgs[0].v;
    ck_assert(etsn_v_has_type(cc, "System.Management.Automation.CommandCompletion"));
    ck_assert_int_eq(num(cc, "CurrentMatchIndex"), -1);
    ck_assert_int_eq(num(cc, "ReplacementIndex"), 0);
    ck_assert_int_eq(num(cc, "ReplacementLength"), 6);
    const etsn_value *m = etsn_v_get(cc, "CompletionMatches");
    ck_assert_uint_eq(m->n_items, 2);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(m->items[1], "CompletionText")), "Get-Children");
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(m->items[1], "ToolTip")), "Get-Children [-Name]");
    ck_assert_int_eq(num(m->items[0], "ResultType"), 2);
    clear_msgs(&c);
    check_met(&c, "completion:Get-Ch", true);
    /* The script form with named parameters. */
    run_command(&c, "TabExpansion2 -inputScript 'Get-Ch' -cursorColumn 6", true, false, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(etsn_v_get(c.msgs[0].v, "CompletionMatches")->n_items, 2);
    clear_msgs(&c);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 0);
    /* No <completion>: an empty answer, recorded as unmatched. */
    run_tab(&c, "Set-", 4, cid);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(etsn_v_get(c.msgs[0].v, "CompletionMatches")->n_items, 0);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 1);
    client_close(&c);
}
END_TEST

START_TEST(test_broken_session)
{
    const char *xml = "<scenario name='broken'><user name='alice' password='pw'/>"
                      "<pipeline command='Stop-Service WinRM'><break-session/></pipeline>"
                      "<pipeline command='crash'><break-session mode='vanish'/></pipeline>"
                      "</scenario>";
    client c;
    client_open(&c, xml);
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    char cid[37];
    run_command(&c, "Stop-Service WinRM", true, true, cid);
    receive_until_done(&c, cid);
    ck_assert_int_eq(num(c.msgs[0].v, "PipelineState"), 5);
    clear_msgs(&c);
    receive(&c, NULL, NULL, NULL);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_RUNSPACEPOOL_STATE);
    ck_assert_int_eq(num(c.msgs[0].v, "RunspaceState"), 5);
    clear_msgs(&c);
    /* The next command is refused. */
    etsn_guid pid;
    etsn_guid_random(&pid);
    char cid2[37];
    etsn_guid_format(&pid, cid2, true);
    etsn_buf req = ETSN_BUF_INIT;
    etsn_wsman_header h = header(&c, true);
    etsn_wsman_build_command(&req, &h, cid2, (const uint8_t *)"", 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(&c, &req, &r), 500);
    ck_assert_str_eq(r.fault_subcode, "w:InvalidSelectors");
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&req);
    client_close(&c);

    /* vanish: the command's own Receive already faults. */
    client_open(&c, xml);
    create_shell(&c);
    receive_opened(&c);
    clear_msgs(&c);
    run_command(&c, "crash", true, true, cid);
    ck_assert_int_eq(receive(&c, cid, NULL, &r), 500);
    ck_assert_str_eq(r.fault_subcode, "w:InvalidSelectors");
    etsn_wsman_msg_free(&r);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 0);
    client_close(&c);
}
END_TEST

START_TEST(test_key_request_and_ctrl_c_record)
{
    const char *xml = "<scenario name='kr'><server public-key-request='true'/>"
                      "<user name='alice' password='pw'/>"
                      "<pipeline command='Start-Sleep -Seconds 3600'><wait-signal/></pipeline>"
                      "</scenario>";
    client c;
    client_open(&c, xml);
    create_shell(&c);
    receive_opened(&c);
    ck_assert_ptr_nonnull(find_msg(&c, ETSN_MSG_PUBLIC_KEY_REQUEST));
    clear_msgs(&c);
    char cid[37];
    run_command(&c, "Start-Sleep -Seconds 3600", true, true, cid);
    signal_cmd(&c, cid, ETSN_SIGNAL_CTRL_C);
    receive_until_done(&c, cid);
    ck_assert_int_eq(num(c.msgs[0].v, "PipelineState"), 3);
    etsn_error_record rec;
    etsn_error_record_read(etsn_v_get(c.msgs[0].v, "ExceptionAsErrorRecord"), &rec);
    ck_assert_str_eq(rec.message, "The pipeline has been stopped.");
    ck_assert_str_eq(rec.reason, "PipelineStoppedException");
    check_met(&c, "signal-ctrl-c", true);
    client_close(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_main_path);
    tcase_add_test(tc, test_small_envelope);
    tcase_add_test(tc, test_receive_timeout);
    tcase_add_test(tc, test_large_streamed);
    tcase_add_test(tc, test_host_response_and_ctrl_c);
    tcase_add_test(tc, test_custom_endpoint);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_host_calls_23);
    tcase_add_test(tc, test_host_calls_secure_without_key);
    tcase_add_test(tc, test_host_calls_24);
    tcase_add_test(tc, test_streams_and_sleep);
    tcase_add_test(tc, test_incomplete_and_multiline);
    tcase_add_test(tc, test_busy_pool);
    tcase_add_test(tc, test_completion);
    tcase_add_test(tc, test_broken_session);
    tcase_add_test(tc, test_key_request_and_ctrl_c_record);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
