/* Unit tests for wire_log.c: requests built by hand from MS-WSMV / MS-PSRP
 * bytes (not with ref/core's encoders), decoded into the wire log's lines. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/core/base64.h"
#include "../ref/core/buf.h"
#include "wire_log.h"

#define SOAP_HEAD                                                                                  \
    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "                             \
    "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" "                                \
    "xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" "                                  \
    "xmlns:rsp=\"http://schemas.microsoft.com/wbem/wsman/1/windows/shell\"><s:Header>"

/* A fragment (MS-PSRP 2.2.4) holding a message (2.2.1): destination, type,
 * RPID 00112233-4455-6677-8899-aabbccddeeff in .NET order, null PID. */
static void fragment(etsn_buf *out, uint8_t oid, uint8_t fid, uint8_t flags, const uint8_t *blob,
                     size_t len)
{
    uint8_t h[21] = {0};
    h[7] = oid;
    h[15] = fid;
    h[16] = flags;
    h[19] = (uint8_t)(len >> 8);
    h[20] = (uint8_t)len;
    etsn_buf_append(out, h, sizeof h);
    etsn_buf_append(out, blob, len);
}

static size_t message(uint8_t *m, uint32_t type, bool bom, const char *xml)
{
    static const uint8_t rpid[16] = {0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
                                     0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    memset(m, 0, 40);
    m[0] = 2; /* destination: server */
    m[4] = (uint8_t)type;
    m[5] = (uint8_t)(type >> 8);
    m[6] = (uint8_t)(type >> 16);
    m[7] = (uint8_t)(type >> 24);
    memcpy(m + 8, rpid, 16);
    size_t n = 40;
    if (bom) {
        memcpy(m + n, "\xEF\xBB\xBF", 3);
        n += 3;
    }
    memcpy(m + n, xml, strlen(xml));
    return n + strlen(xml);
}

static char *log_json(mock_wire_log *w)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(mock_wire_log_json(w, &b), 0);
    etsn_buf_append_byte(&b, 0);
    return (char *)b.data;
}

static void add(mock_wire_log *w, const char *soap)
{
    ck_assert_int_eq(mock_wire_log_request(w, (const uint8_t *)soap, strlen(soap)), 0);
}

/* The JSON holds these strings in this order. */
static void expect_in_order(const char *json, const char *const *want)
{
    const char *p = json;
    for (size_t i = 0; want[i]; i++) {
        const char *q = strstr(p, want[i]);
        ck_assert_msg(q != NULL, "'%s' missing (in order) from %s", want[i], json);
        p = q + strlen(want[i]);
    }
}

START_TEST(test_create)
{
    uint8_t m[512];
    size_t n = message(m, 0x00010002, true,
                       "<Obj RefId=\"0\"><MS><Version N=\"protocolversion\">2.3</Version>"
                       "<Obj N=\"mi\" RefId=\"1\"><ToString>ReadLine</ToString><I32>11</I32></Obj>"
                       "</MS></Obj>");
    etsn_buf frag = ETSN_BUF_INIT, soap = ETSN_BUF_INIT;
    fragment(&frag, 1, 0, 0x03, m, n);
    etsn_buf_append_str(&soap, SOAP_HEAD "<a:Action s:mustUnderstand=\"true\">"
                                         "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
                                         "</a:Action><w:Locale xml:lang=\"fr-FR\"/>"
                                         "<w:OptionSet><w:Option Name=\"protocolversion\">2.3"
                                         "</w:Option></w:OptionSet></s:Header><s:Body>"
                                         "<rsp:Shell><rsp:InputStreams>stdin pr</rsp:InputStreams>"
                                         "<creationXml xmlns=\"http://schemas.microsoft.com/"
                                         "powershell\">");
    etsn_base64_encode(frag.data, frag.len, &soap);
    etsn_buf_append_str(&soap, "</creationXml></rsp:Shell></s:Body></s:Envelope>");
    etsn_buf_append_byte(&soap, 0);
    mock_wire_log *w = mock_wire_log_new();
    add(w, (const char *)soap.data);
    char *json = log_json(w);
    const char *want[] = {
        "\"request\": 1, \"repeat\": 1",
        "\"action http://schemas.xmlsoap.org/ws/2004/09/transfer/Create\"",
        "\"locale fr-FR\"",
        "\"option protocolversion=2.3\"",
        "\"body Shell\"",
        "\"input-streams stdin pr\"",
        "\"payload creationXml\"",
        "\"fragment object=1 fragment=0 flags=0x03 length=",
        "\"message destination=0x00000002 type=0x00010002 bom=yes "
        "pid=00000000-0000-0000-0000-000000000000 rpid=00112233-4455-6677-8899-aabbccddeeff\"",
        "\"clixml protocolversion=2.3\"",
        "\"clixml mi=11\"",
        "\"ns Action http://schemas.xmlsoap.org/ws/2004/08/addressing\"",
        "\"ns creationXml http://schemas.microsoft.com/powershell\"",
        NULL};
    expect_in_order(json, want);
    free(json);
    mock_wire_log_free(w);
    etsn_buf_free(&frag);
    etsn_buf_free(&soap);
}
END_TEST

static void send_request(mock_wire_log *w, const etsn_buf *bytes)
{
    etsn_buf soap = ETSN_BUF_INIT;
    etsn_buf_append_str(&soap, SOAP_HEAD "</s:Header><s:Body><rsp:Send>"
                                         "<rsp:Stream Name=\"pr\" CommandId=\"C1\">");
    etsn_base64_encode(bytes->data, bytes->len, &soap);
    etsn_buf_append_str(&soap, "</rsp:Stream></rsp:Send></s:Body></s:Envelope>");
    etsn_buf_append_byte(&soap, 0);
    add(w, (const char *)soap.data);
    etsn_buf_free(&soap);
}

/* A message in two fragments sent in two requests is decoded once, when
 * its end arrives; a body without EF BB BF says bom=no. */
START_TEST(test_fragments_across_sends)
{
    uint8_t m[256];
    size_t n =
        message(m, 0x00041101, false, "<Obj RefId=\"0\"><MS><I64 N=\"ci\">7</I64></MS></Obj>");
    etsn_buf a = ETSN_BUF_INIT, b = ETSN_BUF_INIT;
    fragment(&a, 9, 0, 0x01, m, 30);
    fragment(&b, 9, 1, 0x02, m + 30, n - 30);
    mock_wire_log *w = mock_wire_log_new();
    send_request(w, &a);
    send_request(w, &b);
    char *json = log_json(w);
    const char *want[] = {"\"request\": 1",
                          "\"send-stream pr\"",
                          "\"command-id C1\"",
                          "\"fragment object=9 fragment=0 flags=0x01 length=30\"",
                          "\"request\": 2",
                          "\"fragment object=9 fragment=1 flags=0x02",
                          "\"message destination=0x00000002 type=0x00041101 bom=no ",
                          "\"clixml ci=7\"",
                          NULL};
    expect_in_order(json, want);
    char *first = strstr(json, "\"request\": 2");
    ck_assert_ptr_nonnull(first);
    *first = 0;
    ck_assert_msg(!strstr(json, "message destination"), "decoded before its end: %s", json);
    free(json);
    mock_wire_log_free(w);
    etsn_buf_free(&a);
    etsn_buf_free(&b);
}
END_TEST

START_TEST(test_bad_input_and_repeats)
{
    mock_wire_log *w = mock_wire_log_new();
    add(w, "<not xml");
    add(w, "<!DOCTYPE s [<!ENTITY e \"x\">]><s:Envelope "
           "xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">&e;</s:Envelope>");
    const char *recv = SOAP_HEAD "<a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/"
                                 "shell/Receive</a:Action></s:Header><s:Body><rsp:Receive>"
                                 "<rsp:DesiredStream>stdout</rsp:DesiredStream></rsp:Receive>"
                                 "</s:Body></s:Envelope>";
    add(w, recv);
    add(w, recv);
    add(w, recv);
    add(w, SOAP_HEAD "</s:Header><s:Body><rsp:Send><rsp:Stream Name=\"stdin\">AAAA!"
                     "</rsp:Stream></rsp:Send></s:Body></s:Envelope>");
    add(w, SOAP_HEAD "</s:Header><s:Body><rsp:Send><rsp:Stream Name=\"stdin\">AAAA"
                     "</rsp:Stream></rsp:Send></s:Body></s:Envelope>");
    char *json = log_json(w);
    const char *want[] = {
        "\"request\": 1, \"repeat\": 1, \"lines\": [\n      \"unparseable 8 bytes\"",
        "\"request\": 2, \"repeat\": 1, \"lines\": [\n      \"unparseable",
        "\"request\": 3, \"repeat\": 3",
        "\"desired-stream stdout\"",
        "\"request\": 6",
        "\"payload not base64\"",
        "\"request\": 7",
        "\"fragment truncated 3 bytes\"",
        NULL};
    expect_in_order(json, want);
    ck_assert_uint_eq(mock_wire_log_dropped(w), 0);
    free(json);
    mock_wire_log_free(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wire_log");
    TCase *tc = tcase_create("wire_log");
    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_fragments_across_sends);
    tcase_add_test(tc, test_bad_input_and_repeats);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
