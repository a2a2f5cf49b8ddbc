/* The JSON reader reads what a program under test wrote: besides the
 * ordinary grammar these tests throw malformed and hostile input at it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static conf_json *parse(const char *s)
{
    char err[200];
    return conf_json_parse(s, strlen(s), err, sizeof err);
}

static void rejects(const char *s)
{
    char err[200] = "";
    conf_json *v = conf_json_parse(s, strlen(s), err, sizeof err);
    ck_assert_msg(v == NULL, "accepted: %s", s);
    ck_assert_msg(err[0] != 0, "no error message for: %s", s);
}

START_TEST(test_report_shape)
{
    const char *s = "{\"scenario\": \"plain\", \"expectations\": [{\"id\": \"a\", \"met\": true,"
                    " \"detail\": \"\"}, {\"id\": \"b\", \"met\": false}],"
                    " \"unmatched\": [], \"events\": [{\"kind\": \"auth-ok\", \"n\": -1.5e2}]}";
    conf_json *v = parse(s);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(conf_json_str(conf_json_get(v, "scenario")), "plain");
    const conf_json *ex = conf_json_get(v, "expectations");
    ck_assert_uint_eq(conf_json_count(ex), 2);
    ck_assert(conf_json_get(conf_json_at(ex, 0), "met")->u.boolean);
    ck_assert(!conf_json_get(conf_json_at(ex, 1), "met")->u.boolean);
    ck_assert_str_eq(conf_json_str(conf_json_get(conf_json_at(ex, 0), "detail")), "");
    ck_assert_uint_eq(conf_json_count(conf_json_get(v, "unmatched")), 0);
    const conf_json *n = conf_json_get(conf_json_at(conf_json_get(v, "events"), 0), "n");
    ck_assert(n->type == CONF_JSON_NUMBER && n->u.number == -150.0);
    /* Accessors tolerate wrong types and absent members. */
    ck_assert_ptr_null(conf_json_get(ex, "x"));
    ck_assert_ptr_null(conf_json_at(ex, 5));
    ck_assert_ptr_null(conf_json_str(ex));
    ck_assert_uint_eq(conf_json_count(v), 0);
    conf_json_free(v);
}
END_TEST

START_TEST(test_scalars)
{
    const char *ok[] = {"0",    "-0",    "1.25", "1e10", "1E-3",        "-12.5e+2",
                        "true", "false", "null", "\"\"", " \t\r\n[ ] ", "{}"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        conf_json *v = parse(ok[i]);
        ck_assert_msg(v != NULL, "rejected: %s", ok[i]);
        conf_json_free(v);
    }
    conf_json *v = parse("1e-400"); /* underflow is harmless */
    ck_assert_ptr_nonnull(v);
    conf_json_free(v);
}
END_TEST

START_TEST(test_escapes)
{
    conf_json *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00\"");
    ck_assert_ptr_nonnull(v);
    const char want[] = "a\"b\\c/d\b\f\n\r\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
    ck_assert_uint_eq(v->u.str.len, sizeof want - 1);
    ck_assert(memcmp(v->u.str.s, want, sizeof want - 1) == 0);
    conf_json_free(v);
    /* \u0000 is kept, with the length telling it apart from the end. */
    v = parse("\"x\\u0000y\"");
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(v->u.str.len, 3);
    ck_assert(memcmp(v->u.str.s, "x\0y", 3) == 0);
    conf_json_free(v);
    /* Raw UTF-8 passes through. */
    v = parse("\"CONTOSO\\\\alice \xE2\x80\x94 ok\"");
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v->u.str.s, "CONTOSO\\alice \xE2\x80\x94 ok");
    conf_json_free(v);
}
END_TEST

START_TEST(test_malformed)
{
    const char *bad[] = {
        "",
        " ",
        "{",
        "}",
        "[",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{a:1}",
        "{'a':1}",
        "[1 2]",
        "\"abc",
        "\"a\\x\"",
        "\"a\\u12\"",
        "\"a\\u12G4\"",
        "tru",
        "nul",
        "True",
        "01",
        "1.",
        ".5",
        "+1",
        "-",
        "1e",
        "1e+",
        "0x10",
        "NaN",
        "Infinity",
        "1e999",
        "[1]x",
        "{} {}",
        "\"a\tb\"",
        "\"a\nb\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\xEF\xBB\xBF{}",
        "{\"a\":1,\"a\":2}",
        "\"\xC3\"",
        "\"\xC0\xAF\"",
        "\"\xED\xA0\x80\"",
        "\"\xF4\x90\x80\x80\"",
        "\"\xFF\"",
        "/* c */ {}",
        "[1]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) rejects(bad[i]);
    /* An embedded NUL byte outside a string is just a bad byte. */
    char err[100];
    ck_assert_ptr_null(conf_json_parse("[1]\0", 4, err, sizeof err));
    ck_assert_ptr_null(conf_json_parse(NULL, 0, err, sizeof err));
}
END_TEST

START_TEST(test_error_offset)
{
    char err[200];
    ck_assert_ptr_null(conf_json_parse("[1, 2, @]", 9, err, sizeof err));
    ck_assert_msg(strstr(err, "offset 7") != NULL, "%s", err);
    /* A tiny error buffer is fine. */
    char small[4];
    ck_assert_ptr_null(conf_json_parse("[", 1, small, sizeof small));
    ck_assert_ptr_null(conf_json_parse("[", 1, NULL, 0));
}
END_TEST

START_TEST(test_depth_bound)
{
    /* 100000 nested arrays would overflow a naive recursive parser's
     * stack; the bound stops at CONF_JSON_MAX_DEPTH. */
    size_t n = 100000;
    char *s = malloc(2 * n + 1);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = 0;
    char err[200];
    ck_assert_ptr_null(conf_json_parse(s, 2 * n, err, sizeof err));
    ck_assert_msg(strstr(err, "nesting") != NULL, "%s", err);
    free(s);
    /* Exactly at the bound is accepted. */
    char ok[2 * (CONF_JSON_MAX_DEPTH + 1) + 1];
    memset(ok, '[', CONF_JSON_MAX_DEPTH + 1);
    memset(ok + CONF_JSON_MAX_DEPTH + 1, ']', CONF_JSON_MAX_DEPTH + 1);
    ok[sizeof ok - 1] = 0;
    conf_json *v = conf_json_parse(ok, sizeof ok - 1, err, sizeof err);
    ck_assert_msg(v != NULL, "%s", err);
    conf_json_free(v);
}
END_TEST

START_TEST(test_member_bound)
{
    size_t n = CONF_JSON_MAX_MEMBERS + 1;
    char *s = malloc(n * 16 + 4);
    size_t len = 0;
    s[len++] = '{';
    for (size_t i = 0; i < n; i++) len += (size_t)sprintf(s + len, "%s\"k%zu\":0", i ? "," : "", i);
    s[len++] = '}';
    char err[200];
    ck_assert_ptr_null(conf_json_parse(s, len, err, sizeof err));
    ck_assert_msg(strstr(err, "too many") != NULL, "%s", err);
    free(s);
}
END_TEST

START_TEST(test_size_bound)
{
    char err[200];
    /* The length alone decides; the text is never read. */
    ck_assert_ptr_null(conf_json_parse("[]", (size_t)CONF_JSON_MAX_INPUT + 1, err, sizeof err));
    ck_assert_msg(strstr(err, "larger") != NULL, "%s", err);
}
END_TEST

START_TEST(test_large_array)
{
    /* Many items grow the array without trouble. */
    size_t n = 50000;
    char *s = malloc(n * 2 + 2);
    size_t len = 0;
    s[len++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) s[len++] = ',';
        s[len++] = '7';
    }
    s[len++] = ']';
    conf_json *v = conf_json_parse(s, len, NULL, 0);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(conf_json_count(v), n);
    conf_json_free(v);
    free(s);
}
END_TEST

START_TEST(test_truncations)
{
    /* Every prefix of a valid document is either rejected or (for the
     * full text) accepted, and none crashes or leaks. */
    const char *s = "{\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\ud83d\\ude00\"],\"b\":{}}";
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        char *p = malloc(i ? i : 1);
        memcpy(p, s, i);
        conf_json *v = conf_json_parse(p, i, NULL, 0);
        ck_assert_msg(v == NULL, "prefix of %zu accepted", i);
        free(p);
    }
    conf_json *v = conf_json_parse(s, len, NULL, 0);
    ck_assert_ptr_nonnull(v);
    conf_json_free(v);
}
END_TEST

START_TEST(test_byte_flips)
{
    /* Corrupt each byte in turn: the reader must never crash or leak,
     * whatever it decides. */
    const char *s = "{\"expectations\":[{\"id\":\"a\\n\",\"met\":true}],\"unmatched\":[1e2]}";
    size_t len = strlen(s);
    const unsigned char subs[] = {0, '"', '\\', '{', '[', ']', '}', ',', ':', 0x80, 0xFF, 'u'};
    for (size_t i = 0; i < len; i++)
        for (size_t k = 0; k < sizeof subs; k++) {
            char *p = malloc(len);
            memcpy(p, s, len);
            p[i] = (char)subs[k];
            conf_json_free(conf_json_parse(p, len, NULL, 0));
            free(p);
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conformance json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_report_shape);
    tcase_add_test(tc, test_scalars);
    tcase_add_test(tc, test_escapes);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_error_offset);
    tcase_add_test(tc, test_depth_bound);
    tcase_add_test(tc, test_member_bound);
    tcase_add_test(tc, test_size_bound);
    tcase_add_test(tc, test_large_array);
    tcase_add_test(tc, test_truncations);
    tcase_add_test(tc, test_byte_flips);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
