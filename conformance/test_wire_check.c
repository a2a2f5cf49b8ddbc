/* Unit tests for wire_check.c: includes, the ordered match with "...", and
 * the failure text naming the nearest line sent. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire_check.h"

static const char report[] =
    "{\"wire\": ["
    "{\"request\": 1, \"repeat\": 1, \"lines\": ["
    "\"action http://schemas.xmlsoap.org/ws/2004/09/transfer/Create\","
    "\"to http://127.0.0.1:5985/WSMan\","
    "\"message destination=0x00000002 type=0x00010002 bom=yes pid=0 rpid=1\"]},"
    "{\"request\": 2, \"repeat\": 4, \"lines\": ["
    "\"action http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command\","
    "\"message destination=0x00000002 type=0x0002100D bom=yes pid=2 rpid=1\"]}]}";

static int check(const char *const *lines, conf_strv *reasons)
{
    conf_strv want = {0};
    for (size_t i = 0; lines[i]; i++) conf_strv_push(&want, lines[i], strlen(lines[i]));
    char err[256];
    conf_json *r = conf_json_parse(report, strlen(report), err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    conf_vars vars = {.host = "127.0.0.1", .port = "5985"};
    int rc = conf_wire_evaluate(r, &want, &vars, reasons);
    conf_json_free(r);
    conf_strv_free(&want);
    return rc;
}

START_TEST(test_match_in_order)
{
    const char *ok[] = {"action http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
                        "to http://{host}:{port}/WSMan",
                        "message destination=0x00000002 type=0x00010002 bom=yes ...",
                        "action http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
                        NULL};
    conf_strv reasons = {0};
    ck_assert_int_eq(check(ok, &reasons), 0);
    ck_assert_uint_eq(reasons.n, 0);
    /* Out of order: the Command came after the Create. */
    const char *order[] = {"action http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
                           "to http://{host}:{port}/WSMan", NULL};
    ck_assert_int_eq(check(order, &reasons), 1);
    conf_strv_free(&reasons);
    /* Without "..." the line must be whole. */
    const char *whole[] = {"message destination=0x00000002 type=0x00010002 bom=yes", NULL};
    ck_assert_int_eq(check(whole, &reasons), 1);
    conf_strv_free(&reasons);
}
END_TEST

START_TEST(test_failure_names_nearest)
{
    /* The Command holds its action but another message type. */
    const char *bad[] = {"action http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
                         "action http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
                         "message destination=0x00000002 type=0x00021006 bom=yes ...", NULL};
    conf_strv reasons = {0};
    ck_assert_int_eq(check(bad, &reasons), 1);
    ck_assert_uint_eq(reasons.n, 3);
    ck_assert_msg(strstr(reasons.v[0], "item 3: request 2 (Command) holds items 2..2"), "%s",
                  reasons.v[0]);
    ck_assert_msg(strstr(reasons.v[1], "wanted:  message destination=0x00000002 type=0x00021006"),
                  "%s", reasons.v[1]);
    ck_assert_msg(strstr(reasons.v[2], "nearest: request 2 (Command): message "
                                       "destination=0x00000002 type=0x0002100D"),
                  "%s", reasons.v[2]);
    conf_strv_free(&reasons);
    /* A line must be in the request of its group's action: the BOM line is
     * the Create's, not the Command's. */
    const char *group[] = {"action http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
                           "message destination=0x00000002 type=0x00010002 bom=yes ...", NULL};
    ck_assert_int_eq(check(group, &reasons), 1);
    conf_strv_free(&reasons);
    /* No Signal at all: the nearest action line is named. */
    const char *none[] = {"action http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal",
                          NULL};
    ck_assert_int_eq(check(none, &reasons), 1);
    ck_assert_msg(strstr(reasons.v[0], "item 1 not sent:"), "%s", reasons.v[0]);
    ck_assert_msg(strstr(reasons.v[2], "nearest: request 2 (Command): action"), "%s", reasons.v[2]);
    conf_strv_free(&reasons);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_include)
{
    char dir[] = "/tmp/etsn-wire-test.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p[512], sub[512];
    snprintf(sub, sizeof sub, "%s/wire", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(p, sizeof p, "%s/wire/a.wire", dir);
    write_file(p, "# a comment\n\n  first  \ninclude b.wire\nlast\n");
    snprintf(p, sizeof p, "%s/wire/b.wire", dir);
    write_file(p, "middle\n");
    snprintf(p, sizeof p, "%s/wire/loop.wire", dir);
    write_file(p, "include loop.wire\n");
    conf_strv lines = {0};
    conf_strv_push(&lines, "zero", 4);
    conf_strv_push(&lines, "include wire/a.wire", 19);
    char err[256] = "";
    ck_assert_int_eq(conf_wire_expand(&lines, dir, err, sizeof err), 0);
    ck_assert_uint_eq(lines.n, 4);
    ck_assert_str_eq(lines.v[0], "zero");
    ck_assert_str_eq(lines.v[1], "first");
    ck_assert_str_eq(lines.v[2], "middle");
    ck_assert_str_eq(lines.v[3], "last");
    conf_strv_free(&lines);
    conf_strv_push(&lines, "include wire/loop.wire", 22);
    ck_assert_int_eq(conf_wire_expand(&lines, dir, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "nested too deep"), "%s", err);
    conf_strv_free(&lines);
    conf_strv_push(&lines, "include missing.wire", 20);
    ck_assert_int_eq(conf_wire_expand(&lines, dir, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "include missing.wire"), "%s", err);
    conf_strv_free(&lines);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wire_check");
    TCase *tc = tcase_create("wire_check");
    tcase_add_test(tc, test_match_in_order);
    tcase_add_test(tc, test_failure_names_nearest);
    tcase_add_test(tc, test_include);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
