/* Unit tests for wsman.c: every builder is parsed back, hand-written envelopes
 * in the shapes WinRM and pypsrp produce are parsed, and hostile input must
 * fail cleanly (run under valgrind to catch leaks on error paths). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsman.h"

#define SHELL_URI "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
#define SHELL_ID "0E5E2A4B-1C33-4D7E-9F00-5A6B7C8D9E0F"
#define CMD_ID "7D1B0C2A-3E4F-4A5B-8C6D-7E8F9A0B1C2D"
#define MSG_ID "uuid:11111111-2222-4333-8444-555555555555"

static const etsn_wsman_header hdr_shell = {
    .to = "http://server01:5985/wsman",
    .resource_uri = SHELL_URI,
    .message_id = MSG_ID,
    .shell_id = SHELL_ID,
    .max_envelope_size = 512000,
    .operation_timeout_ms = 180000,
    .locale = "en-US",
    .data_locale = "en-GB",
};

static int parse_buf(const etsn_buf *b, etsn_wsman_msg *m, char *err, size_t errlen)
{
    return etsn_wsman_parse(b->data, b->len, m, err, errlen);
}

static int parse_str(const char *s, etsn_wsman_msg *m)
{
    char err[256];
    return etsn_wsman_parse((const uint8_t *)s, strlen(s), m, err, sizeof err);
}

/* Parses s and expects failure with some reason. */
static void expect_reject(const char *s, size_t len)
{
    etsn_wsman_msg m;
    char err[256] = "";
    ck_assert_int_eq(etsn_wsman_parse((const uint8_t *)s, len, &m, err, sizeof err), -1);
    ck_assert_msg(err[0] != 0, "no reason given");
    ck_assert_ptr_null(m.action_uri);
    ck_assert_ptr_null(m.streams);
}

static void check_common_header(const etsn_wsman_msg *m)
{
    ck_assert_str_eq(m->message_id, MSG_ID);
    ck_assert_str_eq(m->to, "http://server01:5985/wsman");
    ck_assert_str_eq(m->resource_uri, SHELL_URI);
    ck_assert_uint_eq(m->max_envelope_size, 512000);
    ck_assert_uint_eq(m->operation_timeout_ms, 180000);
    ck_assert(!m->operation_timeout_invalid);
    ck_assert_str_eq(m->locale, "en-US");
    ck_assert_str_eq(m->data_locale, "en-GB");
}

/* ---- builders, parsed back ---- */

START_TEST(build_create)
{
    etsn_buf b = ETSN_BUF_INIT;
    const uint8_t blob[] = {0, 1, 2, 0xff, 'x', 0x80, 7};
    etsn_wsman_header h = hdr_shell;
    h.shell_id = NULL;
    ck_assert_int_eq(etsn_wsman_build_create(&b, &h, SHELL_ID, "2.3", true, blob, sizeof blob), 0);
    const char *x = (const char *)b.data;
    /* The exact pieces a WinRM server insists on. */
    ck_assert_ptr_nonnull(strstr(x, "<w:ResourceURI s:mustUnderstand=\"true\">" SHELL_URI));
    ck_assert_ptr_nonnull(strstr(x, "<w:MaxEnvelopeSize s:mustUnderstand=\"true\">512000<"));
    ck_assert_ptr_nonnull(strstr(x, "<w:OperationTimeout>PT180.000S</w:OperationTimeout>"));
    ck_assert_ptr_nonnull(
        strstr(x, "<w:Option Name=\"protocolversion\" MustComply=\"true\">2.3</w:Option>"));
    ck_assert_ptr_nonnull(strstr(x, "<rsp:InputStreams>stdin pr</rsp:InputStreams>"));
    ck_assert_ptr_nonnull(
        strstr(x, "<creationXml xmlns=\"http://schemas.microsoft.com/powershell\">"));
    ck_assert_ptr_null(strstr(x, "SelectorSet"));

    etsn_wsman_msg m;
    char err[256];
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_CREATE);
    ck_assert_str_eq(m.action_uri, "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create");
    check_common_header(&m);
    ck_assert_str_eq(m.shell_id, SHELL_ID);
    ck_assert_str_eq(m.protocol_version, "2.3");
    ck_assert(m.no_profile);
    ck_assert_str_eq(m.input_streams, "stdin pr");
    ck_assert_str_eq(m.output_streams, "stdout");
    ck_assert_uint_eq(m.creation_xml.len, sizeof blob);
    ck_assert_mem_eq(m.creation_xml.data, blob, sizeof blob);
    etsn_wsman_msg_free(&m);

    /* Without options there is no OptionSet at all. */
    ck_assert_int_eq(etsn_wsman_build_create(&b, &h, SHELL_ID, NULL, false, blob, 1), 0);
    ck_assert_ptr_null(strstr((const char *)b.data, "OptionSet"));
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_ptr_null(m.protocol_version);
    ck_assert(!m.no_profile);
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(build_command)
{
    etsn_buf b = ETSN_BUF_INIT;
    const uint8_t args[] = "fragment bytes\x01\x02";
    ck_assert_int_eq(etsn_wsman_build_command(&b, &hdr_shell, CMD_ID, args, sizeof args), 0);
    ck_assert_ptr_nonnull(strstr((const char *)b.data, "<w:Selector Name=\"ShellId\">" SHELL_ID));
    etsn_wsman_msg m;
    char err[256];
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_COMMAND);
    check_common_header(&m);
    ck_assert_str_eq(m.shell_id, SHELL_ID);
    ck_assert_str_eq(m.command_id, CMD_ID);
    ck_assert_str_eq(m.command_line, "");
    ck_assert(!m.arguments_plain);
    ck_assert_uint_eq(m.arguments.len, sizeof args);
    ck_assert_mem_eq(m.arguments.data, args, sizeof args);
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(build_send)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(
        etsn_wsman_build_send(&b, &hdr_shell, CMD_ID, "stdin", (const uint8_t *)"ab", 2), 0);
    etsn_wsman_msg m;
    char err[256];
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_SEND);
    ck_assert_uint_eq(m.n_streams, 1);
    ck_assert_str_eq(m.streams[0].name, "stdin");
    ck_assert_str_eq(m.streams[0].command_id, CMD_ID);
    ck_assert_uint_eq(m.streams[0].len, 2);
    ck_assert_mem_eq(m.streams[0].data, "ab", 2);
    ck_assert(!m.streams[0].end);
    etsn_wsman_msg_free(&m);

    /* To the pool itself, on the priority stream. */
    ck_assert_int_eq(etsn_wsman_build_send(&b, &hdr_shell, NULL, "pr", (const uint8_t *)"xyz1", 4),
                     0);
    ck_assert_ptr_null(strstr((const char *)b.data, "CommandId"));
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_str_eq(m.streams[0].name, "pr");
    ck_assert_ptr_null(m.streams[0].command_id);
    ck_assert_mem_eq(m.streams[0].data, "xyz1", 4);
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(build_receive)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_wsman_build_receive(&b, &hdr_shell, CMD_ID, "stdout", 42), 0);
    ck_assert_ptr_nonnull(
        strstr((const char *)b.data, "<w:Option Name=\"WSMAN_CMDSHELL_OPTION_KEEPALIVE\">TRUE"));
    etsn_wsman_msg m;
    char err[256];
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_RECEIVE);
    check_common_header(&m);
    ck_assert_str_eq(m.desired_stream, "stdout");
    ck_assert_str_eq(m.command_id, CMD_ID);
    ck_assert_uint_eq(m.sequence_id, 42);
    ck_assert(m.keep_alive);
    etsn_wsman_msg_free(&m);

    ck_assert_int_eq(etsn_wsman_build_receive(&b, &hdr_shell, NULL, NULL, 0), 0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_ptr_null(m.command_id);
    ck_assert_str_eq(m.desired_stream, "stdout");
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(build_signal_delete)
{
    etsn_buf b = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    char err[256];
    ck_assert_int_eq(etsn_wsman_build_signal(&b, &hdr_shell, CMD_ID, ETSN_SIGNAL_CTRL_C), 0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_SIGNAL);
    ck_assert_str_eq(m.signal_code, "powershell/signal/crtl_c");
    ck_assert_str_eq(m.command_id, CMD_ID);
    etsn_wsman_msg_free(&m);

    ck_assert_int_eq(etsn_wsman_build_delete(&b, &hdr_shell), 0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_DELETE);
    ck_assert_str_eq(m.action_uri, "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete");
    ck_assert_str_eq(m.shell_id, SHELL_ID);
    check_common_header(&m);
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(build_escapes_and_ids)
{
    etsn_buf b = ETSN_BUF_INIT;
    etsn_wsman_header h = hdr_shell;
    h.shell_id = "a<b>&\"c'";
    h.message_id = "ABCDEF01-2345-4678-9ABC-DEF012345678"; /* bare GUID gets uuid: */
    h.operation_timeout_ms = 1500;
    ck_assert_int_eq(etsn_wsman_build_signal(&b, &h, "x&y", "<code>"), 0);
    etsn_wsman_msg m;
    char err[256];
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_str_eq(m.shell_id, "a<b>&\"c'");
    ck_assert_str_eq(m.command_id, "x&y");
    ck_assert_str_eq(m.signal_code, "<code>");
    ck_assert_str_eq(m.message_id, "uuid:ABCDEF01-2345-4678-9ABC-DEF012345678");
    ck_assert_uint_eq(m.operation_timeout_ms, 1500);
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(build_bad_arguments)
{
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_append_str(&b, "stale");
    etsn_wsman_header h = hdr_shell;
    h.shell_id = NULL;
    ck_assert_int_eq(etsn_wsman_build_delete(&b, &h), -1);
    ck_assert_uint_eq(b.len, 0);
    h = hdr_shell;
    h.to = NULL;
    ck_assert_int_eq(etsn_wsman_build_receive(&b, &h, NULL, NULL, 0), -1);
    ck_assert_int_eq(etsn_wsman_build_signal(&b, &hdr_shell, CMD_ID, NULL), -1);
    ck_assert_int_eq(etsn_wsman_build_command(&b, &hdr_shell, NULL, NULL, 0), -1);
    ck_assert_int_eq(etsn_wsman_build_command(&b, &hdr_shell, CMD_ID, NULL, 3), -1);
    ck_assert_int_eq(etsn_wsman_build_create_response(&b, MSG_ID, NULL, SHELL_URI, SHELL_ID), -1);
    ck_assert_uint_eq(b.len, 0);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(build_responses)
{
    etsn_buf b = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    char err[256];

    ck_assert_int_eq(etsn_wsman_build_create_response(&b, MSG_ID, "http://server01:5985/wsman",
                                                      SHELL_URI, SHELL_ID),
                     0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_CREATE_RESPONSE);
    ck_assert_str_eq(m.relates_to, MSG_ID);
    ck_assert_str_eq(m.shell_id, SHELL_ID);
    ck_assert_str_eq(m.resource_uri, SHELL_URI);
    ck_assert_str_eq(m.epr_address, "http://server01:5985/wsman");
    ck_assert_str_eq(m.to, "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous");
    ck_assert_int_eq(strncmp(m.message_id, "uuid:", 5), 0);
    ck_assert_uint_eq(strlen(m.message_id), 41);
    etsn_wsman_msg_free(&m);

    ck_assert_int_eq(etsn_wsman_build_command_response(&b, MSG_ID, CMD_ID), 0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_COMMAND_RESPONSE);
    ck_assert_str_eq(m.command_id, CMD_ID);
    etsn_wsman_msg_free(&m);

    int (*simple[])(etsn_buf *, const char *) = {etsn_wsman_build_send_response,
                                                 etsn_wsman_build_signal_response,
                                                 etsn_wsman_build_delete_response};
    etsn_wsman_action want[] = {ETSN_WSMAN_SEND_RESPONSE, ETSN_WSMAN_SIGNAL_RESPONSE,
                                ETSN_WSMAN_DELETE_RESPONSE};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(simple[i](&b, MSG_ID), 0);
        ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
        ck_assert_int_eq(m.action, want[i]);
        ck_assert_str_eq(m.relates_to, MSG_ID);
        etsn_wsman_msg_free(&m);
    }
    etsn_buf_free(&b);
}
END_TEST

START_TEST(build_receive_response)
{
    etsn_buf b = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    char err[256];
    etsn_wsman_stream s[2] = {
        {.name = "stdout", .command_id = CMD_ID, .data = (uint8_t *)"\x00\x01hello", .len = 7},
        {.name = "stdout", .command_id = CMD_ID, .data = NULL, .len = 0, .end = true},
    };
    ck_assert_int_eq(
        etsn_wsman_build_receive_response(&b, MSG_ID, s, 2, CMD_ID, ETSN_COMMAND_STATE_DONE), 0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_RECEIVE_RESPONSE);
    ck_assert_uint_eq(m.n_streams, 2);
    ck_assert_mem_eq(m.streams[0].data, "\x00\x01hello", 7);
    ck_assert_uint_eq(m.streams[0].len, 7);
    ck_assert(!m.streams[0].end);
    ck_assert_uint_eq(m.streams[1].len, 0);
    ck_assert(m.streams[1].end);
    ck_assert_str_eq(m.streams[1].command_id, CMD_ID);
    ck_assert_str_eq(m.command_state, ETSN_COMMAND_STATE_DONE);
    ck_assert_str_eq(m.command_state_id, CMD_ID);
    ck_assert(m.has_exit_code);
    ck_assert_int_eq(m.exit_code, 0);
    etsn_wsman_msg_free(&m);

    /* Pool output: no CommandId anywhere, no CommandState. */
    etsn_wsman_stream pool = {.name = "stdout", .data = (uint8_t *)"p", .len = 1};
    ck_assert_int_eq(etsn_wsman_build_receive_response(&b, MSG_ID, &pool, 1, NULL, NULL), 0);
    ck_assert_ptr_null(strstr((const char *)b.data, "CommandId"));
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_ptr_null(m.command_state);
    ck_assert_ptr_null(m.streams[0].command_id);
    ck_assert(!m.has_exit_code);
    etsn_wsman_msg_free(&m);

    /* Running state carries no ExitCode. */
    ck_assert_int_eq(
        etsn_wsman_build_receive_response(&b, MSG_ID, NULL, 0, CMD_ID, ETSN_COMMAND_STATE_RUNNING),
        0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_str_eq(m.command_state, ETSN_COMMAND_STATE_RUNNING);
    ck_assert(!m.has_exit_code);
    etsn_wsman_msg_free(&m);

    /* The advertised overhead covers everything around one stream's payload,
     * even with long ids. */
    char longid[200];
    memset(longid, 'F', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    etsn_wsman_stream one = {.name = "stdout", .command_id = longid, .data = NULL, .len = 0};
    ck_assert_int_eq(
        etsn_wsman_build_receive_response(&b, longid, &one, 1, longid, ETSN_COMMAND_STATE_DONE), 0);
    ck_assert_uint_lt(b.len, ETSN_WSMAN_RECEIVE_OVERHEAD);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(build_fault)
{
    etsn_buf b = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    char err[256];
    const char *text = "The WS-Management service cannot complete the operation within the time "
                       "specified in OperationTimeout.  ";
    ck_assert_int_eq(etsn_wsman_build_fault(&b, MSG_ID, "s:Receiver", "w:TimedOut", 2150858793u,
                                            "host<1>", text),
                     0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_FAULT);
    ck_assert_str_eq(m.action_uri, "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault");
    ck_assert_str_eq(m.relates_to, MSG_ID);
    ck_assert_str_eq(m.fault_code, "s:Receiver");
    ck_assert_str_eq(m.fault_subcode, "w:TimedOut");
    ck_assert_str_eq(m.fault_reason, text);
    ck_assert_uint_eq(m.wsman_fault_code, 2150858793u);
    ck_assert_str_eq(m.wsman_fault_message, text);
    ck_assert_str_eq(m.wsman_fault_machine, "host<1>");
    etsn_wsman_msg_free(&m);

    /* Bare names get prefixes; an addressing subcode uses the addressing
     * fault action, as WinRM does for header errors. */
    ck_assert_int_eq(etsn_wsman_build_fault(&b, NULL, "Sender", "a:InvalidMessageInformationHeader",
                                            2150858767u, NULL, "bad header"),
                     0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_str_eq(m.action_uri, "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault");
    ck_assert_str_eq(m.fault_code, "s:Sender");
    ck_assert_str_eq(m.fault_subcode, "a:InvalidMessageInformationHeader");
    ck_assert_ptr_null(m.relates_to);
    ck_assert_ptr_null(m.wsman_fault_machine);
    etsn_wsman_msg_free(&m);

    ck_assert_int_eq(
        etsn_wsman_build_fault(&b, MSG_ID, "s:Sender", "AccessDenied", 5, "m", "Access is denied."),
        0);
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), 0);
    ck_assert_str_eq(m.fault_subcode, "w:AccessDenied");
    ck_assert_uint_eq(m.wsman_fault_code, 5);
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&b);
}
END_TEST

/* ---- hand-written envelopes in the shapes real peers send ---- */

#define ENV_OPEN_WIN                                                                               \
    "<s:Envelope xml:lang=\"en-US\" xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "          \
    "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "                                \
    "xmlns:x=\"http://schemas.xmlsoap.org/ws/2004/09/transfer\" "                                  \
    "xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" "                                  \
    "xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\" "                       \
    "xmlns:p=\"http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd\">"

START_TEST(parse_winrm_create_response)
{
    const char *x = ENV_OPEN_WIN
        "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse"
        "</a:Action><a:MessageID>uuid:AAAAAAAA-0000-0000-0000-000000000001</a:MessageID>"
        "<p:ActivityId>12345678-0000-0000-0000-000000000000</p:ActivityId>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        "<a:RelatesTo>" MSG_ID "</a:RelatesTo></s:Header><s:Body><x:ResourceCreated>"
        "<a:Address>https://host:5986/wsman</a:Address><a:ReferenceParameters>"
        "<w:ResourceURI>" SHELL_URI "</w:ResourceURI><w:SelectorSet>"
        "<w:Selector Name=\"ShellId\">" SHELL_ID "</w:Selector></w:SelectorSet>"
        "</a:ReferenceParameters></x:ResourceCreated>"
        "<rsp:Shell xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\">"
        "<rsp:ShellId>" SHELL_ID "</rsp:ShellId><rsp:ResourceUri>" SHELL_URI "</rsp:ResourceUri>"
        "<rsp:Owner>HOST\\user</rsp:Owner><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        "<rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout"
        "</rsp:OutputStreams><rsp:State>Connected</rsp:State></rsp:Shell></s:Body></s:Envelope>";
    etsn_wsman_msg m;
    ck_assert_int_eq(parse_str(x, &m), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_CREATE_RESPONSE);
    ck_assert_str_eq(m.shell_id, SHELL_ID);
    ck_assert_str_eq(m.relates_to, MSG_ID);
    ck_assert_str_eq(m.resource_uri, SHELL_URI);
    ck_assert_str_eq(m.epr_address, "https://host:5986/wsman");
    ck_assert_str_eq(m.input_streams, "stdin pr");
    etsn_wsman_msg_free(&m);
}
END_TEST

/* pypsrp's prefixes (wsa/wsman/wsmv), a Receive with PT20S, and a shell-level
 * Receive without CommandId. */
START_TEST(parse_pypsrp_style_request)
{
    const char *x =
        "<s:Envelope xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\" "
        "xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
        "xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "
        "xmlns:wsman=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" "
        "xmlns:wsmv=\"http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd\"><s:Header>"
        "<wsa:Action s:mustUnderstand=\"true\">"
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</wsa:Action>"
        "<wsmv:DataLocale s:mustUnderstand=\"false\" xml:lang=\"en-US\" />"
        "<wsman:Locale s:mustUnderstand=\"false\" xml:lang=\"en-US\" />"
        "<wsman:MaxEnvelopeSize s:mustUnderstand=\"true\">153600</wsman:MaxEnvelopeSize>"
        "<wsa:MessageID>" MSG_ID "</wsa:MessageID>"
        "<wsman:OperationTimeout>PT20S</wsman:OperationTimeout>"
        "<wsa:ReplyTo><wsa:Address s:mustUnderstand=\"true\">"
        "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address>"
        "</wsa:ReplyTo><wsman:ResourceURI s:mustUnderstand=\"true\">" SHELL_URI
        "</wsman:ResourceURI><wsmv:SessionId s:mustUnderstand=\"false\">uuid:X</wsmv:SessionId>"
        "<wsa:To>https://127.0.0.1:5986/wsman</wsa:To><wsman:OptionSet s:mustUnderstand=\"true\">"
        "<wsman:Option Name=\"WSMAN_CMDSHELL_OPTION_KEEPALIVE\">True</wsman:Option>"
        "</wsman:OptionSet><wsman:SelectorSet><wsman:Selector Name=\"ShellId\">" SHELL_ID
        "</wsman:Selector></wsman:SelectorSet></s:Header><s:Body><rsp:Receive>"
        "<rsp:DesiredStream>stdout</rsp:DesiredStream></rsp:Receive></s:Body></s:Envelope>";
    etsn_wsman_msg m;
    ck_assert_int_eq(parse_str(x, &m), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_RECEIVE);
    ck_assert_uint_eq(m.operation_timeout_ms, 20000);
    ck_assert_uint_eq(m.max_envelope_size, 153600);
    ck_assert_str_eq(m.locale, "en-US");
    ck_assert_str_eq(m.data_locale, "en-US");
    ck_assert_str_eq(m.shell_id, SHELL_ID);
    ck_assert_ptr_null(m.command_id);
    ck_assert_uint_eq(m.sequence_id, 0);
    ck_assert(m.keep_alive);
    etsn_wsman_msg_free(&m);
}
END_TEST

/* Default namespaces and odd prefixes instead of the usual ones: only the
 * namespace URIs matter. */
START_TEST(parse_any_prefix)
{
    const char *x =
        "<E:Envelope xmlns:E=\"http://www.w3.org/2003/05/soap-envelope\">"
        "<E:Header><Action xmlns=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\">"
        "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse</Action>"
        "<q:RelatesTo xmlns:q=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\">" MSG_ID
        "</q:RelatesTo><Unknown xmlns=\"urn:x\">ignored</Unknown></E:Header>"
        "<E:Body><ReceiveResponse "
        "xmlns=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\">"
        "<Stream Name=\"stdout\" CommandId=\"" CMD_ID "\">aGk=\n</Stream>"
        "<Stream Name=\"stdout\" CommandId=\"" CMD_ID "\" End=\"true\"></Stream>"
        "<CommandState CommandId=\"" CMD_ID "\" State=\"" ETSN_COMMAND_STATE_DONE "\">"
        "<ExitCode>-1</ExitCode></CommandState></ReceiveResponse></E:Body></E:Envelope>";
    etsn_wsman_msg m;
    ck_assert_int_eq(parse_str(x, &m), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_RECEIVE_RESPONSE);
    ck_assert_str_eq(m.relates_to, MSG_ID);
    ck_assert_uint_eq(m.n_streams, 2);
    ck_assert_uint_eq(m.streams[0].len, 2);
    ck_assert_mem_eq(m.streams[0].data, "hi", 2);
    ck_assert(m.streams[1].end);
    ck_assert(m.has_exit_code);
    ck_assert_int_eq(m.exit_code, -1);
    etsn_wsman_msg_free(&m);
}
END_TEST

/* WinRM's InvalidSelectors fault nests a ProviderFault and a second
 * WSManFault inside f:Message; also the fault prefixes are the peer's own. */
START_TEST(parse_nested_fault)
{
    const char *x =
        "<S:Envelope xmlns:S=\"http://www.w3.org/2003/05/soap-envelope\" "
        "xmlns:A=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "
        "xmlns:M=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\"><S:Header>"
        "<A:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault</A:Action>"
        "<A:RelatesTo>" MSG_ID "</A:RelatesTo></S:Header><S:Body><S:Fault><S:Code>"
        "<S:Value>S:Sender</S:Value><S:Subcode><S:Value>M:InvalidSelectors</S:Value>"
        "</S:Subcode></S:Code><S:Reason><S:Text xml:lang=\"en-US\">Bad selectors. </S:Text>"
        "</S:Reason><S:Detail><M:FaultDetail>http://x/UnexpectedSelectors</M:FaultDetail>"
        "<f:WSManFault xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault\" "
        "Code=\"2150858843\" Machine=\"10.0.0.1\"><f:Message><f:ProviderFault provider=\"Shell\" "
        "path=\"x.dll\"><f:WSManFault xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/"
        "wsmanfault\" Code=\"1\" Machine=\"10.0.0.1\"><f:Message>No such shell &amp; "
        "command.</f:Message></f:WSManFault></f:ProviderFault></f:Message></f:WSManFault>"
        "</S:Detail></S:Fault></S:Body></S:Envelope>";
    etsn_wsman_msg m;
    ck_assert_int_eq(parse_str(x, &m), 0);
    ck_assert_int_eq(m.action, ETSN_WSMAN_FAULT);
    ck_assert_str_eq(m.fault_code, "s:Sender");
    ck_assert_str_eq(m.fault_subcode, "w:InvalidSelectors");
    ck_assert_str_eq(m.fault_reason, "Bad selectors. ");
    ck_assert_uint_eq(m.wsman_fault_code, 2150858843u);
    ck_assert_str_eq(m.wsman_fault_message, "No such shell & command.");
    ck_assert_str_eq(m.wsman_fault_machine, "10.0.0.1");
    etsn_wsman_msg_free(&m);

    /* A ProviderFault holding text directly (winrscmd.dll faults). */
    const char *y =
        ENV_OPEN_WIN "<s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
                     "</a:Action></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Receiver"
                     "</s:Value><s:Subcode><s:Value>w:InternalError</s:Value></s:Subcode>"
                     "</s:Code><s:Reason><s:Text xml:lang=\"en-US\">Not found. </s:Text>"
                     "</s:Reason><s:Detail><f:WSManFault "
                     "xmlns:f=\"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault\" "
                     "Code=\"2147942402\" Machine=\"h\"><f:Message><f:ProviderFault "
                     "provider=\"p\" path=\"q\">Not found. </f:ProviderFault></f:Message>"
                     "</f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>";
    ck_assert_int_eq(parse_str(y, &m), 0);
    ck_assert_str_eq(m.fault_subcode, "w:InternalError");
    ck_assert_uint_eq(m.wsman_fault_code, 2147942402u);
    ck_assert_str_eq(m.wsman_fault_message, "Not found. ");
    etsn_wsman_msg_free(&m);
}
END_TEST

/* WinRM rejects PT-1S with a fault; the envelope must still parse so a server
 * can send that fault with the right RelatesTo. */
START_TEST(parse_invalid_timeout_and_plain_args)
{
    const char *x = ENV_OPEN_WIN
        "<s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command"
        "</a:Action><a:MessageID>" MSG_ID "</a:MessageID><w:OperationTimeout>PT-1S"
        "</w:OperationTimeout><w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/"
        "shell/cmd</w:ResourceURI><w:SelectorSet><w:Selector Name=\"ShellId\">" SHELL_ID
        "</w:Selector></w:SelectorSet></s:Header><s:Body><rsp:CommandLine CommandId=\"" CMD_ID
        "\"><rsp:Command>cmd.exe</rsp:Command><rsp:Arguments>/c</rsp:Arguments>"
        "<rsp:Arguments>echo hi</rsp:Arguments></rsp:CommandLine></s:Body></s:Envelope>";
    etsn_wsman_msg m;
    ck_assert_int_eq(parse_str(x, &m), 0);
    ck_assert(m.operation_timeout_invalid);
    ck_assert_uint_eq(m.operation_timeout_ms, 0);
    ck_assert(m.arguments_plain);
    ck_assert_str_eq(m.command_line, "cmd.exe");
    ck_assert_str_eq((const char *)m.arguments.data, "/c echo hi");
    etsn_wsman_msg_free(&m);
}
END_TEST

START_TEST(durations)
{
    static const struct {
        const char *s;
        int rc;
        uint32_t ms;
    } t[] = {
        {"PT180.000S", 0, 180000},
        {"PT20S", 0, 20000},
        {"PT0.5S", 0, 500},
        {"PT1.2345S", 0, 1234},
        {"PT3M", 0, 180000},
        {"PT1H2M3S", 0, 3723000},
        {"P1DT1S", 0, 86401000},
        {"P0DT0H0M0S", 0, 0},
        {"PT2147483.647S", 0, 2147483647},
        {"PT-1S", -1, 0},
        {"-PT1S", -1, 0},
        {"P1Y", -1, 0},
        {"P1M", -1, 0},
        {"PT", -1, 0},
        {"P", -1, 0},
        {"", -1, 0},
        {"PT1.S", -1, 0},
        {"PT1S2M", -1, 0},
        {"PT1", -1, 0},
        {"PT4294968S", -1, 0},
        {"PT1.5M", -1, 0},
        {"T1S", -1, 0},
        {"P1H", -1, 0},
        {"PT99999999999999999999S", -1, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint32_t ms = 77;
        int rc = etsn_wsman_parse_duration(t[i].s, &ms);
        ck_assert_msg(rc == t[i].rc, "%s: rc %d", t[i].s, rc);
        if (rc == 0) ck_assert_msg(ms == t[i].ms, "%s: %u ms", t[i].s, ms);
    }
}
END_TEST

/* ---- hostile input ---- */

START_TEST(reject_truncated)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(
        etsn_wsman_build_send(&b, &hdr_shell, CMD_ID, "stdin", (const uint8_t *)"payload", 7), 0);
    /* Every proper prefix of a well-formed envelope is incomplete XML. */
    for (size_t n = 0; n < b.len; n += (n < 64 || b.len - n < 64) ? 1 : 17)
        expect_reject((const char *)b.data, n);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(reject_huge)
{
    size_t n = ETSN_WSMAN_MAX_ENVELOPE + 1;
    char *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    memset(p, ' ', n);
    memcpy(p, "<s:Envelope", 11);
    expect_reject(p, n);
    free(p);
}
END_TEST

#define BODY_OK                                                                                    \
    "<s:Body><rsp:Receive><rsp:DesiredStream>stdout</rsp:DesiredStream></rsp:Receive></s:Body>"
#define HDR_RECEIVE                                                                                \
    "<s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"          \
    "</a:Action></s:Header>"

START_TEST(reject_malformed)
{
    const char *bad[] = {
        "",
        "not xml at all",
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"/>", /* no Body */
        /* SOAP 1.1 namespace */
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "
        "xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\">" HDR_RECEIVE BODY_OK
        "</s:Envelope>",
        /* right prefix bound to the wrong namespace for Action: no Action */
        ENV_OPEN_WIN "<s:Header><w:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
                     "Receive</w:Action></s:Header>" BODY_OK "</s:Envelope>",
        /* missing body element the action requires */
        ENV_OPEN_WIN HDR_RECEIVE "<s:Body/></s:Envelope>",
        ENV_OPEN_WIN HDR_RECEIVE "<s:Body><rsp:Receive/></s:Body></s:Envelope>",
        /* Body before Header, two Bodies */
        ENV_OPEN_WIN BODY_OK HDR_RECEIVE "</s:Envelope>",
        ENV_OPEN_WIN HDR_RECEIVE BODY_OK BODY_OK "</s:Envelope>",
        /* duplicate Action */
        ENV_OPEN_WIN "<s:Header><a:Action>x</a:Action><a:Action>y</a:Action></s:Header>" BODY_OK
                     "</s:Envelope>",
        /* bad base64 in a stream */
        ENV_OPEN_WIN "<s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
                     "Send</a:Action></s:Header><s:Body><rsp:Send><rsp:Stream Name=\"stdin\">Q==="
                     "</rsp:Stream></rsp:Send></s:Body></s:Envelope>",
        ENV_OPEN_WIN "<s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
                     "Send</a:Action></s:Header><s:Body><rsp:Send><rsp:Stream Name=\"stdin\">QQ=A"
                     "</rsp:Stream></rsp:Send></s:Body></s:Envelope>",
        ENV_OPEN_WIN "<s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
                     "Send</a:Action></s:Header><s:Body><rsp:Send><rsp:Stream Name=\"stdin\">a*bc"
                     "</rsp:Stream></rsp:Send></s:Body></s:Envelope>",
        /* stream without Name */
        ENV_OPEN_WIN "<s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
                     "Send</a:Action></s:Header><s:Body><rsp:Send><rsp:Stream>QQ=="
                     "</rsp:Stream></rsp:Send></s:Body></s:Envelope>",
        /* fault action without a fault */
        ENV_OPEN_WIN "<s:Header><a:Action>http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
                     "</a:Action></s:Header><s:Body/></s:Envelope>",
        /* bad numbers */
        ENV_OPEN_WIN "<s:Header><a:Action>a</a:Action><w:MaxEnvelopeSize>-5</w:MaxEnvelopeSize>"
                     "</s:Header><s:Body/></s:Envelope>",
        ENV_OPEN_WIN "<s:Header><a:Action>a</a:Action><w:MaxEnvelopeSize>4294967296"
                     "</w:MaxEnvelopeSize></s:Header><s:Body/></s:Envelope>",
        /* no Action and no fault */
        ENV_OPEN_WIN "<s:Header/><s:Body/></s:Envelope>",
        /* CreateResponse without any ShellId */
        ENV_OPEN_WIN "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/"
                     "CreateResponse</a:Action></s:Header><s:Body/></s:Envelope>",
        /* entity expansion and external entities: no DTD at all */
        "<!DOCTYPE s:Envelope [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;\">"
        "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]>" ENV_OPEN_WIN
        "<s:Header><a:Action>&c;</a:Action></s:Header><s:Body/></s:Envelope>",
        "<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" ENV_OPEN_WIN
        "<s:Header><a:Action>&x;</a:Action></s:Header><s:Body/></s:Envelope>",
        "<!DOCTYPE s:Envelope SYSTEM \"http://127.0.0.1:1/x.dtd\">" ENV_OPEN_WIN
        "<s:Header><a:Action>a</a:Action></s:Header><s:Body/></s:Envelope>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        etsn_wsman_msg m;
        char err[256] = "";
        int rc = etsn_wsman_parse((const uint8_t *)bad[i], strlen(bad[i]), &m, err, sizeof err);
        ck_assert_msg(rc == -1, "case %zu accepted", i);
        ck_assert_msg(err[0], "case %zu: no reason", i);
        if (getenv("WSMAN_TEST_VERBOSE")) fprintf(stderr, "case %zu: %s\n", i, err);
    }
    /* NULL input and a zero-sized error buffer are fine too. */
    etsn_wsman_msg m;
    ck_assert_int_eq(etsn_wsman_parse(NULL, 0, &m, NULL, 0), -1);
}
END_TEST

START_TEST(reject_deep_nesting)
{
    /* libxml2 refuses depth beyond its limit rather than recursing forever. */
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_append_str(&b, ENV_OPEN_WIN HDR_RECEIVE "<s:Body>");
    for (int i = 0; i < 100000; i++) etsn_buf_append_str(&b, "<a>");
    for (int i = 0; i < 100000; i++) etsn_buf_append_str(&b, "</a>");
    etsn_buf_append_str(&b, "</s:Body></s:Envelope>");
    etsn_wsman_msg m;
    char err[256];
    ck_assert_int_eq(parse_buf(&b, &m, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "malformed XML"));
    etsn_buf_free(&b);
}
END_TEST

START_TEST(free_is_idempotent)
{
    etsn_wsman_msg m;
    memset(&m, 0, sizeof m);
    etsn_wsman_msg_free(&m);
    etsn_wsman_msg_free(&m);
    etsn_wsman_msg_free(NULL);
}
END_TEST

static Suite *wsman_suite(void)
{
    Suite *s = suite_create("wsman");
    TCase *tc = tcase_create("build");
    tcase_add_test(tc, build_create);
    tcase_add_test(tc, build_command);
    tcase_add_test(tc, build_send);
    tcase_add_test(tc, build_receive);
    tcase_add_test(tc, build_signal_delete);
    tcase_add_test(tc, build_escapes_and_ids);
    tcase_add_test(tc, build_bad_arguments);
    tcase_add_test(tc, build_responses);
    tcase_add_test(tc, build_receive_response);
    tcase_add_test(tc, build_fault);
    suite_add_tcase(s, tc);
    tc = tcase_create("parse");
    tcase_add_test(tc, parse_winrm_create_response);
    tcase_add_test(tc, parse_pypsrp_style_request);
    tcase_add_test(tc, parse_any_prefix);
    tcase_add_test(tc, parse_nested_fault);
    tcase_add_test(tc, parse_invalid_timeout_and_plain_args);
    tcase_add_test(tc, durations);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reject_truncated);
    tcase_add_test(tc, reject_huge);
    tcase_add_test(tc, reject_malformed);
    tcase_add_test(tc, reject_deep_nesting);
    tcase_add_test(tc, free_is_idempotent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wsman_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
