/* Unit tests for replay.c and what it relies on in fixture.c and engine.c:
 * a transcript written with the transcript writer (synthetic exchanges, as
 * etsn would record them) becomes a scenario with run-numbered pipelines,
 * host calls with the recorded answers, Ctrl+C as <wait-signal/>, pool
 * answers and recorded replies; the engine then plays it by run and reports
 * a command the recording lacks as a near-miss with a diff. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ref/core/buf.h"
#include "../ref/core/clixml.h"
#include "../ref/core/fragment.h"
#include "../ref/core/message.h"
#include "../ref/core/psrp_msgs.h"
#include "../ref/core/transcript.h"
#include "../ref/core/wsman.h"
#include "engine.h"
#include "fixture.h"
#include "replay.h"

#define SHELL "4A8013C9-7387-4239-842A-B290AC4DA47B"
#define URI "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
#define GET_URI "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"

static int sink_buf(void *ctx, const void *data, size_t len)
{
    return etsn_buf_append(ctx, data, len);
}

static etsn_wsman_header hdr(const char *shell)
{
    etsn_wsman_header h = {.to = "http://s:5985/wsman",
                           .resource_uri = URI,
                           .message_id = "uuid:11111111-1111-1111-1111-111111111111",
                           .shell_id = shell,
                           .max_envelope_size = 153600,
                           .operation_timeout_ms = 20000,
                           .locale = "en-US",
                           .data_locale = "en-US"};
    return h;
}

/* Fragments of one message with this PID; the body from a CLIXML value. */
static void frag(etsn_buf *out, uint32_t dest, uint32_t type, const char *pid, etsn_value *v)
{
    etsn_buf xml = ETSN_BUF_INIT, msg = ETSN_BUF_INIT;
    etsn_guid r, p;
    ck_assert(etsn_guid_parse(SHELL, &r) && etsn_guid_parse(pid, &p));
    ck_assert_int_eq(etsn_clixml_write(v, &xml), 0);
    ck_assert_int_eq(etsn_message_encode(&msg, dest, type, &r, &p, (const char *)xml.data, xml.len),
                     0);
    ck_assert_int_gt(etsn_fragment_message(out, 1, msg.data, msg.len, 32768), 0);
    etsn_v_free(v);
    etsn_buf_free(&xml);
    etsn_buf_free(&msg);
}

static void add(etsn_transcript_writer *w, etsn_buf *req, etsn_buf *rsp, int status)
{
    etsn_transcript_exchange x = {.conn = 1,
                                  .status = status,
                                  .request = req->data,
                                  .request_len = req->len,
                                  .response = rsp->data,
                                  .response_len = rsp->len};
    etsn_error err;
    ck_assert_int_eq(etsn_transcript_add(w, &x, &err), 0);
    etsn_buf_reset(req);
    etsn_buf_reset(rsp);
}

/* A command run: Command with CREATE_PIPELINE, then a Receive answered
 * with the given server messages (fragments in `server`). */
static void command(etsn_transcript_writer *w, const char *pid, const char *text, etsn_buf *server)
{
    etsn_buf a = ETSN_BUF_INIT, req = ETSN_BUF_INIT, rsp = ETSN_BUF_INIT;
    etsn_command cmd = {.text = text, .is_script = true};
    etsn_host_info host = {0};
    frag(&a, ETSN_DEST_SERVER, ETSN_MSG_CREATE_PIPELINE, pid,
         etsn_msg_create_pipeline(&cmd, 1, false, &host));
    etsn_wsman_header h = hdr(SHELL);
    ck_assert_int_eq(etsn_wsman_build_command(&req, &h, pid, a.data, a.len), 0);
    ck_assert_int_eq(etsn_wsman_build_command_response(&rsp, "uuid:1", pid), 0);
    add(w, &req, &rsp, 200);
    ck_assert_int_eq(etsn_wsman_build_receive(&req, &h, pid, "stdout", 0), 0);
    etsn_wsman_stream st = {
        .name = "stdout", .command_id = (char *)pid, .data = server->data, .len = server->len};
    ck_assert_int_eq(
        etsn_wsman_build_receive_response(&rsp, "uuid:2", &st, 1, pid, ETSN_COMMAND_STATE_DONE), 0);
    add(w, &req, &rsp, 200);
    etsn_buf_reset(server);
    etsn_buf_free(&a);
    etsn_buf_free(&req);
    etsn_buf_free(&rsp);
}

static etsn_value *host_call_value(int64_t ci, int method, const char *arg)
{
    etsn_value *mp = NULL;
    if (arg) {
        static const char *const t[] = {"System.Collections.ArrayList", "System.Object", NULL};
        mp = etsn_v_typed(t, ETSN_COLL_LST);
        etsn_obj_push_item(mp, etsn_v_string(arg));
    }
    return etsn_msg_host_call(ci, method, mp);
}

#define P1 "11111111-0000-0000-0000-000000000001"
#define P2 "11111111-0000-0000-0000-000000000002"
#define P3 "11111111-0000-0000-0000-000000000003"
#define P4 "11111111-0000-0000-0000-000000000004"

/* prompt twice (different answers), Read-Host answered bob, a command
 * stopped with Ctrl+C, a WS-Transfer Get the engine does not model. */
static char *write_transcript(void)
{
    char path[] = "/tmp/test_replay.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    etsn_buf out = ETSN_BUF_INIT, s = ETSN_BUF_INIT, req = ETSN_BUF_INIT, rsp = ETSN_BUF_INIT;
    etsn_transcript_meta meta = {.source = "test", .scrub = true};
    etsn_error err;
    etsn_transcript_writer *w = etsn_transcript_writer_new(&meta, sink_buf, &out, &err);
    ck_assert_ptr_nonnull(w);
    frag(&s, ETSN_DEST_CLIENT, ETSN_MSG_PIPELINE_OUTPUT, P1, etsn_v_string("PS C:\\> "));
    frag(&s, ETSN_DEST_CLIENT, ETSN_MSG_PIPELINE_STATE, P1, etsn_msg_pipeline_state(4, NULL));
    command(w, P1, "prompt", &s);
    frag(&s, ETSN_DEST_CLIENT, ETSN_MSG_PIPELINE_HOST_CALL, P2, host_call_value(1, 11, NULL));
    command(w, P2, "Read-Host", &s);
    /* The answer, then the rest. */
    frag(&s, ETSN_DEST_SERVER, ETSN_MSG_PIPELINE_HOST_RESPONSE, P2,
         etsn_msg_host_response(1, 11, etsn_v_string("bob"), NULL));
    etsn_wsman_header h = hdr(SHELL);
    ck_assert_int_eq(etsn_wsman_build_send(&req, &h, P2, "pr", s.data, s.len), 0);
    ck_assert_int_eq(etsn_wsman_build_send_response(&rsp, "uuid:3"), 0);
    add(w, &req, &rsp, 200);
    etsn_buf_reset(&s);
    frag(&s, ETSN_DEST_CLIENT, ETSN_MSG_PIPELINE_HOST_CALL, P2, host_call_value(-100, 16, "bob"));
    frag(&s, ETSN_DEST_CLIENT, ETSN_MSG_PIPELINE_STATE, P2, etsn_msg_pipeline_state(4, NULL));
    etsn_wsman_stream st = {.name = "stdout", .command_id = P2, .data = s.data, .len = s.len};
    ck_assert_int_eq(etsn_wsman_build_receive(&req, &h, P2, "stdout", 0), 0);
    ck_assert_int_eq(etsn_wsman_build_receive_response(&rsp, "uuid:4", &st, 1, P2, NULL), 0);
    add(w, &req, &rsp, 200);
    etsn_buf_reset(&s);
    frag(&s, ETSN_DEST_CLIENT, ETSN_MSG_PIPELINE_OUTPUT, P3, etsn_v_string("PS D:\\> "));
    frag(&s, ETSN_DEST_CLIENT, ETSN_MSG_PIPELINE_STATE, P3, etsn_msg_pipeline_state(4, NULL));
    command(w, P3, "prompt", &s);
    /* Start-Sleep: Ctrl+C, then Stopped. */
    command(w, P4, "Start-Sleep 60", &s);
    ck_assert_int_eq(etsn_wsman_build_signal(&req, &h, P4, ETSN_SIGNAL_CTRL_C), 0);
    ck_assert_int_eq(etsn_wsman_build_signal_response(&rsp, "uuid:5"), 0);
    add(w, &req, &rsp, 200);
    frag(&s, ETSN_DEST_CLIENT, ETSN_MSG_PIPELINE_STATE, P4, etsn_msg_pipeline_state(3, NULL));
    st = (etsn_wsman_stream){.name = "stdout", .command_id = P4, .data = s.data, .len = s.len};
    ck_assert_int_eq(etsn_wsman_build_receive(&req, &h, P4, "stdout", 0), 0);
    ck_assert_int_eq(etsn_wsman_build_receive_response(&rsp, "uuid:6", &st, 1, P4, NULL), 0);
    add(w, &req, &rsp, 200);
    /* A Get (pypsrp's is_alive). */
    etsn_buf_printf(&req, "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' "
                          "xmlns:a='http://schemas.xmlsoap.org/ws/2004/08/addressing' "
                          "xmlns:w='http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd'><s:Header>"
                          "<a:Action>" GET_URI "</a:Action><a:MessageID>uuid:OLD-ID</a:MessageID>"
                          "<w:ResourceURI>" URI "</w:ResourceURI><w:SelectorSet><w:Selector "
                          "Name='ShellId'>" SHELL "</w:Selector></w:SelectorSet></s:Header>"
                          "<s:Body/></s:Envelope>");
    etsn_buf_printf(&rsp, "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' "
                          "xmlns:a='http://schemas.xmlsoap.org/ws/2004/08/addressing'><s:Header>"
                          "<a:RelatesTo>uuid:OLD-ID</a:RelatesTo></s:Header><s:Body><State "
                          "Shell='" SHELL "'>Connected</State></s:Body></s:Envelope>");
    add(w, &req, &rsp, 200);
    ck_assert_int_eq(etsn_transcript_finish(w, &err), 0);
    etsn_transcript_writer_free(w);
    ck_assert_int_eq(write(fd, out.data, out.len), (ssize_t)out.len);
    close(fd);
    etsn_buf_free(&out);
    etsn_buf_free(&s);
    etsn_buf_free(&req);
    etsn_buf_free(&rsp);
    return strdup(path);
}

START_TEST(test_scenario_from_transcript)
{
    char *path = write_transcript();
    etsn_buf xml = ETSN_BUF_INIT;
    char err[512] = "";
    ck_assert_msg(mock_replay_scenario(path, NULL, &xml, err, sizeof err) == 0, "%s", err);
    const char *x = (const char *)xml.data;
    ck_assert_ptr_nonnull(strstr(x, "strict-commands=\"true\""));
    ck_assert_ptr_nonnull(strstr(x, "<pipeline run=\"1\">\n    <command>prompt</command>\n"
                                    "    <message type=\"PIPELINE_OUTPUT\"><S>PS C:\\&gt; </S>"));
    ck_assert_ptr_nonnull(strstr(x, "<pipeline run=\"2\">\n    <command>prompt</command>\n"
                                    "    <message type=\"PIPELINE_OUTPUT\"><S>PS D:\\&gt; </S>"));
    ck_assert_ptr_nonnull(
        strstr(x, "<host-call method=\"ReadLine\" id=\"h1-ReadLine\" expect=\"bob\">"));
    ck_assert_ptr_nonnull(strstr(x, "<host-call method=\"WriteLine2\"><S>bob</S></host-call>"));
    /* Ctrl+C: wait-signal, and the recorded Stopped left to the engine. */
    const char *sleep = strstr(x, "<command>Start-Sleep 60</command>");
    ck_assert_ptr_nonnull(sleep);
    ck_assert_ptr_nonnull(strstr(sleep, "<wait-signal/>\n  </pipeline>"));
    ck_assert_ptr_nonnull(strstr(x, "<reply action=\"" GET_URI "\" status=\"200\" "
                                    "relates-to=\"uuid:OLD-ID\" shell-id=\"" SHELL "\">"));
    ck_assert_ptr_nonnull(strstr(x, "<expect id=\"host-response:h1-ReadLine\""));
    ck_assert_ptr_nonnull(strstr(x, "<expect id=\"signal-ctrl-c\""));
    ck_assert_ptr_nonnull(strstr(x, "<expect id=\"pipeline:Read-Host\""));
    /* It loads as a fixture. */
    mock_fixture *fx = mock_replay_load(path, NULL, err, sizeof err);
    ck_assert_msg(fx != NULL, "%s", err);
    ck_assert(fx->strict_commands);
    ck_assert_uint_eq(fx->n_replies, 1);
    const fx_pipeline *first = mock_fixture_find_pipeline(fx, "PROMPT");
    ck_assert_ptr_nonnull(first);
    ck_assert_uint_eq(mock_fixture_pipeline_run(fx, first, 1)->run, 1);
    ck_assert_uint_eq(mock_fixture_pipeline_run(fx, first, 2)->run, 2);
    ck_assert_uint_eq(mock_fixture_pipeline_run(fx, first, 7)->run, 2); /* the last */
    mock_fixture_free(fx);
    etsn_buf_free(&xml);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_recorded_reply_ids)
{
    fx_reply r = {.action = GET_URI,
                  .status = 500,
                  .relates_to = "uuid:OLD",
                  .shell_id = "AAAA",
                  .envelope = "<x><r>uuid:old</r><s>aaaa</s><s>AAAA</s></x>"};
    etsn_buf out = ETSN_BUF_INIT;
    ck_assert_int_eq(mock_replay_reply(&r, "uuid:NEW", "BBBB", &out), 500);
    ck_assert_str_eq((const char *)out.data, "<x><r>uuid:NEW</r><s>BBBB</s><s>BBBB</s></x>");
    r.status = 0; /* the recorded connection failed: no response */
    r.envelope = "";
    ck_assert_int_eq(mock_replay_reply(&r, "uuid:NEW", NULL, &out), 500);
    ck_assert_ptr_nonnull(strstr((const char *)out.data, "w:TimedOut"));
    ck_assert_ptr_nonnull(strstr((const char *)out.data, "uuid:NEW"));
    etsn_buf_free(&out);
}
END_TEST

START_TEST(test_text_diff)
{
    etsn_buf d = ETSN_BUF_INIT;
    mock_text_diff("Get-Date", "Get-Dat", &d);
    ck_assert_str_eq((const char *)d.data,
                     "line 1 column 8: -Get-Date +Get-Dat (recorded 'e', got '' from there)");
    etsn_buf_reset(&d);
    mock_text_diff("if ($x) {\r\n  a\r\n}", "IF ($x) {\n  b\n}", &d);
    ck_assert_str_eq((const char *)d.data, "line 2 column 3: -  a +  b (recorded 'a', got 'b' "
                                           "from there)");
    etsn_buf_free(&d);
}
END_TEST

START_TEST(test_fixture_runs_and_replies)
{
    char err[512] = "";
    const char *dup = "<scenario name='s'><pipeline command='a' run='1'/>"
                      "<pipeline command='A' run='1'/></scenario>";
    ck_assert_ptr_null(mock_fixture_load_memory(dup, strlen(dup), "t.xml", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "defined twice"));
    const char *mix = "<scenario name='s'><pipeline command='a'/>"
                      "<pipeline command='a' run='2'/></scenario>";
    ck_assert_ptr_null(mock_fixture_load_memory(mix, strlen(mix), "t.xml", err, sizeof err));
    const char *bad = "<scenario name='s'><reply status='200'/></scenario>";
    ck_assert_ptr_null(mock_fixture_load_memory(bad, strlen(bad), "t.xml", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "<reply> needs action="));
    const char *ok = "<scenario name='s' strict-commands='true'><user name='u' password='p'/>"
                     "<pipeline command='a' run='2'/><pipeline command='a' run='1'/>"
                     "<reply action='urn:x' status='500'><e>x</e></reply></scenario>";
    mock_fixture *fx = mock_fixture_load_memory(ok, strlen(ok), "t.xml", err, sizeof err);
    ck_assert_msg(fx != NULL, "%s", err);
    const fx_pipeline *first = mock_fixture_find_pipeline(fx, "a");
    ck_assert_uint_eq(mock_fixture_pipeline_run(fx, first, 1)->run, 1);
    ck_assert_uint_eq(mock_fixture_pipeline_run(fx, first, 2)->run, 2);
    ck_assert_str_eq(fx->replies[0].envelope, "<e>x</e>");
    ck_assert_int_eq(fx->replies[0].status, 500);
    mock_fixture_free(fx);
}
END_TEST

/* ---- the engine playing a replayed scenario ---- */

typedef struct {
    mock_engine *e;
    etsn_guid rpid;
    char shell[37];
    etsn_defrag *d;
    char texts[8][64];
    size_t n_texts;
    int64_t pending_ci;
} live;

static int on_msg(void *ctx, uint64_t oid, const uint8_t *data, size_t len)
{
    live *l = ctx;
    etsn_message m;
    (void)oid;
    ck_assert_int_eq(etsn_message_decode(data, len, &m), 0);
    char why[128];
    etsn_value *v = etsn_clixml_parse((const char *)m.data, m.len, NULL, why, sizeof why);
    if (m.type == ETSN_MSG_PIPELINE_OUTPUT && v && etsn_v_as_str(v) && l->n_texts < 8)
        snprintf(l->texts[l->n_texts++], 64, "%s", etsn_v_as_str(v));
    if (m.type == ETSN_MSG_PIPELINE_HOST_CALL && v)
        etsn_v_as_i64(etsn_v_get(v, "ci"), &l->pending_ci);
    etsn_v_free(v);
    return 0;
}

static int post(live *l, etsn_buf *req, etsn_wsman_msg *r)
{
    etsn_buf out = ETSN_BUF_INIT;
    int status = mock_engine_handle(l->e, 1, "CONTOSO\\alice", req->data, req->len, &out);
    char err[200];
    ck_assert_int_eq(etsn_wsman_parse(out.data, out.len, r, err, sizeof err), 0);
    etsn_buf_free(&out);
    etsn_buf_reset(req);
    return status;
}

/* Runs text and Receives until Done, collecting output strings. */
static void run(live *l, const char *pid, const char *text)
{
    etsn_buf a = ETSN_BUF_INIT, req = ETSN_BUF_INIT;
    etsn_command cmd = {.text = text, .is_script = true};
    etsn_host_info host = {0};
    etsn_guid p;
    ck_assert(etsn_guid_parse(pid, &p));
    etsn_buf xml = ETSN_BUF_INIT, msg = ETSN_BUF_INIT;
    etsn_value *v = etsn_msg_create_pipeline(&cmd, 1, false, &host);
    etsn_clixml_write(v, &xml);
    etsn_v_free(v);
    etsn_message_encode(&msg, ETSN_DEST_SERVER, ETSN_MSG_CREATE_PIPELINE, &l->rpid, &p,
                        (const char *)xml.data, xml.len);
    etsn_fragment_message(&a, 9, msg.data, msg.len, 32768);
    etsn_wsman_header h = hdr(l->shell);
    etsn_wsman_build_command(&req, &h, pid, a.data, a.len);
    etsn_wsman_msg r;
    ck_assert_int_eq(post(l, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    bool done = false;
    for (int i = 0; i < 20 && !done; i++) {
        etsn_wsman_build_receive(&req, &h, pid, "stdout", 0);
        ck_assert_int_eq(post(l, &req, &r), 200);
        for (size_t j = 0; j < r.n_streams; j++)
            etsn_defrag_feed(l->d, r.streams[j].data, r.streams[j].len, on_msg, l, NULL, 0);
        done = r.command_state && !strcmp(r.command_state, ETSN_COMMAND_STATE_DONE);
        etsn_wsman_msg_free(&r);
    }
    ck_assert(done);
    etsn_buf_free(&req);
    etsn_buf_free(&a);
    etsn_buf_free(&xml);
    etsn_buf_free(&msg);
}

START_TEST(test_engine_plays_replay)
{
    char *path = write_transcript();
    char err[512] = "";
    mock_fixture *fx = mock_replay_load(path, NULL, err, sizeof err);
    ck_assert_msg(fx != NULL, "%s", err);
    live l = {0};
    l.e = mock_engine_new(fx);
    l.d = etsn_defrag_new(1 << 20, 4);
    ck_assert_int_eq(etsn_guid_random(&l.rpid), 0); /* the live client's own ids */
    etsn_guid_format(&l.rpid, l.shell, true);
    /* Create with SESSION_CAPABILITY + INIT_RUNSPACEPOOL. */
    etsn_buf a = ETSN_BUF_INIT, req = ETSN_BUF_INIT, xml = ETSN_BUF_INIT, msg = ETSN_BUF_INIT;
    etsn_host_info host = {0};
    etsn_value *vs[2] = {etsn_msg_session_capability("2.3"),
                         etsn_msg_init_runspacepool(1, 1, &host)};
    uint32_t types[2] = {ETSN_MSG_SESSION_CAPABILITY, ETSN_MSG_INIT_RUNSPACEPOOL};
    for (int i = 0; i < 2; i++) {
        etsn_buf_reset(&xml);
        etsn_buf_reset(&msg);
        etsn_clixml_write(vs[i], &xml);
        etsn_v_free(vs[i]);
        etsn_message_encode(&msg, ETSN_DEST_SERVER, types[i], &l.rpid, &(etsn_guid){0},
                            (const char *)xml.data, xml.len);
        etsn_fragment_message(&a, (uint64_t)i + 1, msg.data, msg.len, 32768);
    }
    etsn_wsman_header h = hdr(NULL);
    etsn_wsman_build_create(&req, &h, l.shell, "2.3", false, a.data, a.len);
    etsn_wsman_msg r;
    ck_assert_int_eq(post(&l, &req, &r), 200);
    etsn_wsman_msg_free(&r);
    /* prompt answers as recorded, run by run; the last run repeats. */
    run(&l, P1, "prompt");
    run(&l, P3, "prompt");
    run(&l, "22222222-0000-0000-0000-000000000009", "prompt");
    ck_assert_uint_eq(l.n_texts, 3);
    ck_assert_str_eq(l.texts[0], "PS C:\\> ");
    ck_assert_str_eq(l.texts[1], "PS D:\\> ");
    ck_assert_str_eq(l.texts[2], "PS D:\\> ");
    ck_assert_uint_eq(mock_engine_unmatched_count(l.e), 0);
    /* A command the recording lacks: a near-miss with the nearest and a diff. */
    run(&l, P4, "promp");
    ck_assert_uint_eq(mock_engine_unmatched_count(l.e), 1);
    etsn_buf rep = ETSN_BUF_INIT;
    mock_engine_report_json(l.e, &rep);
    ck_assert_ptr_nonnull(strstr((const char *)rep.data, "\"nearest\": \"prompt\""));
    ck_assert_ptr_nonnull(strstr((const char *)rep.data, "line 1 column 6: -prompt +promp"));
    /* The Get is answered from the recording with the live ids. */
    etsn_buf_printf(&req,
                    "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' "
                    "xmlns:a='http://schemas.xmlsoap.org/ws/2004/08/addressing' "
                    "xmlns:w='http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd'><s:Header>"
                    "<a:Action>" GET_URI "</a:Action><a:MessageID>uuid:LIVE</a:MessageID>"
                    "<w:SelectorSet><w:Selector Name='ShellId'>%s</w:Selector></w:SelectorSet>"
                    "</s:Header><s:Body/></s:Envelope>",
                    l.shell);
    etsn_buf out = ETSN_BUF_INIT;
    ck_assert_int_eq(mock_engine_handle(l.e, 1, "u", req.data, req.len, &out), 200);
    ck_assert_ptr_nonnull(strstr((const char *)out.data, "RelatesTo>uuid:LIVE<"));
    ck_assert_ptr_nonnull(strstr((const char *)out.data, l.shell));
    etsn_buf_free(&out);
    etsn_buf_free(&rep);
    etsn_buf_free(&a);
    etsn_buf_free(&req);
    etsn_buf_free(&xml);
    etsn_buf_free(&msg);
    etsn_defrag_free(l.d);
    mock_engine_shutdown(l.e);
    mock_engine_free(l.e);
    mock_fixture_free(fx);
    unlink(path);
    free(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_scenario_from_transcript);
    tcase_add_test(tc, test_recorded_reply_ids);
    tcase_add_test(tc, test_text_diff);
    tcase_add_test(tc, test_fixture_runs_and_replies);
    tcase_add_test(tc, test_engine_plays_replay);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
