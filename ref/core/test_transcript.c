/* Unit tests for transcripts (transcript.c, transcript_read.c): envelopes
 * are built with wsman.c and fragments with fragment.c, written through the
 * writer into memory, and checked as text and through the reader. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fragment.h"
#include "message.h"
#include "transcript.h"
#include "wsman.h"

#define SHELL "4A8013C9-7387-4239-842A-B290AC4DA47B"
#define CMD "FC8CF863-1D41-4202-AFD7-A82484D8F6D1"
#define SECRET "P@ssw0rd-for-tests"
#define PSRP_URI "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"

static int sink_buf(void *ctx, const void *data, size_t len)
{
    return etsn_buf_append(ctx, data, len);
}

static int sink_fail(void *ctx, const void *data, size_t len)
{
    (void)ctx, (void)data, (void)len;
    return -1;
}

static etsn_guid guid_of(const char *s)
{
    etsn_guid g;
    ck_assert(etsn_guid_parse(s, &g));
    return g;
}

/* One message as fragments of at most max bytes. */
static void fragments(etsn_buf *out, uint64_t oid, uint32_t dest, uint32_t type, const char *pid,
                      const char *xml, size_t max)
{
    etsn_buf m = ETSN_BUF_INIT;
    etsn_guid r = guid_of(SHELL), p = guid_of(pid);
    ck_assert_int_eq(etsn_message_encode(&m, dest, type, &r, &p, xml, strlen(xml)), 0);
    ck_assert_int_ge(etsn_fragment_message(out, oid, m.data, m.len, max), 1);
    etsn_buf_free(&m);
}

static const etsn_wsman_header hdr = {
    .to = "http://server01:5985/wsman",
    .resource_uri = PSRP_URI,
    .message_id = "uuid:11111111-2222-3333-4444-555555555555",
    .shell_id = SHELL,
    .max_envelope_size = 153600,
    .operation_timeout_ms = 20000,
    .locale = "en-US",
    .data_locale = "en-US",
};

#define ZERO "00000000-0000-0000-0000-000000000000"
#define CAP_XML "<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version></MS></Obj>"
#define SS_XML                                                                                     \
    "<Obj RefId=\"0\"><MS><SS N=\"pw\">c2VjcmV0IGJ5dGVz</SS><S N=\"u\">alice</S></MS></Obj>"
#define KEY_XML                                                                                    \
    "<Obj RefId=\"0\"><MS><S N=\"PublicKey\">BgIAAACkAABSU0ExAAgAAAEAAQ==</S></MS></Obj>"

/* A Create whose creationXml holds SESSION_CAPABILITY and PUBLIC_KEY. */
static void create_exchange(etsn_buf *req, etsn_buf *rsp)
{
    etsn_buf frags = ETSN_BUF_INIT;
    fragments(&frags, 1, ETSN_DEST_SERVER, ETSN_MSG_SESSION_CAPABILITY, ZERO, CAP_XML, 32768);
    fragments(&frags, 2, ETSN_DEST_SERVER, ETSN_MSG_PUBLIC_KEY, ZERO, KEY_XML, 32768);
    etsn_wsman_header h = hdr;
    h.shell_id = NULL;
    ck_assert_int_eq(etsn_wsman_build_create(req, &h, SHELL, "2.3", false, frags.data, frags.len),
                     0);
    ck_assert_int_eq(etsn_wsman_build_create_response(rsp, "uuid:1", h.to, PSRP_URI, SHELL), 0);
    etsn_buf_free(&frags);
}

/* A Receive answered with the given fragment bytes on stdout. */
static void receive_exchange(etsn_buf *req, etsn_buf *rsp, const uint8_t *data, size_t len)
{
    ck_assert_int_eq(etsn_wsman_build_receive(req, &hdr, CMD, "stdout", 0), 0);
    etsn_wsman_stream st = {
        .name = "stdout", .command_id = CMD, .data = (uint8_t *)data, .len = len};
    ck_assert_int_eq(
        etsn_wsman_build_receive_response(rsp, "uuid:2", &st, 1, CMD, ETSN_COMMAND_STATE_RUNNING),
        0);
}

static int add(etsn_transcript_writer *w, const etsn_buf *req, const etsn_buf *rsp, int status)
{
    etsn_transcript_exchange x = {.conn = 1,
                                  .start_ms = 1.5,
                                  .duration_ms = 2.25,
                                  .status = status,
                                  .request = req->data,
                                  .request_len = req->len,
                                  .response = rsp->data,
                                  .response_len = rsp->len};
    etsn_error err;
    return etsn_transcript_add(w, &x, &err);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* A session written with scrubbing: Create, a message split over two
 * Receives, a SecureString, a text body. Returns the transcript text. */
static char *write_session(bool scrub)
{
    etsn_buf out = ETSN_BUF_INIT, req = ETSN_BUF_INIT, rsp = ETSN_BUF_INIT;
    etsn_transcript_meta meta = {.source = "etsn --record",
                                 .endpoint = hdr.to,
                                 .auth = "Negotiate",
                                 .sealed = true,
                                 .scrub = scrub,
                                 .secret = SECRET};
    etsn_error err;
    etsn_transcript_writer *w = etsn_transcript_writer_new(&meta, sink_buf, &out, &err);
    ck_assert_ptr_nonnull(w);
    create_exchange(&req, &rsp);
    ck_assert_int_eq(add(w, &req, &rsp, 200), 0);

    /* PIPELINE_OUTPUT of ~300 bytes cut into 100-byte fragments, the first
     * two in one Receive, the rest in the next. */
    char big[400];
    snprintf(big, sizeof big, "<S>%0250d the password is " SECRET "</S>", 7);
    etsn_buf frags = ETSN_BUF_INIT;
    fragments(&frags, 5, ETSN_DEST_CLIENT, ETSN_MSG_PIPELINE_OUTPUT, CMD, big, 100);
    size_t cut = 2 * 100;
    receive_exchange(&req, &rsp, frags.data, cut);
    ck_assert_int_eq(add(w, &req, &rsp, 200), 0);
    receive_exchange(&req, &rsp, frags.data + cut, frags.len - cut);
    ck_assert_int_eq(add(w, &req, &rsp, 200), 0);

    /* A host response carrying a SecureString, sent on pr. */
    etsn_buf_reset(&frags);
    fragments(&frags, 3, ETSN_DEST_SERVER, ETSN_MSG_PIPELINE_HOST_RESPONSE, CMD, SS_XML, 32768);
    ck_assert_int_eq(etsn_wsman_build_send(&req, &hdr, CMD, "pr", frags.data, frags.len), 0);
    ck_assert_int_eq(etsn_wsman_build_send_response(&rsp, "uuid:3"), 0);
    ck_assert_int_eq(add(w, &req, &rsp, 200), 0);

    /* Not XML at all, and an empty response. */
    etsn_buf_reset(&req);
    etsn_buf_append_str(&req, "garbage <with> " SECRET " & more");
    etsn_buf_reset(&rsp);
    ck_assert_int_eq(add(w, &req, &rsp, 401), 0);
    ck_assert_int_eq(etsn_transcript_finish(w, &err), 0);
    etsn_transcript_writer_free(w);
    etsn_buf_free(&req);
    etsn_buf_free(&rsp);
    etsn_buf_free(&frags);
    return etsn_buf_steal(&out);
}

START_TEST(test_writer_layout)
{
    char *t = write_session(true);
    ck_assert_ptr_nonnull(strstr(t, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<transcript "
                                    "format=\"1\" source=\"etsn --record\""));
    ck_assert_ptr_nonnull(strstr(t, "auth=\"Negotiate\" sealed=\"true\" scrubbed=\"true\""));
    ck_assert_uint_eq(count(t, "<exchange n="), 5);
    ck_assert_ptr_nonnull(
        strstr(t, "<exchange n=\"1\" conn=\"1\" start-ms=\"1.500\" duration-ms=\"2.250\" "
                  "status=\"200\">"));
    /* creationXml decoded: two messages, no base64 left in it. */
    ck_assert_ptr_nonnull(strstr(t, "name=\"SESSION_CAPABILITY\""));
    ck_assert_ptr_nonnull(strstr(t, "<Version N=\"protocolversion\">2.3</Version>"));
    ck_assert_ptr_nonnull(strstr(t, "type=\"0x00010002\""));
    ck_assert_ptr_nonnull(strstr(t, "rpid=\"4a8013c9-7387-4239-842a-b290ac4da47b\""));
    ck_assert_ptr_nonnull(strstr(t, "destination=\"server\""));
    ck_assert_ptr_nonnull(strstr(t, "<etsn:fragment object-id=\"1\" fragment-id=\"0\" "
                                    "start=\"true\" end=\"true\" bytes="));
    /* The split PIPELINE_OUTPUT: 5 fragments, one message, in the 3rd exchange. */
    ck_assert_uint_eq(count(t, "object-id=\"5\""), 5);
    ck_assert_uint_eq(count(t, "name=\"PIPELINE_OUTPUT\""), 1);
    const char *third = strstr(t, "<exchange n=\"3\"");
    ck_assert_ptr_nonnull(third);
    ck_assert_ptr_nonnull(strstr(third, "name=\"PIPELINE_OUTPUT\""));
    ck_assert_ptr_nonnull(strstr(t, "<etsn:raw>garbage &lt;with&gt; SCRUBBED &amp; more"));
    ck_assert_ptr_nonnull(strstr(t, "<response/>"));
    ck_assert_ptr_nonnull(strstr(t, "status=\"401\""));
    ck_assert(strstr(t, "</transcript>\n") == t + strlen(t) - 14);
    free(t);
}
END_TEST

START_TEST(test_writer_scrubs)
{
    char *t = write_session(true);
    ck_assert_ptr_null(strstr(t, SECRET));
    ck_assert_ptr_null(strstr(t, "c2VjcmV0IGJ5dGVz"));             /* SecureString */
    ck_assert_ptr_null(strstr(t, "BgIAAACkAABSU0ExAAgAAAEAAQ==")); /* public key */
    ck_assert_ptr_nonnull(strstr(t, "<SS N=\"pw\">SCRUBBED</SS>"));
    ck_assert_ptr_nonnull(strstr(t, "<S N=\"PublicKey\">SCRUBBED</S>"));
    ck_assert_ptr_nonnull(strstr(t, "the password is SCRUBBED"));
    ck_assert_ptr_nonnull(strstr(t, "<S N=\"u\">alice</S>")); /* others untouched */
    free(t);
    t = write_session(false);
    ck_assert_ptr_nonnull(strstr(t, "scrubbed=\"false\""));
    ck_assert_ptr_nonnull(strstr(t, "c2VjcmV0IGJ5dGVz"));
    ck_assert_ptr_nonnull(strstr(t, "the password is " SECRET));
    free(t);
}
END_TEST

START_TEST(test_writer_plain_shell_and_bad_fragments)
{
    etsn_buf out = ETSN_BUF_INIT, req = ETSN_BUF_INIT, rsp = ETSN_BUF_INIT;
    etsn_transcript_meta meta = {.source = "t", .scrub = true};
    etsn_error err;
    etsn_transcript_writer *w = etsn_transcript_writer_new(&meta, sink_buf, &out, &err);
    ck_assert_ptr_nonnull(w);
    /* A cmd shell: its stdout is text. */
    etsn_wsman_header h = hdr;
    h.resource_uri = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd";
    ck_assert_int_eq(etsn_wsman_build_receive(&req, &h, CMD, "stdout", 0), 0);
    etsn_wsman_stream st = {
        .name = "stdout", .command_id = CMD, .data = (uint8_t *)"Volume in drive C\r\n", .len = 19};
    ck_assert_int_eq(etsn_wsman_build_receive_response(&rsp, "uuid:2", &st, 1, CMD, NULL), 0);
    ck_assert_int_eq(add(w, &req, &rsp, 200), 0);
    /* A PSRP stream whose bytes are not fragments: kept as base64, no crash. */
    ck_assert_int_eq(etsn_wsman_build_receive(&req, &hdr, CMD, "stdout", 0), 0);
    st.data = (uint8_t *)"\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x03"
                         "\xff\xff\xff\xff";
    st.len = 21;
    ck_assert_int_eq(etsn_wsman_build_receive_response(&rsp, "uuid:2", &st, 1, CMD, NULL), 0);
    ck_assert_int_eq(add(w, &req, &rsp, 200), 0);
    ck_assert_int_eq(etsn_transcript_finish(w, &err), 0);
    etsn_transcript_writer_free(w);
    etsn_buf_append_byte(&out, 0);
    const char *t = (const char *)out.data;
    ck_assert_ptr_nonnull(strstr(t, "<etsn:text xmlns:etsn=\"urn:etsn:transcript\" "
                                    "encoding=\"utf-8\">Volume in drive C&#13;\n</etsn:text>"));
    ck_assert_ptr_nonnull(strstr(t, "error="));
    ck_assert_ptr_nonnull(
        strstr(t, "<etsn:bytes encoding=\"base64\">AAAAAAAAAAEAAAAAAAAAAAP/////"));
    etsn_buf_free(&out);
    etsn_buf_free(&req);
    etsn_buf_free(&rsp);
}
END_TEST

START_TEST(test_writer_sink_failure)
{
    etsn_transcript_meta meta = {.source = "t", .scrub = true};
    etsn_error err;
    ck_assert_ptr_null(etsn_transcript_writer_new(&meta, sink_fail, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "could not be written"));
}
END_TEST

static etsn_transcript_reader *open_text(const char *t)
{
    etsn_error err;
    etsn_transcript_reader *r = etsn_transcript_reader_new_memory(t, strlen(t), &err);
    ck_assert_msg(r != NULL, "%s", err.message);
    return r;
}

START_TEST(test_reader_roundtrip)
{
    char *t = write_session(true);
    etsn_transcript_reader *r = open_text(t);
    const etsn_transcript_info *info = etsn_transcript_reader_info(r);
    ck_assert_int_eq(info->format, 1);
    ck_assert_str_eq(info->auth, "Negotiate");
    ck_assert(info->sealed && info->scrubbed);
    etsn_transcript_record *rec;
    etsn_error err;
    /* 1: Create with two client messages from creationXml. */
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 1);
    ck_assert(rec->has_request && rec->has_response);
    ck_assert_int_eq(rec->request.action, ETSN_WSMAN_CREATE);
    ck_assert_int_eq(rec->response.action, ETSN_WSMAN_CREATE_RESPONSE);
    ck_assert_uint_eq(rec->request.creation_xml.len, 0);
    ck_assert_uint_eq(rec->n_msgs, 2);
    ck_assert(rec->msgs[0].from_client);
    ck_assert_uint_eq(rec->msgs[0].type, ETSN_MSG_SESSION_CAPABILITY);
    ck_assert_uint_eq(rec->msgs[0].destination, ETSN_DEST_SERVER);
    ck_assert_str_eq(rec->msgs[0].stream, "creationXml");
    ck_assert_str_eq(rec->msgs[0].body, CAP_XML);
    etsn_guid shell = guid_of(SHELL);
    ck_assert(etsn_guid_equal(&rec->msgs[0].rpid, &shell));
    ck_assert_double_eq(rec->start_ms, 1.5);
    etsn_transcript_record_free(rec);
    /* 2: fragments only; 3: the completed output, on the command's stdout. */
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 1);
    ck_assert_uint_eq(rec->n_msgs, 0);
    ck_assert_int_eq(rec->request.action, ETSN_WSMAN_RECEIVE);
    etsn_transcript_record_free(rec);
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 1);
    ck_assert_uint_eq(rec->n_msgs, 1);
    ck_assert(!rec->msgs[0].from_client);
    ck_assert_uint_eq(rec->msgs[0].type, ETSN_MSG_PIPELINE_OUTPUT);
    ck_assert_str_eq(rec->msgs[0].stream, "stdout");
    ck_assert_str_eq(rec->msgs[0].command_id, CMD);
    ck_assert_ptr_nonnull(strstr(rec->msgs[0].body, "the password is SCRUBBED</S>"));
    ck_assert_uint_eq(rec->response.n_streams, 1);
    ck_assert_uint_eq(rec->response.streams[0].len, 0);
    etsn_transcript_record_free(rec);
    /* 4: the host response on pr; 5: raw text. */
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 1);
    ck_assert_uint_eq(rec->n_msgs, 1);
    ck_assert_str_eq(rec->msgs[0].stream, "pr");
    ck_assert_str_eq(
        rec->msgs[0].body,
        "<Obj RefId=\"0\"><MS><SS N=\"pw\">SCRUBBED</SS><S N=\"u\">alice</S></MS></Obj>");
    etsn_transcript_record_free(rec);
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 1);
    ck_assert(!rec->has_request && !rec->has_response);
    ck_assert_str_eq(rec->request_xml, "garbage <with> SCRUBBED & more");
    ck_assert_ptr_null(rec->response_xml);
    ck_assert_int_eq(rec->status, 401);
    etsn_transcript_record_free(rec);
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 0);
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 0);
    etsn_transcript_reader_free(r);
    free(t);
}
END_TEST

/* Reader -> writer with scrubbing: what the scrub tool does. */
START_TEST(test_reader_rescrub)
{
    char *t = write_session(false);
    ck_assert_ptr_nonnull(strstr(t, SECRET));
    etsn_transcript_reader *r = open_text(t);
    etsn_buf out = ETSN_BUF_INIT;
    etsn_error err;
    etsn_transcript_meta meta = {
        .source = "etsn-transcript scrub", .scrub = true, .secret = SECRET};
    etsn_transcript_writer *w = etsn_transcript_writer_new(&meta, sink_buf, &out, &err);
    etsn_transcript_record *rec;
    int n = 0;
    while (etsn_transcript_next(r, &rec, &err) == 1) {
        etsn_transcript_exchange x;
        etsn_transcript_record_exchange(rec, &x);
        ck_assert_int_eq(etsn_transcript_add(w, &x, &err), 0);
        etsn_transcript_record_free(rec);
        n++;
    }
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(etsn_transcript_finish(w, &err), 0);
    etsn_transcript_writer_free(w);
    etsn_transcript_reader_free(r);
    etsn_buf_append_byte(&out, 0);
    const char *s = (const char *)out.data;
    ck_assert_ptr_null(strstr(s, SECRET));
    ck_assert_ptr_null(strstr(s, "c2VjcmV0IGJ5dGVz"));
    ck_assert_ptr_nonnull(strstr(s, "<SS N=\"pw\">SCRUBBED</SS>"));
    /* Still one PIPELINE_OUTPUT: decoded messages are not decoded twice. */
    ck_assert_uint_eq(count(s, "name=\"PIPELINE_OUTPUT\""), 1);
    etsn_buf_free(&out);
    free(t);
}
END_TEST

/* An HTTP capture: envelopes whose PSRP is still base64. */
START_TEST(test_reader_http_capture)
{
    etsn_buf req = ETSN_BUF_INIT, rsp = ETSN_BUF_INIT, t = ETSN_BUF_INIT;
    create_exchange(&req, &rsp);
    etsn_buf_append_str(&t, "<transcript format=\"1\" source=\"capture\"><exchange n=\"1\" "
                            "conn=\"2\" status=\"200\"><request>");
    etsn_buf_append(&t, req.data + 0, req.len);
    etsn_buf_append_str(&t, "</request><response/></exchange></transcript>");
    etsn_transcript_reader *r = open_text((const char *)t.data);
    etsn_transcript_record *rec;
    etsn_error err;
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 1);
    ck_assert_uint_eq(rec->conn, 2);
    ck_assert_uint_eq(rec->n_msgs, 2);
    ck_assert_uint_eq(rec->msgs[1].type, ETSN_MSG_PUBLIC_KEY);
    ck_assert_ptr_nonnull(strstr(rec->request_xml, "<etsn:message"));
    etsn_transcript_record_free(rec);
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 0);
    etsn_transcript_reader_free(r);
    etsn_buf_free(&req);
    etsn_buf_free(&rsp);
    etsn_buf_free(&t);
}
END_TEST

START_TEST(test_reader_rejects)
{
    static const char *bad[] = {
        "",        "<x/>", "<transcript format=\"2\"/>", "<!DOCTYPE t><transcript format=\"1\"/>",
        "not xml",
    };
    etsn_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_ptr_null(etsn_transcript_reader_new_memory(bad[i], strlen(bad[i]), &err));
    /* Truncated after a good start: next fails, never crashes. */
    const char *cut = "<transcript format=\"1\"><exchange n=\"1\"><request><s:Envelope";
    etsn_transcript_reader *r = etsn_transcript_reader_new_memory(cut, strlen(cut), &err);
    etsn_transcript_record *rec;
    if (r) {
        ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), -1);
        etsn_transcript_reader_free(r);
    }
    r = open_text("<transcript format=\"1\"/>");
    ck_assert_int_eq(etsn_transcript_next(r, &rec, &err), 0);
    etsn_transcript_reader_free(r);
}
END_TEST

static void add_reader_tests(Suite *s)
{
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, test_reader_roundtrip);
    tcase_add_test(tc, test_reader_rescrub);
    tcase_add_test(tc, test_reader_http_capture);
    tcase_add_test(tc, test_reader_rejects);
    suite_add_tcase(s, tc);
}

static Suite *transcript_suite(void)
{
    Suite *s = suite_create("transcript");
    TCase *tc = tcase_create("writer");
    tcase_add_test(tc, test_writer_layout);
    tcase_add_test(tc, test_writer_scrubs);
    tcase_add_test(tc, test_writer_plain_shell_and_bad_fragments);
    tcase_add_test(tc, test_writer_sink_failure);
    suite_add_tcase(s, tc);
    add_reader_tests(s);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(transcript_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
