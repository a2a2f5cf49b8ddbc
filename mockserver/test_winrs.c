/* Unit tests for the WinRS cmd shell (winrs.c, winrs_fixture.c): fixture
 * loading, command lines, the texts Windows' programs write, code pages, and
 * whole conversations through mock_engine_handle with requests written the
 * way pywinrm and pypsrp write them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/core/buf.h"
#include "../ref/core/wsman.h"
#include "../ref/core/transcript.h"
#include "engine.h"
#include "fixture.h"
#include "replay.h"
#include "winrs.h"

#include <unistd.h>

static const char *fixture_xml =
    "<scenario name='w'>\n"
    "  <server computer='SRV'/>\n"
    "  <user name='CONTOSO\\alice' password='pw'/>\n"
    "  <winrs-command command='echo' arguments='hi'><stdout>hi\n</stdout></winrs-command>\n"
    "  <winrs-command command='fail  now'><stdout>out\n</stdout><stderr>err\n</stderr>"
    "<exit code='3'/></winrs-command>\n"
    "  <winrs-command command='echo café'><stdout>café\n</stdout></winrs-command>\n"
    "  <winrs-command powershell='Get-Item X'><ps-error><line>bad &lt;X&gt;</line>"
    "<line> </line></ps-error><exit code='1'/></winrs-command>\n"
    "  <winrs-command command='ping -t x'><stdout>a\n</stdout><wait-signal exit='7'/>"
    "<stdout>b\n</stdout></winrs-command>\n"
    "  <winrs-command command='slow'><sleep ms='400'/><stdout eol='lf'>z\n</stdout>"
    "</winrs-command>\n"
    "  <expect id='winrs-command:echo hi'/>\n"
    "</scenario>\n";

static int sink_buf(void *ctx, const void *data, size_t len)
{
    return etsn_buf_append(ctx, data, len);
}

static mock_fixture *load(const char *xml, char *err, size_t errlen)
{
    return mock_fixture_load_memory(xml, strlen(xml), "t.xml", err, errlen);
}

START_TEST(test_fixture_parse)
{
    char err[512] = "";
    mock_fixture *fx = load(fixture_xml, err, sizeof err);
    ck_assert_msg(fx != NULL, "%s", err);
    ck_assert_ptr_nonnull(fx->winrs);
    ck_assert_uint_eq(fx->winrs->n_commands, 6);
    const wx_command *c = &fx->winrs->commands[0];
    ck_assert_str_eq(c->command, "echo hi");
    ck_assert_str_eq(c->steps[0].text, "hi\r\n"); /* LF became CRLF */
    ck_assert_str_eq(fx->winrs->commands[1].command, "fail now");
    ck_assert_int_eq(fx->winrs->commands[1].steps[2].code, 3);
    ck_assert(fx->winrs->commands[3].powershell);
    ck_assert_str_eq(fx->winrs->commands[3].steps[0].text, "bad <X>\n ");
    ck_assert_int_eq(fx->winrs->commands[4].steps[1].code, 7);
    ck_assert_str_eq(fx->winrs->commands[5].steps[1].text, "z\n"); /* eol='lf' */
    mock_fixture_free(fx);
}
END_TEST

static void expect_error(const char *body, int line, const char *needle)
{
    char xml[2048], err[512] = "", prefix[32];
    snprintf(xml, sizeof xml, "<scenario name='s'>\n<user name='u' password='p'/>\n%s</scenario>",
             body);
    mock_fixture *fx = load(xml, err, sizeof err);
    ck_assert_msg(fx == NULL, "loaded: %s", body);
    snprintf(prefix, sizeof prefix, "t.xml:%d: ", line);
    ck_assert_msg(!strncmp(err, prefix, strlen(prefix)) && strstr(err, needle), "error '%s'", err);
}

START_TEST(test_fixture_errors)
{
    expect_error("<winrs-command/>\n", 3, "needs command= or powershell=");
    expect_error("<winrs-command command='a' powershell='b'/>\n", 3, "one of them");
    expect_error("<winrs-command command='a'>\n<exit/><stdout>x</stdout></winrs-command>\n", 4,
                 "nothing may follow <exit>");
    expect_error("<winrs-command command='a'>\n<blink/></winrs-command>\n", 4, "unknown element");
    expect_error("<winrs-command command='a'><stdout eol='cr'/></winrs-command>\n", 3,
                 "crlf or lf");
    expect_error("<winrs-command command='A b'/>\n<winrs-command command='a  B'/>\n", 4,
                 "defined twice");
    expect_error("<winrs-command command='a'><sleep ms='-1'/></winrs-command>\n", 3,
                 "a number from 0");
}
END_TEST

START_TEST(test_command_lines)
{
    char *l = mock_winrs_command_line("  cmd.exe ", "/c  echo   hi ");
    ck_assert_str_eq(l, "cmd.exe /c echo hi");
    free(l);
    /* pywinrm's run_ps: powershell -encodedcommand <base64 of UTF-16LE>. */
    char *s = mock_winrs_encoded_script("powershell -encodedcommand RwBlAHQALQBEAGEAdABlAA==");
    ck_assert_str_eq(s, "Get-Date");
    free(s);
    s = mock_winrs_encoded_script("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe "
                                  "-NoProfile -Enc RwBlAHQALQBEAGEAdABlAA==");
    ck_assert_str_eq(s, "Get-Date");
    free(s);
    s = mock_winrs_encoded_script("PowerShell.exe -e RwBlAHQALQBEAGEAdABlAA==");
    ck_assert_str_eq(s, "Get-Date");
    free(s);
    ck_assert_ptr_null(mock_winrs_encoded_script("cmd -encodedcommand RwBlAHQALQBEAGEAdABlAA=="));
    ck_assert_ptr_null(mock_winrs_encoded_script("powershell -Command Get-Date"));
    ck_assert_ptr_null(mock_winrs_encoded_script("powershell -encodedcommand !!"));
}
END_TEST

START_TEST(test_windows_texts)
{
    char *t = mock_winrs_not_recognized("cmd.exe /c frob --x");
    ck_assert_str_eq(t, "'frob' is not recognized as an internal or external command,\r\n"
                        "operable program or batch file.\r\n");
    free(t);
    t = mock_winrs_not_recognized("frob.exe");
    ck_assert(!strncmp(t, "'frob.exe' is not", 17));
    free(t);
    /* The wrap of pypsrp's recorded CommandNotFoundException for 'fake'. */
    t = mock_winrs_ps_not_found("fake cmdlet");
    ck_assert_str_eq(t,
                     "fake : The term 'fake' is not recognized as the name of a cmdlet, function, "
                     "script file, or operable program. Check \n"
                     "the spelling of the name, or if a path was included, verify that the path "
                     "is correct and try again.\n"
                     "At line:1 char:1\n+ fake cmdlet\n+ ~~~~\n"
                     "    + CategoryInfo          : ObjectNotFound: (fake:String) [], "
                     "CommandNotFoundException\n"
                     "    + FullyQualifiedErrorId : CommandNotFoundException\n ");
    free(t);
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(mock_winrs_clixml_errors("a<b\n ", &b), 0);
    ck_assert_str_eq((char *)b.data, "<S S=\"Error\">a&lt;b_x000D__x000A_</S>"
                                     "<S S=\"Error\"> _x000D__x000A_</S>");
    etsn_buf_free(&b);
}
END_TEST

START_TEST(test_code_pages)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(mock_winrs_encode(437, "café", strlen("café"), &b), 0);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_int_eq(b.data[3], 0x82);
    etsn_buf_reset(&b);
    /* A character OEM 437 lacks becomes '?'. */
    ck_assert_int_eq(mock_winrs_encode(437, "aこb", strlen("aこb"), &b), 0);
    ck_assert_str_eq((char *)b.data, "a?b");
    etsn_buf_reset(&b);
    ck_assert_int_eq(mock_winrs_encode(65001, "こ", strlen("こ"), &b), 0);
    ck_assert_uint_eq(b.len, 3);
    etsn_buf_reset(&b);
    ck_assert_int_eq(mock_winrs_encode(99999, "x", 1, &b), -1);
    ck_assert_str_eq((char *)b.data, "x");
    etsn_buf_free(&b);
}
END_TEST

/* ---- conversations through the engine ---- */

typedef struct {
    mock_fixture *fx;
    mock_engine *e;
    char shell[64];
} conv;

static void conv_open_xml(conv *c, const char *xml)
{
    char err[512] = "";
    c->fx = load(xml, err, sizeof err);
    ck_assert_msg(c->fx != NULL, "%s", err);
    c->e = mock_engine_new(c->fx);
    ck_assert_ptr_nonnull(c->e);
}

static void conv_open(conv *c)
{
    conv_open_xml(c, fixture_xml);
}

/* When set, send_req records every exchange (as etsn-mockd --record does). */
static etsn_transcript_writer *recording;

static void conv_close(conv *c)
{
    mock_engine_free(c->e);
    mock_fixture_free(c->fx);
}

/* A request as pywinrm writes it (namespace prefixes env/a/w/rsp). */
static int send_req(conv *c, const char *action, const char *headers, const char *body,
                    etsn_buf *out, etsn_wsman_msg *parsed)
{
    etsn_buf req = ETSN_BUF_INIT;
    etsn_buf_printf(
        &req,
        "<env:Envelope xmlns:env='http://www.w3.org/2003/05/soap-envelope' "
        "xmlns:a='http://schemas.xmlsoap.org/ws/2004/08/addressing' "
        "xmlns:w='http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd' "
        "xmlns:rsp='http://schemas.microsoft.com/wbem/wsman/1/windows/shell'><env:Header>"
        "<a:To>http://srv:5985/wsman</a:To><a:MessageID>uuid:11111111-2222-4333-8444-"
        "555555555555</a:MessageID><w:OperationTimeout>PT1S</w:OperationTimeout>"
        "<w:ResourceURI>" MOCK_WINRS_URI "</w:ResourceURI><a:Action>%s</a:Action>%s"
        "<w:SelectorSet><w:Selector Name='ShellId'>%s</w:Selector></w:SelectorSet>"
        "</env:Header><env:Body>%s</env:Body></env:Envelope>",
        action, headers ? headers : "", c->shell, body);
    etsn_buf_reset(out);
    int st = mock_engine_handle(c->e, 1, "CONTOSO\\alice", req.data, req.len, out);
    if (recording) {
        etsn_transcript_exchange x = {.conn = 1,
                                      .status = st,
                                      .request = req.data,
                                      .request_len = req.len,
                                      .response = out->data,
                                      .response_len = out->len};
        etsn_error e;
        ck_assert_int_eq(etsn_transcript_add(recording, &x, &e), 0);
    }
    etsn_buf_free(&req);
    char err[256] = "";
    memset(parsed, 0, sizeof *parsed);
    ck_assert_msg(etsn_wsman_parse(out->data, out->len, parsed, err, sizeof err) == 0, "%s", err);
    return st;
}

#define SHELL_NS "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
#define ACT_CMD SHELL_NS "/Command"
#define ACT_RECV SHELL_NS "/Receive"
#define ACT_SIG SHELL_NS "/Signal"

static void create(conv *c, const char *options)
{
    etsn_buf out = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    c->shell[0] = 0;
    int st = send_req(c, "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create", options,
                      "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
                      "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
                      "<rsp:WorkingDirectory>C:\\Temp</rsp:WorkingDirectory>"
                      "<rsp:Environment><rsp:Variable Name='A\\?'>1 &amp; 2</rsp:Variable>"
                      "</rsp:Environment></rsp:Shell>",
                      &out, &m);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(m.action, ETSN_WSMAN_CREATE_RESPONSE);
    snprintf(c->shell, sizeof c->shell, "%s", m.shell_id);
    const char *s = (const char *)out.data;
    /* WinRM's order of the rsp:Shell children. */
    const char *order[] = {"<rsp:ShellId>",
                           "<rsp:ResourceUri>",
                           "<rsp:Owner>CONTOSO",
                           "<rsp:Environment>",
                           "<rsp:WorkingDirectory>C:\\Temp",
                           "<rsp:IdleTimeOut>PT7200.000S",
                           "<rsp:InputStreams>stdin",
                           "<rsp:OutputStreams>stdout stderr",
                           "<rsp:ShellRunTime>P0DT0H0M0S",
                           "<rsp:ShellInactivity>P0DT0H0M0S"};
    const char *at = s;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *p = strstr(at, order[i]);
        ck_assert_msg(p != NULL, "missing or out of order: %s in %s", order[i], s);
        at = p;
    }
    ck_assert_ptr_nonnull(strstr(s, "<rsp:Variable Name=\"A?\">1 &amp; 2</rsp:Variable>"));
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&out);
}

static int command(conv *c, const char *cmd, const char *args, char *cid, size_t cidlen)
{
    char body[1024];
    snprintf(body, sizeof body,
             "<rsp:CommandLine><rsp:Command>%s</rsp:Command>%s%s%s</rsp:CommandLine>", cmd,
             args ? "<rsp:Arguments>" : "", args ? args : "", args ? "</rsp:Arguments>" : "");
    etsn_buf out = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    int st = send_req(c, ACT_CMD,
                      "<w:OptionSet><w:Option Name='WINRS_CONSOLEMODE_STDIN'>TRUE</w:Option>"
                      "<w:Option Name='WINRS_SKIP_CMD_SHELL'>FALSE</w:Option></w:OptionSet>",
                      body, &out, &m);
    if (st == 200) snprintf(cid, cidlen, "%s", m.command_id);
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&out);
    return st;
}

/* Extra headers for the next receive() (e.g. a small MaxEnvelopeSize). */
static const char *recv_headers;

/* One Receive: appends stdout/stderr, returns the HTTP status; *done and
 * *exit from the CommandState. */
static int receive(conv *c, const char *cid, etsn_buf *so, etsn_buf *se, bool *done, int64_t *ex)
{
    char body[256];
    snprintf(body, sizeof body,
             "<rsp:Receive><rsp:DesiredStream CommandId='%s'>stdout stderr</rsp:DesiredStream>"
             "</rsp:Receive>",
             cid);
    etsn_buf out = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    int st = send_req(c, ACT_RECV, recv_headers, body, &out, &m);
    if (recv_headers) ck_assert_uint_le(out.len, 8192); /* the MaxEnvelopeSize it set */
    *done = m.command_state && !strcmp(m.command_state, ETSN_COMMAND_STATE_DONE);
    *ex = m.exit_code;
    size_t ends = 0;
    for (size_t i = 0; i < m.n_streams; i++) {
        ck_assert_str_eq(m.streams[i].command_id, cid);
        etsn_buf_append(strcmp(m.streams[i].name, "stderr") ? so : se, m.streams[i].data,
                        m.streams[i].len);
        ends += m.streams[i].end;
    }
    if (*done) ck_assert_uint_eq(ends, 2); /* empty End="true" stdout and stderr */
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&out);
    return st;
}

static void signal_cmd(conv *c, const char *cid, const char *code)
{
    char body[512];
    snprintf(body, sizeof body,
             "<rsp:Signal CommandId='%s'><rsp:Code>" SHELL_NS "/signal/%s</rsp:Code></rsp:Signal>",
             cid, code);
    etsn_buf out = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    ck_assert_int_eq(send_req(c, ACT_SIG, NULL, body, &out, &m), 200);
    ck_assert_int_eq(m.action, ETSN_WSMAN_SIGNAL_RESPONSE);
    etsn_wsman_msg_free(&m);
    etsn_buf_free(&out);
}

START_TEST(test_conversation)
{
    conv c;
    conv_open(&c);
    create(&c, "<w:OptionSet><w:Option Name='WINRS_NOPROFILE'>FALSE</w:Option>"
               "<w:Option Name='WINRS_CODEPAGE'>437</w:Option></w:OptionSet>");
    char cid[64];
    ck_assert_int_eq(command(&c, "echo", "hi", cid, sizeof cid), 200);
    etsn_buf so = ETSN_BUF_INIT, se = ETSN_BUF_INIT;
    bool done;
    int64_t ex;
    ck_assert_int_eq(receive(&c, cid, &so, &se, &done, &ex), 200);
    ck_assert(done);
    ck_assert_int_eq(ex, 0);
    ck_assert_str_eq((char *)so.data, "hi\r\n");
    signal_cmd(&c, cid, "terminate");
    /* The terminated command is gone: WinRM's invalid-selectors fault. */
    etsn_buf out = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    char body[256];
    snprintf(body, sizeof body,
             "<rsp:Receive><rsp:DesiredStream CommandId='%s'>stdout stderr</rsp:DesiredStream>"
             "</rsp:Receive>",
             cid);
    ck_assert_int_eq(send_req(&c, ACT_RECV, NULL, body, &out, &m), 500);
    ck_assert_str_eq(m.fault_subcode, "w:InvalidSelectors");
    ck_assert_uint_eq(m.wsman_fault_code, 2150858843u);
    ck_assert_str_eq(m.wsman_fault_machine, "srv"); /* the host the request's To names */
    ck_assert_ptr_nonnull(strstr(m.wsman_fault_message, "command identifier that does not exist"));
    ck_assert_ptr_nonnull(strstr((char *)out.data, "faultDetail/UnexpectedSelectors"));
    etsn_wsman_msg_free(&m);
    /* Exit code, stderr, code page 437. */
    ck_assert_int_eq(command(&c, "fail", "now", cid, sizeof cid), 200);
    etsn_buf_reset(&so);
    ck_assert_int_eq(receive(&c, cid, &so, &se, &done, &ex), 200);
    ck_assert(done);
    ck_assert_int_eq(ex, 3);
    ck_assert_str_eq((char *)se.data, "err\r\n");
    ck_assert_int_eq(command(&c, "echo café", NULL, cid, sizeof cid), 200);
    etsn_buf_reset(&so);
    receive(&c, cid, &so, &se, &done, &ex);
    ck_assert_mem_eq(so.data, "caf\x82\r\n", 6);
    /* Delete, then the shell is unknown. */
    ck_assert_int_eq(
        send_req(&c, "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete", NULL, "", &out, &m),
        200);
    ck_assert_int_eq(m.action, ETSN_WSMAN_DELETE_RESPONSE);
    etsn_wsman_msg_free(&m);
    ck_assert_int_eq(command(&c, "echo", "hi", cid, sizeof cid), 500);
    char d[256];
    ck_assert(mock_engine_expectation_met(c.e, "winrs-command:echo hi", d, sizeof d));
    ck_assert(mock_engine_expectation_met(c.e, "winrs-shell-deleted", d, sizeof d));
    ck_assert(mock_engine_expectation_met(c.e, "winrs-signal-terminate", d, sizeof d));
    ck_assert(mock_engine_expectation_met(c.e, "winrs-codepage:437", d, sizeof d));
    ck_assert(!mock_engine_expectation_met(c.e, "winrs-codepage:65001", d, sizeof d));
    ck_assert(!mock_engine_expectation_met(c.e, "winrs-signal-ctrl-c", d, sizeof d));
    /* The bad CommandId and the Command on the deleted shell. */
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 2);
    etsn_buf_free(&out);
    etsn_buf_free(&so);
    etsn_buf_free(&se);
    conv_close(&c);
}
END_TEST

START_TEST(test_unknown_and_powershell)
{
    conv c;
    conv_open(&c);
    create(&c, "<w:OptionSet><w:Option Name='WINRS_CODEPAGE'>65001</w:Option></w:OptionSet>");
    char cid[64];
    ck_assert_int_eq(command(&c, "frob", "--x", cid, sizeof cid), 200);
    etsn_buf so = ETSN_BUF_INIT, se = ETSN_BUF_INIT;
    bool done;
    int64_t ex;
    receive(&c, cid, &so, &se, &done, &ex);
    ck_assert(done);
    ck_assert_int_eq(ex, 1);
    ck_assert(!strncmp((char *)se.data, "'frob' is not recognized", 24));
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 1);
    /* "Get-Item X" as UTF-16LE base64: the fixture's CLIXML error. */
    ck_assert_int_eq(command(&c, "powershell -encodedcommand RwBlAHQALQBJAHQAZQBtACAAWAA=", NULL,
                             cid, sizeof cid),
                     200);
    etsn_buf_reset(&se);
    receive(&c, cid, &so, &se, &done, &ex);
    ck_assert(done);
    ck_assert_int_eq(ex, 1);
    ck_assert_str_eq((char *)se.data, "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" "
                                      "xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">"
                                      "<S S=\"Error\">bad &lt;X&gt;_x000D__x000A_</S>"
                                      "<S S=\"Error\"> _x000D__x000A_</S></Objs>");
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 1);
    etsn_buf_free(&so);
    etsn_buf_free(&se);
    conv_close(&c);
}
END_TEST

START_TEST(test_signal_and_timeout)
{
    conv c;
    conv_open(&c);
    create(&c, NULL);
    char cid[64];
    ck_assert_int_eq(command(&c, "ping", "-t x", cid, sizeof cid), 200);
    etsn_buf so = ETSN_BUF_INIT, se = ETSN_BUF_INIT;
    bool done;
    int64_t ex;
    ck_assert_int_eq(receive(&c, cid, &so, &se, &done, &ex), 200);
    ck_assert(!done); /* CommandState Running */
    ck_assert_str_eq((char *)so.data, "a\r\n");
    /* Nothing more until Ctrl+C: the Receive times out (PT1S). */
    ck_assert_int_eq(receive(&c, cid, &so, &se, &done, &ex), 500);
    signal_cmd(&c, cid, "ctrl_c");
    etsn_buf_reset(&so);
    ck_assert_int_eq(receive(&c, cid, &so, &se, &done, &ex), 200);
    ck_assert(done);
    ck_assert_int_eq(ex, 7);
    ck_assert_str_eq((char *)so.data, "b\r\n");
    /* A sleep shorter than the timeout: the Receive waits for it. */
    ck_assert_int_eq(command(&c, "slow", NULL, cid, sizeof cid), 200);
    etsn_buf_reset(&so);
    ck_assert_int_eq(receive(&c, cid, &so, &se, &done, &ex), 200);
    ck_assert_str_eq((char *)so.data, "z\n");
    char d[256];
    ck_assert(mock_engine_expectation_met(c.e, "winrs-signal-ctrl-c", d, sizeof d));
    ck_assert(mock_engine_expectation_met(c.e, "winrs-codepage:437", d, sizeof d)); /* default */
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 0);
    etsn_buf_free(&so);
    etsn_buf_free(&se);
    conv_close(&c);
}
END_TEST

/* Output longer than one envelope: split over Receives (Running, then
 * Done), each reply within the client's MaxEnvelopeSize. */
START_TEST(test_large_output)
{
    etsn_buf xml = ETSN_BUF_INIT;
    etsn_buf_append_str(&xml, "<scenario name='big'><user name='u' password='p'/>"
                              "<winrs-command command='type big.txt'><stdout eol='lf'>");
    for (int i = 0; i < 30000; i++) etsn_buf_append_byte(&xml, (uint8_t)('a' + i % 26));
    etsn_buf_append_str(&xml, "</stdout></winrs-command></scenario>");
    char err[512] = "";
    conv c;
    c.fx = mock_fixture_load_memory((char *)xml.data, xml.len, "big.xml", err, sizeof err);
    ck_assert_msg(c.fx != NULL, "%s", err);
    c.e = mock_engine_new(c.fx);
    c.shell[0] = 0;
    etsn_buf out = ETSN_BUF_INIT;
    etsn_wsman_msg m;
    ck_assert_int_eq(send_req(&c, "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create", NULL,
                              "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams></rsp:Shell>",
                              &out, &m),
                     200);
    snprintf(c.shell, sizeof c.shell, "%s", m.shell_id);
    etsn_wsman_msg_free(&m);
    char cid[64];
    ck_assert_int_eq(command(&c, "type", "big.txt", cid, sizeof cid), 200);
    recv_headers = "<w:MaxEnvelopeSize>8192</w:MaxEnvelopeSize>";
    etsn_buf so = ETSN_BUF_INIT, se = ETSN_BUF_INIT;
    bool done = false;
    int64_t ex;
    int receives = 0;
    while (!done && receives < 100) {
        ck_assert_int_eq(receive(&c, cid, &so, &se, &done, &ex), 200);
        receives++;
    }
    recv_headers = NULL;
    ck_assert_int_ge(receives, 5);
    ck_assert_uint_eq(so.len, 30000);
    ck_assert_int_eq(so.data[29999], 'a' + 29999 % 26);
    etsn_buf_free(&so);
    etsn_buf_free(&se);
    etsn_buf_free(&out);
    etsn_buf_free(&xml);
    conv_close(&c);
}
END_TEST

/* run= and encoding="base64" (what a replayed recording uses). */
START_TEST(test_runs_and_raw_bytes)
{
    conv c;
    conv_open_xml(&c, "<scenario name='r'><user name='CONTOSO\\alice' password='pw'/>"
                      "<winrs-command command='x' run='1'><stdout encoding='base64'>gg0K</stdout>"
                      "</winrs-command><winrs-command command='x' run='2'><stdout>two\n</stdout>"
                      "<exit code='2'/></winrs-command></scenario>");
    create(&c, "<w:OptionSet><w:Option Name='WINRS_CODEPAGE'>65001</w:Option></w:OptionSet>");
    char cid[64];
    etsn_buf so = ETSN_BUF_INIT, se = ETSN_BUF_INIT;
    bool done;
    int64_t ex;
    ck_assert_int_eq(command(&c, "x", NULL, cid, sizeof cid), 200);
    receive(&c, cid, &so, &se, &done, &ex);
    ck_assert(done);
    ck_assert_int_eq(ex, 0);
    ck_assert_uint_eq(so.len, 3);
    ck_assert_mem_eq(so.data, "\x82\r\n", 3); /* as given, not re-encoded in UTF-8 */
    for (int i = 0; i < 2; i++) {             /* the second run, and a third gets the last run= */
        etsn_buf_reset(&so);
        ck_assert_int_eq(command(&c, "X", NULL, cid, sizeof cid), 200);
        receive(&c, cid, &so, &se, &done, &ex);
        ck_assert_int_eq(ex, 2);
        ck_assert_str_eq((char *)so.data, "two\r\n");
    }
    etsn_buf_free(&so);
    etsn_buf_free(&se);
    conv_close(&c);
    expect_error("<winrs-command command='a' run='2'/>\n<winrs-command command='A' run='2'/>\n", 4,
                 "defined twice");
    expect_error("<winrs-command command='a'><stdout encoding='base64'>@@</stdout>"
                 "</winrs-command>\n",
                 3, "no valid base64");
    expect_error("<winrs-command command='a' run='0'/>\n", 3, "run=");
}
END_TEST

/* A WinRS conversation recorded into a transcript, replayed by the engine
 * from mock_replay_load: same bytes and exit codes, Nth run, Ctrl+C, the
 * live ids, and a command the recording lacks as a near-miss with a diff. */
static char *record_conversation(void)
{
    char path[] = "/tmp/test_winrs.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    etsn_buf t = ETSN_BUF_INIT;
    etsn_transcript_meta meta = {.source = "etsn-mockd --record", .sealed = true, .scrub = true};
    etsn_error e;
    recording = etsn_transcript_writer_new(&meta, sink_buf, &t, &e);
    ck_assert_ptr_nonnull(recording);
    conv c;
    conv_open(&c);
    create(&c, "<w:OptionSet><w:Option Name='WINRS_CODEPAGE'>437</w:Option></w:OptionSet>");
    char cid[64];
    etsn_buf so = ETSN_BUF_INIT, se = ETSN_BUF_INIT;
    bool done;
    int64_t ex;
    const char *lines[][2] = {{"echo", "hi"}, {"fail", "now"}, {"echo café", NULL}};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(command(&c, lines[i][0], lines[i][1], cid, sizeof cid), 200);
        receive(&c, cid, &so, &se, &done, &ex);
        signal_cmd(&c, cid, "terminate");
    }
    ck_assert_int_eq(command(&c, "ping", "-t x", cid, sizeof cid), 200);
    receive(&c, cid, &so, &se, &done, &ex);
    signal_cmd(&c, cid, "ctrl_c");
    receive(&c, cid, &so, &se, &done, &ex);
    ck_assert(done);
    conv_close(&c);
    ck_assert_int_eq(etsn_transcript_finish(recording, &e), 0);
    etsn_transcript_writer_free(recording);
    recording = NULL;
    ck_assert_int_eq(write(fd, t.data, t.len), (ssize_t)t.len);
    close(fd);
    etsn_buf_free(&t);
    etsn_buf_free(&so);
    etsn_buf_free(&se);
    return strdup(path);
}

START_TEST(test_record_and_replay)
{
    char *path = record_conversation();
    etsn_buf xml = ETSN_BUF_INIT;
    char err[512] = "";
    ck_assert_msg(mock_replay_scenario(path, NULL, &xml, err, sizeof err) == 0, "%s", err);
    const char *x = (const char *)xml.data;
    ck_assert_ptr_nonnull(strstr(x, "<winrs-command command=\"echo hi\" run=\"1\">\n"
                                    "    <stdout encoding=\"base64\">aGkNCg==</stdout>\n"
                                    "    <exit code=\"0\"/>"));
    ck_assert_ptr_nonnull(strstr(x, "<stdout encoding=\"base64\">Y2Fmgg0K</stdout>")); /* CP437 */
    ck_assert_ptr_nonnull(strstr(x, "<wait-signal/>\n    <stdout encoding=\"base64\">Yg0K"));
    ck_assert_ptr_nonnull(strstr(x, "<exit code=\"7\"/>"));
    ck_assert_ptr_nonnull(strstr(x, "<expect id=\"winrs-codepage:437\""));
    ck_assert_ptr_nonnull(strstr(x, "<expect id=\"winrs-command:ping -t x\""));
    ck_assert_ptr_nonnull(strstr(x, "<expect id=\"winrs-signal-ctrl-c\""));
    ck_assert_ptr_nonnull(strstr(x, "<expect id=\"no-unmatched\""));
    etsn_buf_free(&xml);

    conv c;
    c.fx = mock_replay_load(path, NULL, err, sizeof err);
    ck_assert_msg(c.fx != NULL, "%s", err);
    c.e = mock_engine_new(c.fx);
    create(&c, "<w:OptionSet><w:Option Name='WINRS_CODEPAGE'>437</w:Option></w:OptionSet>");
    char cid[64];
    etsn_buf so = ETSN_BUF_INIT, se = ETSN_BUF_INIT;
    bool done;
    int64_t ex;
    ck_assert_int_eq(command(&c, "fail", "now", cid, sizeof cid), 200);
    receive(&c, cid, &so, &se, &done, &ex);
    ck_assert(done);
    ck_assert_int_eq(ex, 3);
    ck_assert_str_eq((char *)so.data, "out\r\n");
    ck_assert_str_eq((char *)se.data, "err\r\n");
    etsn_buf_reset(&so);
    ck_assert_int_eq(command(&c, "echo café", NULL, cid, sizeof cid), 200);
    receive(&c, cid, &so, &se, &done, &ex);
    ck_assert_uint_eq(so.len, 6);
    ck_assert_mem_eq(so.data, "caf\x82\r\n", 6);
    /* Ctrl+C: nothing more until the signal, then the rest and exit 7. */
    etsn_buf_reset(&so);
    ck_assert_int_eq(command(&c, "ping", "-t  x", cid, sizeof cid), 200);
    receive(&c, cid, &so, &se, &done, &ex);
    ck_assert(!done);
    ck_assert_str_eq((char *)so.data, "a\r\n");
    signal_cmd(&c, cid, "ctrl_c");
    receive(&c, cid, &so, &se, &done, &ex);
    ck_assert(done);
    ck_assert_int_eq(ex, 7);
    ck_assert_str_eq((char *)so.data, "a\r\nb\r\n");
    char d[512];
    ck_assert(mock_engine_expectation_met(c.e, "winrs-signal-ctrl-c", d, sizeof d));
    ck_assert(!mock_engine_expectation_met(c.e, "winrs-command:echo hi", d, sizeof d));
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 0);
    /* A near-miss: cmd.exe's answer, reported with the nearest and a diff. */
    ck_assert_int_eq(command(&c, "echo", "hj", cid, sizeof cid), 200);
    ck_assert_uint_eq(mock_engine_unmatched_count(c.e), 1);
    etsn_buf rep = ETSN_BUF_INIT;
    ck_assert_int_eq(mock_engine_report_json(c.e, &rep), 0);
    ck_assert_msg(strstr((char *)rep.data, "\"echo hi\"") &&
                      strstr((char *)rep.data, "line 1 column 7: -echo hi +echo hj"),
                  "%s", (char *)rep.data);
    etsn_buf_free(&rep);
    etsn_buf_free(&so);
    etsn_buf_free(&se);
    conv_close(&c);
    unlink(path);
    free(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("winrs");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_fixture_parse);
    tcase_add_test(tc, test_fixture_errors);
    tcase_add_test(tc, test_command_lines);
    tcase_add_test(tc, test_windows_texts);
    tcase_add_test(tc, test_code_pages);
    tcase_add_test(tc, test_conversation);
    tcase_add_test(tc, test_unknown_and_powershell);
    tcase_add_test(tc, test_signal_and_timeout);
    tcase_add_test(tc, test_large_output);
    tcase_add_test(tc, test_runs_and_raw_bytes);
    tcase_add_test(tc, test_record_and_replay);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
