/* What etsn-mockd answers, checked against what real Windows PowerShell
 * servers send. The facts (message types, their order, states, key fields)
 * are read off the request/response recordings in pypsrp's test suite
 * (jborean93/pypsrp, tests/tests_pypsrp/responses/, Windows Server with
 * PowerShell 5.1); each test names the recording it follows. */
#include "test_client.h"

#include "../ref/core/psrp_crypto.h"

static const char *fidelity_xml =
    "<scenario name='fidelity' description='unit'>\n"
    "  <server computer='SERVER01' max-envelope-kb='150'/>\n"
    "  <user name='CONTOSO\\alice' password='pw'/>\n"
    "  <pipeline command='echo hi'><output>hi</output></pipeline>\n"
    "  <pipeline command='Get-Date'><output><DT>2026-11-24T22:00:00</DT>"
    "<line></line><line>Tuesday, November 24, 2026 10:00:00 PM</line><line></line></output>"
    "</pipeline>\n"
    "  <pipeline command='slow'><output>a</output><sleep ms='200'/><output>b</output>"
    "<output>c</output></pipeline>\n"
    "  <pipeline command='ask'><host-call method='ReadLine'/><output>x</output></pipeline>\n"
    "  <pipeline command='process { $input }'><debug>Start Block</debug><input/>"
    "<debug>End Block</debug></pipeline>\n"
    "  <pipeline command='$host.UI.WriteWarningLine(\"w\")'><warning via='both'>w</warning>"
    "<progress activity='a' id='2' via='both' source-id='1'/></pipeline>\n"
    "  <pipeline command='Write-Warning w'><warning>w</warning><debug>d</debug></pipeline>\n"
    "  <pipeline command='Write-Output 1; Write-Output 2'><output><I32>1</I32><I32>2</I32>"
    "</output></pipeline>\n"
    "  <pipeline command='Get-Process | Select-Object -First 1'><output>p</output></pipeline>\n"
    "  <pipeline command='merged'><debug>d</debug><error-record message='e'/><output>o</output>"
    "<warning>w</warning><information>i</information></pipeline>\n"
    "  <pipeline command='secret'><secure-string>hunter2</secure-string></pipeline>\n"
    "  <pipeline command='1..2'><output><I32>1</I32><I32>2</I32></output></pipeline>\n"
    "  <pipeline command='Write-Output before; Write-Error error; Write-Output after'>"
    "<output>before</output><error-record message='error' "
    "exception-type='Microsoft.PowerShell.Commands.WriteErrorException' "
    "fqid='Microsoft.PowerShell.Commands.WriteErrorException' activity='Write-Error'/>"
    "<output>after</output></pipeline>\n"
    "  <pipeline command='throw boom'><output>before</output><state value='Failed'>"
    "<error-record message='boom' exception-type='System.Management.Automation.RuntimeException'"
    " fqid='boom' category='OperationStopped'/></state></pipeline>\n"
    "</scenario>\n";

/* Sends one message on the pool's stdin (Send without a CommandId). */
static void send_pool(client *c, uint32_t type, etsn_value *body)
{
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, c, type, &(etsn_guid){0}, body);
    etsn_wsman_header h = header(c, true);
    ck_assert_int_eq(etsn_wsman_build_send(&req, &h, NULL, "stdin", frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
}

/* A pool request {name: value, ci-name: ci} as a client writes it. */
static etsn_value *pool_request(const char *name, int32_t value, const char *ci_name, int64_t ci)
{
    etsn_value *v = etsn_v_obj();
    ck_assert_ptr_nonnull(v);
    if (name) ck_assert_int_eq(etsn_obj_add_member(v, name, etsn_v_i32(value)), 0);
    ck_assert_int_eq(etsn_obj_add_member(v, ci_name, etsn_v_i64(ci)), 0);
    return v;
}

/* Sends a pool request and returns the one RUNSPACE_AVAILABILITY reply. */
static const etsn_value *pool_call(client *c, uint32_t type, etsn_value *body, int64_t ci)
{
    clear_msgs(c);
    send_pool(c, type, body);
    ck_assert_int_eq(receive(c, NULL, NULL, NULL), 200);
    ck_assert_uint_eq(c->n_msgs, 1);
    ck_assert_uint_eq(c->msgs[0].type, ETSN_MSG_RUNSPACE_AVAILABILITY);
    /* the reply's call id is "ci" whatever case the request used */
    ck_assert_int_eq(num(c->msgs[0].v, "ci"), ci);
    const etsn_value *r = etsn_v_get(c->msgs[0].v, "SetMinMaxRunspacesResponse");
    ck_assert_ptr_nonnull(r);
    return r;
}

static bool pool_bool(client *c, uint32_t type, etsn_value *body, int64_t ci)
{
    const etsn_value *r = pool_call(c, type, body, ci);
    ck_assert_int_eq(r->kind, ETSN_V_BOOL);
    return r->num.b;
}

static int64_t pool_available(client *c, int64_t ci)
{
    const etsn_value *r =
        pool_call(c, ETSN_MSG_GET_AVAILABLE_RUNSPACES, pool_request(NULL, 0, "ci", ci), ci);
    /* ServerRunspacePoolDriver answers the int it has: <I32> */
    ck_assert_int_eq(r->kind, ETSN_V_I32);
    return r->num.i;
}

static void open_pool(client *c, const char *xml)
{
    client_open(c, xml);
    create_shell(c);
    receive_opened(c);
    ck_assert_uint_eq(c->n_msgs, 3);
    clear_msgs(c);
}

/* test_psrp_set_runspaces.yml: a 1..1 pool answers GET_AVAILABLE_RUNSPACES
 * 1; SET_MAX_RUNSPACES 5 (pypsrp writes the call id as "CI") true, then 5
 * available; SET_MIN_RUNSPACES 2 true; SET_MIN_RUNSPACES -1 and
 * SET_MAX_RUNSPACES -1 false. Every answer is RUNSPACE_AVAILABILITY
 * {SetMinMaxRunspacesResponse, ci}. */
START_TEST(test_set_runspaces)
{
    client c;
    open_pool(&c, fidelity_xml);
    ck_assert_int_eq(pool_available(&c, 0), 1);
    ck_assert(
        pool_bool(&c, ETSN_MSG_SET_MAX_RUNSPACES, pool_request("MaxRunspaces", 5, "CI", 1), 1));
    ck_assert_int_eq(pool_available(&c, 2), 5);
    ck_assert(
        pool_bool(&c, ETSN_MSG_SET_MIN_RUNSPACES, pool_request("MinRunspaces", 2, "CI", 3), 3));
    ck_assert(
        !pool_bool(&c, ETSN_MSG_SET_MIN_RUNSPACES, pool_request("MinRunspaces", -1, "CI", 4), 4));
    ck_assert(
        !pool_bool(&c, ETSN_MSG_SET_MAX_RUNSPACES, pool_request("MaxRunspaces", -1, "CI", 5), 5));
    /* below the minimum (2) is refused too; the pool keeps 5 */
    ck_assert(
        !pool_bool(&c, ETSN_MSG_SET_MAX_RUNSPACES, pool_request("MaxRunspaces", 1, "CI", 6), 6));
    ck_assert_int_eq(pool_available(&c, 7), 5);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 0);
    client_close(&c);
}
END_TEST

/* test_psrp_reset_runspace_state_fail.yml: RESET_RUNSPACE_STATE right after
 * the pool opens answers false (no runspace has run a pipeline yet);
 * test_psrp_reset_runspace_state.yml: after "echo hi" ran it answers true. */
START_TEST(test_reset_runspace_state)
{
    client c;
    open_pool(&c, fidelity_xml);
    ck_assert(!pool_bool(&c, ETSN_MSG_RESET_RUNSPACE_STATE, pool_request(NULL, 0, "ci", 0), 0));
    char cid[37];
    run_command(&c, "echo hi", true, false, cid);
    clear_msgs(&c);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_OUTPUT);
    ck_assert_str_eq(etsn_v_as_str(c.msgs[0].v), "hi");
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_PIPELINE_STATE);
    ck_assert_int_eq(num(c.msgs[1].v, "PipelineState"), ETSN_PIPE_COMPLETED);
    signal_cmd(&c, cid, ETSN_SIGNAL_TERMINATE);
    ck_assert(pool_bool(&c, ETSN_MSG_RESET_RUNSPACE_STATE, pool_request(NULL, 0, "ci", 1), 1));
    /* ServerRunspacePoolDriver.ResetRunspaceState: only a one-runspace pool */
    ck_assert(
        pool_bool(&c, ETSN_MSG_SET_MAX_RUNSPACES, pool_request("MaxRunspaces", 2, "CI", 2), 2));
    ck_assert(!pool_bool(&c, ETSN_MSG_RESET_RUNSPACE_STATE, pool_request(NULL, 0, "ci", 3), 3));
    client_close(&c);
}
END_TEST

/* test_wsman_update_envelope_size_{150,500,4096}.yml: a WS-Transfer Get of
 * winrm/config answers <cfg:Config> whose MaxEnvelopeSizekb is the server's
 * setting (here the fixture's 150). */
START_TEST(test_get_config)
{
    client c;
    client_open(&c, fidelity_xml);
    etsn_buf req = ETSN_BUF_INIT, out = ETSN_BUF_INIT;
    etsn_wsman_header h = header(&c, false);
    h.resource_uri = ETSN_WSMAN_CONFIG_URI;
    ck_assert_int_eq(etsn_wsman_build_get(&req, &h), 0);
    ck_assert_int_eq(mock_engine_handle(c.e, 1, "CONTOSO\\alice", req.data, req.len, &out), 200);
    etsn_wsman_msg r;
    char err[256] = "";
    ck_assert_msg(etsn_wsman_parse(out.data, out.len, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(r.action, ETSN_WSMAN_GET_RESPONSE);
    ck_assert_str_eq(r.relates_to, c.msg_id);
    etsn_wsman_msg_free(&r);
    etsn_buf_append_byte(&out, 0);
    ck_assert_ptr_nonnull(
        strstr((const char *)out.data, "<cfg:MaxEnvelopeSizekb>150</cfg:MaxEnvelopeSizekb>"));
    /* any other resource is not there */
    h = header(&c, false);
    h.resource_uri = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/Win32_Service";
    ck_assert_int_eq(etsn_wsman_build_get(&req, &h), 0);
    ck_assert_int_eq(mock_engine_handle(c.e, 1, "CONTOSO\\alice", req.data, req.len, &out), 500);
    etsn_buf_free(&req);
    etsn_buf_free(&out);
    client_close(&c);
}
END_TEST

/* Runs text and collects its messages up to Done. */
static void run_all(client *c, const char *text, bool out_default)
{
    char cid[37];
    clear_msgs(c);
    run_command(c, text, true, out_default, cid);
    receive_until_done(c, cid);
    check_ids(c, cid);
    signal_cmd(c, cid, ETSN_SIGNAL_TERMINATE);
}

/* test_psrp_reset_runspace_state / test_psrp_multiple_invocations: a pipeline
 * without Out-Default gets its objects as PIPELINE_OUTPUT (a String as <S>),
 * then PIPELINE_STATE Completed (4) with no error. The same pipeline ending in
 * Out-Default (a console) gets what Out-Default writes instead: one WriteLine2
 * (16) per line of the formatted view, strings and numbers as themselves. */
START_TEST(test_output_or_out_default)
{
    client c;
    open_pool(&c, fidelity_xml);
    run_all(&c, "Get-Date", false);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_OUTPUT);
    ck_assert_int_eq(c.msgs[0].v->kind, ETSN_V_DATETIME);
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_PIPELINE_STATE);
    ck_assert_int_eq(num(c.msgs[1].v, "PipelineState"), ETSN_PIPE_COMPLETED);
    ck_assert_ptr_null(etsn_v_get(c.msgs[1].v, "ExceptionAsErrorRecord"));

    run_all(&c, "Get-Date", true);
    ck_assert_uint_eq(c.n_msgs, 4);
    const char *want[] = {"", "Tuesday, November 24, 2026 10:00:00 PM", ""};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(c.msgs[i].type, ETSN_MSG_PIPELINE_HOST_CALL);
        ck_assert_int_eq(num(c.msgs[i].v, "mi"), 16);
        ck_assert_int_eq(num(c.msgs[i].v, "ci"), -100);
        ck_assert_str_eq(host_arg(&c.msgs[i]), want[i]);
    }
    ck_assert_int_eq(num(c.msgs[3].v, "PipelineState"), ETSN_PIPE_COMPLETED);

    run_all(&c, "1..2", false);
    ck_assert_uint_eq(c.n_msgs, 3);
    ck_assert_int_eq(c.msgs[0].v->kind, ETSN_V_I32);
    ck_assert_int_eq(c.msgs[1].v->num.i, 2);
    run_all(&c, "1..2", true);
    ck_assert_uint_eq(c.n_msgs, 3);
    ck_assert_str_eq(host_arg(&c.msgs[0]), "1");
    ck_assert_str_eq(host_arg(&c.msgs[1]), "2");
    client_close(&c);
}
END_TEST

/* test_psrp_stream_output_invocation: a non-terminating Write-Error is an
 * ERROR_RECORD (writeErrorStream true) between the outputs and the pipeline
 * still Completes. test_psrp_error_failed: a terminating error sends no
 * ERROR_RECORD; PIPELINE_STATE Failed (5) carries it as
 * ExceptionAsErrorRecord, and nothing follows. With Out-Default the
 * non-terminating one becomes WriteErrorLine (18) calls; the terminating one
 * is still only the Failed state (Out-Default never sees it). */
START_TEST(test_error_semantics)
{
    client c;
    open_pool(&c, fidelity_xml);
    const char *we = "Write-Output before; Write-Error error; Write-Output after";
    run_all(&c, we, false);
    ck_assert_uint_eq(c.n_msgs, 4);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_OUTPUT);
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_ERROR_RECORD);
    const etsn_value *ws = etsn_v_get(c.msgs[1].v, "writeErrorStream");
    ck_assert(ws && ws->kind == ETSN_V_BOOL && ws->num.b);
    etsn_error_record r;
    etsn_error_record_read(c.msgs[1].v, &r);
    ck_assert_str_eq(r.message, "error");
    ck_assert_str_eq(r.fqid, "Microsoft.PowerShell.Commands.WriteErrorException");
    ck_assert_uint_eq(c.msgs[2].type, ETSN_MSG_PIPELINE_OUTPUT);
    ck_assert_str_eq(etsn_v_as_str(c.msgs[2].v), "after");
    ck_assert_int_eq(num(c.msgs[3].v, "PipelineState"), ETSN_PIPE_COMPLETED);

    run_all(&c, we, true);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_HOST_CALL);
    ck_assert_int_eq(num(c.msgs[1].v, "mi"), 18);
    ck_assert_str_eq(host_arg(&c.msgs[1]), "Write-Error : error");
    for (size_t i = 0; i < c.n_msgs; i++) ck_assert_uint_ne(c.msgs[i].type, ETSN_MSG_ERROR_RECORD);

    for (int od = 0; od < 2; od++) {
        run_all(&c, "throw boom", od);
        ck_assert_uint_eq(c.n_msgs, 2);
        ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_PIPELINE_STATE);
        ck_assert_int_eq(num(c.msgs[1].v, "PipelineState"), ETSN_PIPE_FAILED);
        const etsn_value *x = etsn_v_get(c.msgs[1].v, "ExceptionAsErrorRecord");
        ck_assert_ptr_nonnull(x);
        ck_assert_ptr_null(etsn_v_get(x, "writeErrorStream"));
        etsn_error_record_read(x, &r);
        ck_assert_str_eq(r.message, "boom");
    }
    client_close(&c);
}
END_TEST

/* test_psrp_small_msg_size, test_psrp_error_failed,
 * test_psrp_pshost_ui_mocked_methods: WinRM puts each fragment in an
 * <rsp:Stream> of its own; a running command's ReceiveResponse has no
 * CommandState, one blocked on a host call has CommandState Pending, the last
 * one CommandState Done (ExitCode 0) and no End="true" stream. */
START_TEST(test_receive_shape)
{
    client c;
    open_pool(&c, fidelity_xml);
    char cid[37];
    run_command(&c, "slow", true, false, cid);
    etsn_wsman_msg r;
    ck_assert_int_eq(receive(&c, cid, NULL, &r), 200);
    ck_assert_uint_eq(r.n_streams, 1);
    ck_assert_ptr_null(r.command_state);
    etsn_wsman_msg_free(&r);
    ck_assert_int_eq(receive(&c, cid, NULL, &r), 200);
    ck_assert_uint_eq(r.n_streams, 3); /* b, c, PIPELINE_STATE */
    for (size_t i = 0; i < r.n_streams; i++) {
        ck_assert(!r.streams[i].end);
        ck_assert_str_eq(r.streams[i].command_id, cid);
    }
    ck_assert_str_eq(r.command_state, ETSN_COMMAND_STATE_DONE);
    etsn_wsman_msg_free(&r);
    ck_assert_uint_eq(c.n_msgs, 4);
    signal_cmd(&c, cid, ETSN_SIGNAL_TERMINATE);

    clear_msgs(&c);
    run_command(&c, "ask", true, false, cid);
    ck_assert_int_eq(receive(&c, cid, NULL, &r), 200);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_HOST_CALL);
    ck_assert_str_eq(r.command_state, ETSN_COMMAND_STATE_PENDING);
    etsn_wsman_msg_free(&r);
    client_close(&c);
}
END_TEST

/* Runs GET_COMMAND_METADATA with these names, CommandType and (NULL: Nil)
 * Namespace pattern; leaves the messages in c->msgs. */
static void metadata(client *c, const char *name, int types, const char *ns)
{
    char cid[37];
    etsn_guid pid;
    ck_assert_int_eq(etsn_guid_random(&pid), 0);
    etsn_guid_format(&pid, cid, true);
    etsn_value *body = etsn_msg_get_command_metadata(&name, 1, types);
    ck_assert_ptr_nonnull(body);
    if (ns) {
        etsn_value *nsv = etsn_v_get(body, "Namespace");
        static const char *const t[] = {"System.Object[]", "System.Array", "System.Object", NULL};
        etsn_value *list = etsn_v_typed(t, ETSN_COLL_LST);
        ck_assert_int_eq(etsn_obj_push_item(list, etsn_v_string(ns)), 0);
        /* replace the Nil member in place, as pypsrp sends a module list */
        for (size_t i = 0; i < body->n_members; i++)
            if (body->members[i] == nsv) {
                free(list->name);
                list->name = nsv->name;
                nsv->name = NULL;
                etsn_v_free(nsv);
                body->members[i] = list;
            }
    }
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, c, ETSN_MSG_GET_COMMAND_METADATA, &pid, body);
    etsn_wsman_header h = header(c, true);
    ck_assert_int_eq(etsn_wsman_build_command(&req, &h, cid, frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    clear_msgs(c);
    receive_until_done(c, cid);
    ck_assert_int_eq(num(c->msgs[c->n_msgs - 1].v, "PipelineState"), ETSN_PIPE_COMPLETED);
    ck_assert_int_eq(num(c->msgs[0].v, "Count"), (int64_t)c->n_msgs - 2);
    signal_cmd(c, cid, ETSN_SIGNAL_TERMINATE);
}

static const char *meta_name(client *c, size_t i)
{
    return etsn_v_as_str(etsn_v_get(c->msgs[i].v, "Name"));
}

/* test_psrp_get_command_metadata: names are Get-Command wildcards
 * ("new-pssession*" found New-PSSession, New-PSSessionConfigurationFile,
 * New-PSSessionOption, in name order), CommandType filters (2: only
 * functions, Selected...FunctionInfo) and Namespace patterns filter by module;
 * the answer is a count object (Selected...GenericMeasureInfo), the commands,
 * PIPELINE_STATE Completed. */
START_TEST(test_command_metadata)
{
    client c;
    open_pool(&c, fidelity_xml);
    metadata(&c, "get-c*", 511, NULL);
    ck_assert_uint_eq(c.n_msgs, 5);
    ck_assert_str_eq(c.msgs[0].v->type_names[0],
                     "Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo");
    ck_assert_str_eq(meta_name(&c, 1), "Get-ChildItem");
    ck_assert_str_eq(meta_name(&c, 2), "Get-Command");
    ck_assert_str_eq(meta_name(&c, 3), "Get-Content");
    ck_assert_str_eq(c.msgs[1].v->type_names[0],
                     "Selected.System.Management.Automation.CmdletInfo");
    ck_assert_int_eq(num(c.msgs[1].v, "CommandType"), 8);

    metadata(&c, "Get-Date", 2, NULL); /* a Cmdlet, not a Function */
    ck_assert_uint_eq(c.n_msgs, 2);
    metadata(&c, "*", 2, NULL);
    ck_assert_uint_eq(c.n_msgs, 5); /* Clear-Host, prompt, TabExpansion2 */
    ck_assert_str_eq(c.msgs[1].v->type_names[0],
                     "Selected.System.Management.Automation.FunctionInfo");
    ck_assert_str_eq(meta_name(&c, 2), "prompt");

    metadata(&c, "Get-*", 511, "Microsoft.PowerShell.Utility");
    ck_assert_uint_eq(c.n_msgs, 5); /* Get-Date, Get-FormatData, Get-Member */
    ck_assert_str_eq(meta_name(&c, 1), "Get-Date");
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[1].v, "Namespace")),
                     "Microsoft.PowerShell.Utility");
    metadata(&c, "nothing-like-this", 511, NULL);
    ck_assert_uint_eq(c.n_msgs, 2);
    client_close(&c);
}
END_TEST

/* Sends messages on a command's stdin, as pypsrp sends input. */
static void send_input(client *c, const char *cid, const etsn_guid *pid, etsn_value *v, bool end)
{
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    if (v) add_message(&frags, c, ETSN_MSG_PIPELINE_INPUT, pid, v);
    if (end) add_message(&frags, c, ETSN_MSG_END_OF_PIPELINE_INPUT, pid, etsn_v_string(""));
    etsn_wsman_header h = header(c, true);
    ck_assert_int_eq(etsn_wsman_build_send(&req, &h, cid, "stdin", frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
}

/* test_psrp_with_input / test_psrp_run_protocol_version_2.*: CREATE_PIPELINE
 * with NoInput false, then PIPELINE_INPUT objects and END_OF_PIPELINE_INPUT;
 * a script echoing $input sends DEBUG (begin), one PIPELINE_OUTPUT per input
 * object as it came, DEBUG (end), PIPELINE_STATE Completed. The pipeline
 * does not complete before END_OF_PIPELINE_INPUT. */
START_TEST(test_pipeline_input)
{
    client c;
    open_pool(&c, fidelity_xml);
    char cid[37];
    etsn_guid pid;
    ck_assert_int_eq(etsn_guid_random(&pid), 0);
    etsn_guid_format(&pid, cid, true);
    etsn_command cmd = {.text = "process { $input }", .is_script = true};
    etsn_host_info host = {0};
    etsn_value *body = etsn_msg_create_pipeline(&cmd, 1, false, &host);
    etsn_value *no_input = etsn_v_get(body, "NoInput");
    ck_assert_ptr_nonnull(no_input);
    no_input->num.b = false;
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, &c, ETSN_MSG_CREATE_PIPELINE, &pid, body);
    etsn_wsman_header h = header(&c, true);
    ck_assert_int_eq(etsn_wsman_build_command(&req, &h, cid, frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(&c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);

    send_input(&c, cid, &pid, etsn_v_i32(1), false);
    bool done = false;
    ck_assert_int_eq(receive(&c, cid, &done, NULL), 200);
    ck_assert(!done);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_DEBUG_RECORD);
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_PIPELINE_OUTPUT);
    ck_assert_int_eq(c.msgs[1].v->num.i, 1);
    /* nothing more until input comes: the Receive times out */
    c.timeout_ms = 200;
    ck_assert_int_eq(receive(&c, cid, NULL, NULL), 500);
    send_input(&c, cid, &pid, etsn_v_string("two"), true);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 5);
    ck_assert_str_eq(etsn_v_as_str(c.msgs[2].v), "two");
    ck_assert_uint_eq(c.msgs[3].type, ETSN_MSG_DEBUG_RECORD);
    ck_assert_int_eq(num(c.msgs[4].v, "PipelineState"), ETSN_PIPE_COMPLETED);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 0);
    client_close(&c);
}
END_TEST

/* test_psrp_run_protocol_version_2.1 (PowerShell 2.0 on WinRM 2.0): the
 * server chooses the ShellId and the CommandId itself, sends all three
 * opening messages in the pool's first Receive, and announces protocol 2.1;
 * PID and RPID stay the client's. */
START_TEST(test_protocol_21_server)
{
    const char *xml = "<scenario name='ps2'><server protocol='2.1' ps-version='2.0'/>"
                      "<user name='alice' password='pw'/>"
                      "<pipeline command='echo hi'><output>hi</output></pipeline></scenario>";
    client c;
    client_open(&c, xml);
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    etsn_host_info host = {0};
    add_message(&frags, &c, ETSN_MSG_SESSION_CAPABILITY, &(etsn_guid){0},
                etsn_msg_session_capability("2.3"));
    add_message(&frags, &c, ETSN_MSG_INIT_RUNSPACEPOOL, &(etsn_guid){0},
                etsn_msg_init_runspacepool(1, 1, &host));
    etsn_wsman_header h = header(&c, false);
    ck_assert_int_eq(
        etsn_wsman_build_create(&req, &h, c.shell_id, "2.3", false, frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(&c, &req, &r), 200);
    ck_assert_str_ne(r.shell_id, c.shell_id);
    snprintf(c.shell_id, sizeof c.shell_id, "%s", r.shell_id);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    ck_assert_int_eq(receive(&c, NULL, NULL, NULL), 200);
    ck_assert_uint_eq(c.n_msgs, 3);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[0].v, "protocolversion")), "2.1");
    ck_assert_uint_eq(c.msgs[2].type, ETSN_MSG_RUNSPACEPOOL_STATE);
    clear_msgs(&c);

    char cid[37], proposed[37];
    etsn_guid pid;
    ck_assert_int_eq(etsn_guid_random(&pid), 0);
    etsn_guid_format(&pid, proposed, true);
    etsn_command cmd = {.text = "echo hi", .is_script = true};
    add_message(&frags, &c, ETSN_MSG_CREATE_PIPELINE, &pid,
                etsn_msg_create_pipeline(&cmd, 1, false, &host));
    h = header(&c, true);
    ck_assert_int_eq(etsn_wsman_build_command(&req, &h, proposed, frags.data, frags.len), 0);
    ck_assert_int_eq(call(&c, &req, &r), 200);
    ck_assert_str_ne(r.command_id, proposed);
    snprintf(cid, sizeof cid, "%s", r.command_id);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 2);
    check_ids(&c, proposed); /* the PID is still the client's */
    /* The client's RPID is not the server's ShellId: still its pool. */
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 0);
    client_close(&c);
}
END_TEST

/* test_psrp_pshost_ui_mocked_methods: with a client host, the server's
 * $host.UI.WriteWarningLine / WriteProgress send the record (WARNING_RECORD,
 * PROGRESS_RECORD) and then the host call (22 WriteWarningLine, 20
 * WriteProgress [Int64 source id, record]). */
START_TEST(test_record_and_host_call)
{
    client c;
    open_pool(&c, fidelity_xml);
    run_all(&c, "$host.UI.WriteWarningLine(\"w\")", false);
    ck_assert_uint_eq(c.n_msgs, 5);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_WARNING_RECORD);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[0].v, "InformationalRecord_Message")), "w");
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_PIPELINE_HOST_CALL);
    ck_assert_int_eq(num(c.msgs[1].v, "mi"), 22);
    ck_assert_str_eq(host_arg(&c.msgs[1]), "w");
    ck_assert_uint_eq(c.msgs[2].type, ETSN_MSG_PROGRESS_RECORD);
    ck_assert_int_eq(num(c.msgs[2].v, "ActivityId"), 2);
    ck_assert_int_eq(num(c.msgs[3].v, "mi"), 20);
    const etsn_value *mp = etsn_v_get(c.msgs[3].v, "mp");
    ck_assert_uint_eq(mp->n_items, 2);
    ck_assert_int_eq(mp->items[0]->num.i, 1);
    client_close(&c);
}
END_TEST

/* Creates a pipeline whose CREATE_PIPELINE says RemoteStreamOptions opts. */
static void run_with_options(client *c, const char *text, int opts, char cid[37])
{
    etsn_guid pid;
    ck_assert_int_eq(etsn_guid_random(&pid), 0);
    etsn_guid_format(&pid, cid, true);
    etsn_command cmd = {.text = text, .is_script = true};
    etsn_host_info host = {0};
    etsn_value *body = etsn_msg_create_pipeline(&cmd, 1, false, &host);
    etsn_value *o = etsn_v_get(body, "RemoteStreamOptions");
    ck_assert(o && o->base);
    o->base->num.i = opts;
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, c, ETSN_MSG_CREATE_PIPELINE, &pid, body);
    etsn_wsman_header h = header(c, true);
    ck_assert_int_eq(etsn_wsman_build_command(&req, &h, cid, frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
}

/* test_psrp_stream_no_output_invocation: RemoteStreamOptions 0 gives
 * records with InformationalRecord_SerializeInvocationInfo false and nothing
 * more; test_psrp_stream_output_invocation: AddInvocationInfo (15) gives
 * true and the InvocationInfo_* members (CommandInfo_Definition the script,
 * CommandType Script, HistoryId) plus InformationalRecord_PipelineIterationInfo.
 * Each flag is per stream (2 warning, 4 debug). */
START_TEST(test_stream_invocation_info)
{
    client c;
    open_pool(&c, fidelity_xml);
    char cid[37];
    run_with_options(&c, "Write-Warning w", 0, cid);
    clear_msgs(&c);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_WARNING_RECORD);
    const etsn_value *b = etsn_v_get(c.msgs[0].v, "InformationalRecord_SerializeInvocationInfo");
    ck_assert(b && !b->num.b);
    ck_assert_ptr_null(etsn_v_get(c.msgs[0].v, "InvocationInfo_HistoryId"));
    signal_cmd(&c, cid, ETSN_SIGNAL_TERMINATE);

    run_with_options(&c, "Write-Warning w", 2, cid);
    clear_msgs(&c);
    receive_until_done(&c, cid);
    b = etsn_v_get(c.msgs[0].v, "InformationalRecord_SerializeInvocationInfo");
    ck_assert(b && b->num.b);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(c.msgs[0].v, "CommandInfo_Definition")),
                     "Write-Warning w");
    ck_assert_int_eq(num(c.msgs[0].v, "CommandInfo_CommandType"), 64);
    ck_assert_int_eq(num(c.msgs[0].v, "InvocationInfo_HistoryId"), 2);
    ck_assert_uint_eq(etsn_v_get(c.msgs[0].v, "InformationalRecord_PipelineIterationInfo")->n_items,
                      2);
    /* the debug record was not asked for */
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_DEBUG_RECORD);
    b = etsn_v_get(c.msgs[1].v, "InformationalRecord_SerializeInvocationInfo");
    ck_assert(b && !b->num.b);
    client_close(&c);
}
END_TEST

/* test_psrp_with_history / test_psrp_with_no_history: a pipeline created
 * with AddToHistory true is in the history when it has ended; Get-History
 * lists it as a HistoryInfo (Props Id, CommandLine, ExecutionStatus,
 * StartExecutionTime, EndExecutionTime); one created with AddToHistory false
 * is not. A console gets the table view. */
START_TEST(test_history)
{
    client c;
    open_pool(&c, fidelity_xml);
    run_all(&c, "Get-History", false);
    ck_assert_uint_eq(c.n_msgs, 1);                      /* nothing yet */
    run_all(&c, "Write-Output 1; Write-Output 2", true); /* AddToHistory true */
    run_all(&c, "echo hi", false);                       /* AddToHistory false */
    run_all(&c, "Get-History", false);
    ck_assert_uint_eq(c.n_msgs, 2); /* one entry: "echo hi" was not added */
    const etsn_value *h = c.msgs[0].v;
    ck_assert_str_eq(h->type_names[0], "Microsoft.PowerShell.Commands.HistoryInfo");
    ck_assert_int_eq(num(h, "Id"), 1);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(h, "CommandLine")), "Write-Output 1; Write-Output 2");
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(h, "ExecutionStatus")), "Completed");
    ck_assert_int_eq(etsn_v_get(h, "StartExecutionTime")->kind, ETSN_V_DATETIME);
    run_all(&c, "Get-History", true); /* a console, AddToHistory true */
    ck_assert_str_eq(host_arg(&c.msgs[1]), "  Id CommandLine");
    ck_assert_str_eq(host_arg(&c.msgs[3]), "   1 Write-Output 1; Write-Output 2");
    run_all(&c, "Get-History", false);
    ck_assert_uint_eq(c.n_msgs, 3); /* the console's Get-History is entry 2 */
    ck_assert_int_eq(num(c.msgs[1].v, "Id"), 2);
    client_close(&c);
}
END_TEST

/* test_psrp_application_args: $PSSenderInfo.ApplicationArguments gives back
 * the PSPrimitiveDictionary the client sent in INIT_RUNSPACEPOOL. */
START_TEST(test_application_arguments)
{
    client c;
    client_open(&c, fidelity_xml);
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    etsn_host_info host = {0};
    add_message(&frags, &c, ETSN_MSG_SESSION_CAPABILITY, &(etsn_guid){0},
                etsn_msg_session_capability("2.3"));
    etsn_value *init = etsn_msg_init_runspacepool(1, 1, &host);
    static const char *const t[] = {"System.Management.Automation.PSPrimitiveDictionary",
                                    "System.Collections.Hashtable", "System.Object", NULL};
    etsn_value *dict = etsn_v_typed(t, ETSN_COLL_DCT);
    ck_assert_int_eq(etsn_obj_push_entry(dict, etsn_v_string("test_var"), etsn_v_string("abc")), 0);
    etsn_value *old = etsn_v_get(init, "ApplicationArguments");
    ck_assert_ptr_nonnull(old);
    for (size_t i = 0; i < init->n_members; i++)
        if (init->members[i] == old) {
            dict->name = old->name;
            old->name = NULL;
            etsn_v_free(old);
            init->members[i] = dict;
        }
    add_message(&frags, &c, ETSN_MSG_INIT_RUNSPACEPOOL, &(etsn_guid){0}, init);
    etsn_wsman_header h = header(&c, false);
    ck_assert_int_eq(
        etsn_wsman_build_create(&req, &h, c.shell_id, "2.3", false, frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(&c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    receive_opened(&c);
    run_all(&c, "$PSSenderInfo.ApplicationArguments", false);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PIPELINE_OUTPUT);
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(c.msgs[0].v, "test_var")), "abc");
    client_close(&c);
}
END_TEST

/* Runs the commands cmds[0..n) as one pipeline (no Out-Default added). */
static void run_cmds(client *c, const etsn_command *cmds, size_t n)
{
    char cid[37];
    etsn_guid pid;
    ck_assert_int_eq(etsn_guid_random(&pid), 0);
    etsn_guid_format(&pid, cid, true);
    etsn_host_info host = {0};
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, c, ETSN_MSG_CREATE_PIPELINE, &pid,
                etsn_msg_create_pipeline(cmds, n, false, &host));
    etsn_wsman_header h = header(c, true);
    ck_assert_int_eq(etsn_wsman_build_command(&req, &h, cid, frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    clear_msgs(c);
    receive_until_done(c, cid);
    signal_cmd(c, cid, ETSN_SIGNAL_TERMINATE);
}

/* A pipeline built of commands (pypsrp's add_cmdlet chains,
 * test_psrp_merge_commands) is the commands joined with " | ", parameters
 * rebuilt; piped into Out-String it comes back as the text a console would
 * show: with -Stream a String per line, without one String of CRLF lines. */
START_TEST(test_pipeline_text_and_out_string)
{
    client c;
    open_pool(&c, fidelity_xml);
    etsn_value *one = etsn_v_i32(1);
    etsn_value *yes = etsn_v_bool(true);
    etsn_command_arg first = {"First", one}, stream = {"Stream", yes};
    etsn_command cmds[2] = {{.text = "Get-Process"},
                            {.text = "Select-Object", .args = &first, .n_args = 1}};
    run_cmds(&c, cmds, 2);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_str_eq(etsn_v_as_str(c.msgs[0].v), "p");

    etsn_command date[2] = {{.text = "Get-Date", .is_script = true}, {.text = "Out-String"}};
    run_cmds(&c, date, 2);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_str_eq(etsn_v_as_str(c.msgs[0].v),
                     "\r\nTuesday, November 24, 2026 10:00:00 PM\r\n\r\n");
    date[1].args = &stream;
    date[1].n_args = 1;
    run_cmds(&c, date, 2);
    ck_assert_uint_eq(c.n_msgs, 4); /* "", the date, "" and the state */
    ck_assert_str_eq(etsn_v_as_str(c.msgs[0].v), "");
    ck_assert_str_eq(etsn_v_as_str(c.msgs[1].v), "Tuesday, November 24, 2026 10:00:00 PM");
    etsn_v_free(one);
    etsn_v_free(yes);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 0);
    client_close(&c);
}
END_TEST

/* An unknown name in a script is a CommandNotFoundException error record
 * (ObjectNotFound) and the script completes; as the pipeline's first
 * command (pypsrp's add_cmdlet) the pipeline cannot start and fails with it
 * (PIPELINE_STATE Failed, no ERROR_RECORD). */
START_TEST(test_command_not_found_kinds)
{
    client c;
    open_pool(&c, fidelity_xml);
    run_all(&c, "nosuch", false);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_ERROR_RECORD);
    ck_assert_int_eq(num(c.msgs[1].v, "PipelineState"), ETSN_PIPE_COMPLETED);
    etsn_command cmd = {.text = "nosuch"};
    run_cmds(&c, &cmd, 1);
    ck_assert_uint_eq(c.n_msgs, 1);
    ck_assert_int_eq(num(c.msgs[0].v, "PipelineState"), ETSN_PIPE_FAILED);
    etsn_error_record r;
    etsn_error_record_read(etsn_v_get(c.msgs[0].v, "ExceptionAsErrorRecord"), &r);
    ck_assert_str_eq(r.fqid, "CommandNotFoundException");
    ck_assert_int_eq(r.category, 13);
    client_close(&c);
}
END_TEST

/* test_psrp_stream_{no_,}output_invocation, test_psrp_error_failed: an
 * ERROR_RECORD's Exception has its Props (Message ... HResult); with
 * AddInvocationInfoToErrorRecord (1) SerializeExtendedInfo is true and the
 * invocation, PipelineIterationInfo and ErrorDetails_ScriptStackTrace come
 * along; PIPELINE_STATE's ExceptionAsErrorRecord stays without them. */
START_TEST(test_error_record_shape)
{
    client c;
    open_pool(&c, fidelity_xml);
    const char *we = "Write-Output before; Write-Error error; Write-Output after";
    char cid[37];
    for (int opts = 0; opts <= 15; opts += 15) {
        run_with_options(&c, we, opts, cid);
        clear_msgs(&c);
        receive_until_done(&c, cid);
        signal_cmd(&c, cid, ETSN_SIGNAL_TERMINATE);
        const etsn_value *rec = c.msgs[1].v;
        ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_ERROR_RECORD);
        ck_assert_int_eq(num(rec, "Exception.HResult"), -2146233087);
        ck_assert_ptr_nonnull(etsn_v_path(rec, "Exception.Data"));
        const etsn_value *sei = etsn_v_get(rec, "SerializeExtendedInfo");
        ck_assert(sei && sei->num.b == (opts != 0));
        ck_assert(!etsn_v_get(rec, "PipelineIterationInfo") == !opts);
        ck_assert(!etsn_v_get(rec, "InvocationInfo_HistoryId") == !opts);
    }
    run_with_options(&c, "throw boom", 15, cid);
    clear_msgs(&c);
    receive_until_done(&c, cid);
    const etsn_value *x = etsn_v_get(c.msgs[1].v, "ExceptionAsErrorRecord");
    ck_assert_ptr_nonnull(x);
    ck_assert(!etsn_v_get(x, "SerializeExtendedInfo")->num.b);
    ck_assert_int_eq(num(x, "Exception.HResult"), -2146233087);
    client_close(&c);
}
END_TEST

/* Sets a Merge* member (PipelineResultTypes enum) of the first command. */
static void set_merge(etsn_value *body, const char *name, int value)
{
    etsn_value *cmd = etsn_v_path(body, "PowerShell.Cmds")->items[0];
    etsn_value *m = etsn_v_get(cmd, name);
    ck_assert(m && m->base);
    m->base->num.i = value;
}

/* test_psrp_merge_commands: a command with MergeMyResult Error to Output
 * and MergeWarning/Verbose/Debug/Information = Output sends those records as
 * PIPELINE_OUTPUT objects (a DebugRecord, the ErrorRecord, ...) in order;
 * without merges each goes as its own message. */
START_TEST(test_merged_streams)
{
    client c;
    open_pool(&c, fidelity_xml);
    char cid[37];
    etsn_guid pid;
    ck_assert_int_eq(etsn_guid_random(&pid), 0);
    etsn_guid_format(&pid, cid, true);
    etsn_command cmd = {
        .text = "merged", .is_script = true, .merge_my_result = 2, .merge_to_result = 1};
    etsn_host_info host = {0};
    etsn_value *body = etsn_msg_create_pipeline(&cmd, 1, false, &host);
    set_merge(body, "MergeWarning", 1);
    set_merge(body, "MergeDebug", 1);
    set_merge(body, "MergeInformation", 1);
    etsn_buf frags = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    add_message(&frags, &c, ETSN_MSG_CREATE_PIPELINE, &pid, body);
    etsn_wsman_header h = header(&c, true);
    ck_assert_int_eq(etsn_wsman_build_command(&req, &h, cid, frags.data, frags.len), 0);
    etsn_wsman_msg r;
    ck_assert_int_eq(call(&c, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    etsn_buf_free(&frags);
    etsn_buf_free(&req);
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 6);
    const char *types[] = {"System.Management.Automation.DebugRecord",
                           "System.Management.Automation.ErrorRecord", NULL,
                           "System.Management.Automation.WarningRecord",
                           "System.Management.Automation.InformationRecord"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_uint_eq(c.msgs[i].type, ETSN_MSG_PIPELINE_OUTPUT);
        if (types[i]) ck_assert_str_eq(c.msgs[i].v->type_names[0], types[i]);
    }
    signal_cmd(&c, cid, ETSN_SIGNAL_TERMINATE);
    run_all(&c, "merged", false); /* no merges */
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_DEBUG_RECORD);
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_ERROR_RECORD);
    ck_assert_uint_eq(c.msgs[3].type, ETSN_MSG_WARNING_RECORD);
    ck_assert_uint_eq(c.msgs[4].type, ETSN_MSG_INFORMATION_RECORD);
    client_close(&c);
}
END_TEST

/* The SecureString a PIPELINE_OUTPUT carries, decrypted. */
static void expect_secret(const etsn_psrp_keys *k, const etsn_value *v, const char *want)
{
    ck_assert_int_eq(v->kind, ETSN_V_SECURESTRING);
    etsn_buf plain = ETSN_BUF_INIT, u8 = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_secure_string_decrypt(k, (const uint8_t *)v->str, v->str_len, &plain), 0);
    ck_assert_int_eq(etsn_utf16le_to_utf8(plain.data, plain.len, &u8), 0);
    etsn_buf_append_byte(&u8, 0);
    ck_assert_str_eq((const char *)u8.data, want);
    etsn_buf_free(&plain);
    etsn_buf_free(&u8);
}

/* Server-initiated key exchange (MS-PSRP 2.2.2.5; pypsrp's
 * test_psrp_multiple_commands and test_psrp_pshost_ui_mocked_methods show
 * the PUBLIC_KEY -> ENCRYPTED_SESSION_KEY pair on the pool's stream): a 2.3
 * server that must send a SecureString and has no session key sends
 * PUBLIC_KEY_REQUEST and holds the pipeline; after PUBLIC_KEY it answers
 * ENCRYPTED_SESSION_KEY and the SecureString follows, encrypted with that
 * key. With the key known it asks no more; a console gets the text. */
START_TEST(test_server_initiated_key_exchange)
{
    client c;
    open_pool(&c, fidelity_xml);
    char cid[37];
    run_command(&c, "secret", true, false, cid);
    c.timeout_ms = 200;
    ck_assert_int_eq(receive(&c, cid, NULL, NULL), 500); /* held */
    ck_assert_int_eq(receive(&c, NULL, NULL, NULL), 200);
    ck_assert_uint_eq(c.n_msgs, 1);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_PUBLIC_KEY_REQUEST);
    clear_msgs(&c);

    char err[256];
    etsn_psrp_keys *k = etsn_psrp_keys_client_new(err, sizeof err);
    ck_assert_msg(k != NULL, "%s", err);
    etsn_buf pub = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_psrp_keys_public_blob(k, &pub), 0);
    etsn_value *o = etsn_v_obj();
    ck_assert_int_eq(etsn_obj_add_member(o, "PublicKey", etsn_v_string((char *)pub.data)), 0);
    etsn_buf_free(&pub);
    send_pool(&c, ETSN_MSG_PUBLIC_KEY, o);
    ck_assert_int_eq(receive(&c, NULL, NULL, NULL), 200);
    ck_assert_uint_eq(c.msgs[0].type, ETSN_MSG_ENCRYPTED_SESSION_KEY);
    const char *sk = etsn_v_as_str(etsn_v_get(c.msgs[0].v, "EncryptedSessionKey"));
    ck_assert_msg(etsn_psrp_keys_accept_session_key(k, sk, err, sizeof err) == 0, "%s", err);
    clear_msgs(&c);

    c.timeout_ms = 2000;
    receive_until_done(&c, cid);
    ck_assert_uint_eq(c.n_msgs, 2);
    expect_secret(k, c.msgs[0].v, "hunter2");
    signal_cmd(&c, cid, ETSN_SIGNAL_TERMINATE);

    run_all(&c, "secret", false); /* the key is known: no second request */
    ck_assert_uint_eq(c.n_msgs, 2);
    expect_secret(k, c.msgs[0].v, "hunter2");
    run_all(&c, "secret", true);
    ck_assert_str_eq(host_arg(&c.msgs[0]), "System.Security.SecureString");
    etsn_psrp_keys_free(k);
    client_close(&c);
}
END_TEST

/* test_psrp_open_runspace and every 2.3 recording: APPLICATION_PRIVATE_DATA's
 * PSVersionTable of Windows PowerShell 5.1 holds PSVersion, PSEdition,
 * PSCompatibleVersions (1.0 ... 5.0 and the version), CLRVersion,
 * BuildVersion (10.0.<build>), WSManStackVersion, PSRemotingProtocolVersion,
 * SerializationVersion. */
START_TEST(test_application_private_data)
{
    client c;
    client_open(&c, fidelity_xml);
    create_shell(&c);
    receive_opened(&c);
    ck_assert_uint_eq(c.msgs[1].type, ETSN_MSG_APPLICATION_PRIVATE_DATA);
    const etsn_value *t =
        etsn_dict_get(etsn_v_get(c.msgs[1].v, "ApplicationPrivateData"), "PSVersionTable");
    ck_assert_ptr_nonnull(t);
    const etsn_value *compat = etsn_dict_get(t, "PSCompatibleVersions");
    ck_assert(compat && compat->n_items == 6);
    ck_assert_str_eq(etsn_v_as_str(compat->items[0]), "1.0");
    ck_assert_str_eq(etsn_v_as_str(compat->items[5]), "5.1.17763.592");
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(t, "CLRVersion")), "4.0.30319.42000");
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(t, "BuildVersion")), "10.0.17763.592");
    ck_assert_str_eq(etsn_v_as_str(etsn_dict_get(t, "PSRemotingProtocolVersion")), "2.3");
    client_close(&c);
}
END_TEST

/* test_psrp_with_jea_configuration: a JEA endpoint (NoLanguage) runs
 * commands but refuses script text: PIPELINE_STATE Failed with the
 * ParseException ScriptsNotAllowed (ParserError), no ERROR_RECORD. */
START_TEST(test_no_language_endpoint)
{
    const char *xml = "<scenario name='jea'><server language-mode='NoLanguage'/>"
                      "<user name='alice' password='pw'/>"
                      "<pipeline command='Get-Item -Path WSMan:\\localhost\\Service'>"
                      "<output>x</output></pipeline></scenario>";
    client c;
    open_pool(&c, xml);
    etsn_value *path = etsn_v_string("WSMan:\\localhost\\Service");
    etsn_command_arg arg = {"Path", path};
    etsn_command cmd = {.text = "Get-Item", .args = &arg, .n_args = 1};
    run_cmds(&c, &cmd, 1);
    ck_assert_uint_eq(c.n_msgs, 2);
    ck_assert_str_eq(etsn_v_as_str(c.msgs[0].v), "x");
    etsn_v_free(path);
    run_all(&c, "Get-Process", false);
    ck_assert_uint_eq(c.n_msgs, 1);
    ck_assert_int_eq(num(c.msgs[0].v, "PipelineState"), ETSN_PIPE_FAILED);
    etsn_error_record r;
    etsn_error_record_read(etsn_v_get(c.msgs[0].v, "ExceptionAsErrorRecord"), &r);
    ck_assert_str_eq(r.fqid, "ScriptsNotAllowed");
    ck_assert_int_eq(r.category, 17);
    client_close(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fidelity");
    TCase *tc = tcase_create("fidelity");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_set_runspaces);
    tcase_add_test(tc, test_reset_runspace_state);
    tcase_add_test(tc, test_get_config);
    tcase_add_test(tc, test_output_or_out_default);
    tcase_add_test(tc, test_error_semantics);
    tcase_add_test(tc, test_receive_shape);
    tcase_add_test(tc, test_command_metadata);
    tcase_add_test(tc, test_pipeline_input);
    tcase_add_test(tc, test_protocol_21_server);
    tcase_add_test(tc, test_record_and_host_call);
    tcase_add_test(tc, test_stream_invocation_info);
    tcase_add_test(tc, test_history);
    tcase_add_test(tc, test_application_arguments);
    tcase_add_test(tc, test_pipeline_text_and_out_string);
    tcase_add_test(tc, test_command_not_found_kinds);
    tcase_add_test(tc, test_error_record_shape);
    tcase_add_test(tc, test_merged_streams);
    tcase_add_test(tc, test_server_initiated_key_exchange);
    tcase_add_test(tc, test_application_private_data);
    tcase_add_test(tc, test_no_language_endpoint);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
