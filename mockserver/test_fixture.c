/* Unit tests for fixture.c: loading, defaults, errors with line numbers, the
 * lazy cursor over <repeat>, {n} substitution, and the shipped fixtures. */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/core/buf.h"
#include "fixture.h"

static mock_fixture *load(const char *xml, char *err, size_t errlen)
{
    return mock_fixture_load_memory(xml, strlen(xml), "t.xml", err, errlen);
}

/* Loading must fail with "t.xml:<line>: ..." containing needle. */
static void expect_error(const char *xml, int line, const char *needle)
{
    char err[512] = "";
    mock_fixture *fx = load(xml, err, sizeof err);
    ck_assert_msg(fx == NULL, "loaded: %s", xml);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "t.xml:%d: ", line);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "error '%s' lacks '%s'", err, prefix);
    ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
}

START_TEST(test_load_full)
{
    const char *xml =
        "<scenario name='s' description='d'>\n"
        "  <server computer='HOST' protocol='2.4' path='/MyApp' missing-commands='Exit-PSSession'"
        "          resource-uri='http://schemas.microsoft.com/powershell/MyConfig'/>\n"
        "  <user name='CONTOSO\\alice' password='secret'/>\n"
        "  <user name='bob' password='x'/>\n"
        "  <auth negotiate='true' basic='false' require-encryption='false'/>\n"
        "  <pipeline command='  Get-Date  ' description='date'>\n"
        "    <host-call method='WriteLine2'><S>Monday</S></host-call>\n"
        "    <host-call method='16'>plain text</host-call>\n"
        "    <host-call method='ReadLine' id='q' expect='yes'/>\n"
        "    <output><I32>5</I32><S>x</S></output>\n"
        "    <error-line>oops</error-line>\n"
        "    <error-record message='m' category='ObjectNotFound'><line>l1</line></error-record>\n"
        "    <message type='WARNING_RECORD'><S>warn</S></message>\n"
        "    <state>Failed</state>\n"
        "  </pipeline>\n"
        "  <expect id='shell-deleted' description='gone'/>\n"
        "</scenario>\n";
    char err[512] = "";
    mock_fixture *fx = load(xml, err, sizeof err);
    ck_assert_msg(fx != NULL, "%s", err);
    ck_assert_str_eq(fx->name, "s");
    ck_assert_str_eq(fx->computer, "HOST");
    ck_assert_str_eq(fx->protocol, "2.4");
    ck_assert_str_eq(fx->ps_version, "7.6.0");
    ck_assert_str_eq(fx->edition, "Core");
    ck_assert_str_eq(fx->path, "/MyApp");
    ck_assert_str_eq(fx->location, "C:\\Users\\alice\\Documents");
    ck_assert_uint_eq(fx->n_users, 2);
    ck_assert_str_eq(fx->users[0].domain, "CONTOSO");
    ck_assert_str_eq(fx->users[0].name, "alice");
    ck_assert_str_eq(fx->users[1].domain, "");
    ck_assert(!fx->basic && fx->negotiate && !fx->require_encryption);
    ck_assert(!mock_fixture_has_command(fx, "Exit-PSSession"));
    ck_assert(mock_fixture_has_command(fx, "out-default"));
    ck_assert(!mock_fixture_has_command(fx, "Get-Nothing"));

    const fx_pipeline *p = mock_fixture_find_pipeline(fx, " GET-DATE\n");
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->n_steps, 8);
    ck_assert_int_eq(p->steps[0].kind, FX_HOST_CALL);
    ck_assert_int_eq(p->steps[0].method_id, 16);
    ck_assert(!p->steps[0].wants_answer);
    ck_assert_uint_eq(p->steps[1].n_values, 1);
    ck_assert_str_eq(p->steps[1].values[0]->str, "plain text");
    ck_assert(p->steps[2].wants_answer);
    ck_assert_str_eq(p->steps[2].id, "q");
    ck_assert_str_eq(p->steps[2].expect, "yes");
    ck_assert_uint_eq(p->steps[2].n_values, 0);
    ck_assert_uint_eq(p->steps[3].n_values, 2);
    ck_assert_int_eq(p->steps[4].kind, FX_ERROR_LINE);
    ck_assert_int_eq(p->steps[5].error.category, 13);
    ck_assert_uint_eq(p->steps[5].error.n_lines, 1);
    ck_assert_uint_eq(p->steps[6].message_type, 0x00041009);
    ck_assert_int_eq(p->steps[7].state, 5);
    ck_assert_uint_eq(fx->n_expects, 1);
    ck_assert_int_eq(fx->expects[0].line, 16);
    mock_fixture_free(fx);
}
END_TEST

START_TEST(test_defaults)
{
    char err[512] = "";
    mock_fixture *fx =
        load("<scenario name='x'><user name='u' password='p'/></scenario>", err, sizeof err);
    ck_assert_msg(fx != NULL, "%s", err);
    ck_assert_str_eq(fx->computer, "SERVER01");
    ck_assert_str_eq(fx->protocol, "2.3");
    ck_assert_str_eq(fx->ps_version, "5.1.17763.592");
    ck_assert_str_eq(fx->edition, "Desktop");
    ck_assert_str_eq(fx->path, "/wsman");
    ck_assert_ptr_null(fx->resource_uri);
    ck_assert(fx->negotiate && fx->basic && fx->require_encryption);
    mock_fixture_free(fx);
}
END_TEST

START_TEST(test_errors)
{
    expect_error("<scenario name='x'>\n<user name='u' password='p'/>\n<oops/>\n</scenario>", 3,
                 "unknown element <oops>");
    expect_error("<scenario name='x'>\n<user name='u' password='p'/>\n<pipeline command='a'>\n"
                 "<host-call method='NoSuch'/>\n</pipeline></scenario>",
                 4, "unknown host method");
    expect_error("<scenario name='x'>\n<user name='u' password='p'/>\n<pipeline command='a'>\n"
                 "<output><Nope>1</Nope></output>\n</pipeline></scenario>",
                 4, "bad CLIXML");
    expect_error("<scenario name='x'>\n<user name='u' password='p'>\n</scenario>", 3, "");
    expect_error("<scenario name='x'>\n<server protcol='2.3'/>\n</scenario>", 2,
                 "unknown attribute 'protcol'");
    expect_error("<scenario name='x'>\n<user name='u' password='p'/>\n<pipeline command='a'>\n"
                 "<repeat count='-1'/>\n</pipeline></scenario>",
                 4, "count");
    expect_error("<scenario name='x'>\n<user name='u' password='p'/>\n<pipeline command='a'>\n"
                 "<state>Completed</state>\n<output/>\n</pipeline></scenario>",
                 5, "after <state>");
    expect_error("<scenario name='x'>\n<user name='u' password='p'/>\n"
                 "<pipeline command='a'/>\n<pipeline command='A'/>\n</scenario>",
                 4, "defined twice");
    expect_error("<scenario name='x'>\n<user name='u' password='p'/>\n<pipeline command='a'>\n"
                 "<host-call method='WriteLine2' id='z'/>\n</pipeline></scenario>",
                 4, "void method");
    expect_error("<scenario name='x'>\n</scenario>", 1, "at least one <user>");
    expect_error("<other/>", 1, "<scenario>");
    char err[256];
    ck_assert_ptr_null(mock_fixture_load("/nonexistent/fixture.xml", err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/fixture.xml"));
}
END_TEST

START_TEST(test_cursor_lazy)
{
    /* 10^12 iterations: only a lazy cursor can walk into it. */
    const char *xml = "<scenario name='x'><user name='u' password='p'/>"
                      "<pipeline command='a'>"
                      "<output><S>first</S></output>"
                      "<repeat count='1000000000000'><repeat count='2'>"
                      "<host-call method='WriteLine2'>{n}</host-call></repeat>"
                      "<output>o{n}</output></repeat>"
                      "</pipeline>"
                      "<pipeline command='b'><repeat count='0'><output/></repeat>"
                      "<repeat count='3'><output>x</output></repeat></pipeline>"
                      "</scenario>";
    char err[256] = "";
    mock_fixture *fx = load(xml, err, sizeof err);
    ck_assert_msg(fx != NULL, "%s", err);
    const fx_pipeline *p = mock_fixture_find_pipeline(fx, "a");
    fx_cursor c;
    fx_cursor_init(&c, p->steps, p->n_steps);
    uint64_t n = 99;
    const fx_step *s = fx_cursor_next(&c, &n);
    ck_assert_int_eq(s->kind, FX_OUTPUT);
    ck_assert_uint_eq(n, 0);
    uint64_t expect_n[] = {1, 2, 1, 1, 2, 2, 1, 2, 3};
    fx_kind expect_k[] = {FX_HOST_CALL, FX_HOST_CALL, FX_OUTPUT,    FX_HOST_CALL, FX_HOST_CALL,
                          FX_OUTPUT,    FX_HOST_CALL, FX_HOST_CALL, FX_OUTPUT};
    for (size_t i = 0; i < 9; i++) {
        s = fx_cursor_next(&c, &n);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_eq(s->kind, expect_k[i]);
        ck_assert_uint_eq(n, expect_n[i]);
    }
    for (int i = 0; i < 300000; i++) ck_assert_ptr_nonnull(fx_cursor_next(&c, &n));

    p = mock_fixture_find_pipeline(fx, "b");
    fx_cursor_init(&c, p->steps, p->n_steps);
    int count = 0;
    while (fx_cursor_next(&c, &n)) count++;
    ck_assert_int_eq(count, 3);
    ck_assert_ptr_null(fx_cursor_next(&c, &n));
    mock_fixture_free(fx);
}
END_TEST

START_TEST(test_substitute)
{
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(fx_substitute("a{n}b{n}{n", 10, 42, &b), 0);
    ck_assert_str_eq((char *)b.data, "a42b42{n");
    etsn_buf_reset(&b);
    ck_assert_int_eq(fx_substitute("none", 4, 1, &b), 0);
    ck_assert_str_eq((char *)b.data, "none");
    etsn_buf_free(&b);
    ck_assert_int_eq(fx_error_category("objectnotfound"), 13);
    ck_assert_int_eq(fx_error_category("NotEnabled"), 31);
    ck_assert_int_eq(fx_error_category("nope"), -1);
}
END_TEST

START_TEST(test_shipped_fixtures)
{
    glob_t g;
    ck_assert_int_eq(glob("fixtures/*.xml", 0, NULL, &g), 0);
    ck_assert_uint_ge(g.gl_pathc, 7);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char err[512] = "";
        mock_fixture *fx = mock_fixture_load(g.gl_pathv[i], err, sizeof err);
        ck_assert_msg(fx != NULL, "%s", err);
        mock_fixture_free(fx);
    }
    globfree(&g);
}
END_TEST

START_TEST(test_host_call_helpers)
{
    const char *xml =
        "<scenario name='h'>\n"
        "  <user name='alice' password='pw'/>\n"
        "  <pipeline command='p'>\n"
        "    <host-call method='PromptForChoice' id='c' expect='1'><caption>C</caption>"
        "<message>M</message><choice label='&amp;Yes' help='go'/><choice label='&amp;No'/>"
        "<default>0</default></host-call>\n"
        "    <host-call method='Prompt'><caption/><message/><field name='Name' "
        "type='System.String'/><field name='Cred' "
        "type='System.Management.Automation.PSCredential'/>"
        "<expect-field name='Name'>bob</expect-field></host-call>\n"
        "    <host-call method='PromptForCredential1'><caption>c</caption><message>m</message>"
        "<user>bob</user><target/><expect-credential user='bob' password='x'/></host-call>\n"
        "    <host-call method='WriteLine3' foreground='Yellow' background='Black'>hi</host-call>\n"
        "    <host-call method='SetCursorPosition'><coordinates x='1' y='2'/></host-call>\n"
        "    <host-call method='SetBufferContents1'><coordinates/><cells rows='2' cols='3' "
        "char='#'/></host-call>\n"
        "    <host-call method='ScrollBufferContents'><rectangle right='9' bottom='9'/>"
        "<coordinates x='0' y='1'/><rectangle right='9' bottom='9'/><buffer-cell char=' '/>"
        "</host-call>\n"
        "    <host-call method='ReadKey' expect='y'/>\n"
        "    <progress activity='A' percent='10'/>\n"
        "    <warning via='host-call'>w</warning>\n"
        "    <sleep ms='5'/>\n"
        "    <incomplete-input/>\n"
        "  </pipeline>\n"
        "  <pipeline><command>\n  if ($x) {\n    1\n  }\n</command><output>1</output></pipeline>\n"
        "  <completion input='Get-Ch'><match>Get-ChildItem</match>"
        "<match type='ParameterName'>-Path</match></completion>\n"
        "</scenario>\n";
    char err[512] = "";
    mock_fixture *fx = load(xml, err, sizeof err);
    ck_assert_msg(fx != NULL, "%s", err);
    const fx_step *s = fx->pipelines[0].steps;
    ck_assert_uint_eq(s[0].n_values, 4);
    ck_assert_uint_eq(s[0].values[2]->n_items, 2);
    ck_assert_str_eq(etsn_v_as_str(etsn_v_get(s[0].values[2]->items[0], "label")), "&Yes");
    ck_assert_uint_eq(s[1].n_values, 3);
    ck_assert_uint_eq(s[1].n_fields, 1);
    ck_assert_str_eq(
        etsn_v_as_str(etsn_v_get(s[1].values[2]->items[1], "parameterAssemblyFullName")),
        "System.Management.Automation, Version=3.0.0.0, Culture=neutral, "
        "PublicKeyToken=31bf3856ad364e35");
    ck_assert_str_eq(s[2].expect_user, "bob");
    ck_assert_uint_eq(s[3].n_values, 3);
    int64_t fg = 0;
    ck_assert(etsn_v_as_i64(s[3].values[0], &fg));
    ck_assert_int_eq(fg, 14);
    ck_assert_uint_eq(etsn_v_get(s[5].values[1], "mae")->n_items, 6);
    ck_assert_uint_eq(s[7].n_values, 1); /* ReadKey gets IncludeKeyDown */
    ck_assert_int_eq(s[8].kind, FX_PROGRESS);
    ck_assert_int_eq(s[9].via, FX_VIA_HOST_CALL);
    ck_assert_int_eq(s[10].ms, 5);
    ck_assert_int_eq(s[11].kind, FX_INCOMPLETE);
    ck_assert_ptr_nonnull(mock_fixture_find_pipeline(fx, "if ($x) {\r\n1\r\n}"));
    ck_assert_uint_eq(fx->pipelines[1].n_steps, 1);
    const fx_completion *c = mock_fixture_find_completion(fx, "Get-Ch", 6);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->matches[0].type, 2);
    ck_assert_int_eq(c->matches[1].type, 7);
    ck_assert_ptr_null(mock_fixture_find_completion(fx, "Get-Ch", 3));
    ck_assert_ptr_eq(mock_fixture_nearest_pipeline(fx, "q"), &fx->pipelines[0]);
    mock_fixture_free(fx);
}
END_TEST

START_TEST(test_helper_errors)
{
    expect_error("<scenario name='s'><user name='a' password='b'/>\n"
                 "<pipeline command='x'><host-call method='PromptForChoice'><caption/>"
                 "</host-call></pipeline></scenario>",
                 2, "PowerShell sends 4 parameter(s), the fixture gives 1");
    expect_error("<scenario name='s'><user name='a' password='b'/>\n"
                 "<pipeline command='x'><host-call method='WriteLine2'>"
                 "<expect-field name='a'>b</expect-field>x</host-call></pipeline></scenario>",
                 2, "void method");
    expect_error("<scenario name='s'><user name='a' password='b'/>\n"
                 "<pipeline command='x'><sleep ms='soon'/></pipeline></scenario>",
                 2, "milliseconds");
    expect_error("<scenario name='s'><user name='a' password='b'/>\n"
                 "<pipeline command='x'><progress activity='a' via='pigeon'/></pipeline>"
                 "</scenario>",
                 2, "message, host-call or both");
    expect_error("<scenario name='s'><user name='a' password='b'/>\n"
                 "<completion input='x'><match type='Nope'>y</match></completion></scenario>",
                 2, "unknown CompletionResultType");
    expect_error("<scenario name='s'><user name='a' password='b'/>\n"
                 "<server busy-ms='-1'/></scenario>",
                 2, "busy-ms");
    expect_error("<scenario name='s'><user name='a' password='b'/>\n"
                 "<server max-envelope-kb='16'/></scenario>",
                 2, "max-envelope-kb");
    expect_error("<scenario name='s'><user name='a' password='b'/>\n"
                 "<pipeline command='x'><output><Obj><MS><I32 N='a'>1</I32></MS></Obj></output>"
                 "</pipeline></scenario>",
                 2, "needs <line>");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fixture");
    TCase *tc = tcase_create("fixture");
    tcase_add_test(tc, test_load_full);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_cursor_lazy);
    tcase_add_test(tc, test_substitute);
    /* Run from the repository root (make unit does). */
    FILE *f = fopen("fixtures/plain-session.xml", "r");
    if (f) {
        fclose(f);
        tcase_add_test(tc, test_shipped_fixtures);
        tcase_add_test(tc, test_host_call_helpers);
        tcase_add_test(tc, test_helper_errors);
    }
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
