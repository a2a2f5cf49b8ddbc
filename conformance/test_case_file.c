/* The case file format: sections, the verbatim/trimmed conventions, the %
 * escapes, argument splitting, placeholders and the errors an author gets. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "case_file.h"

static const char *full =
    "# Comments and blank lines may precede the first section.\n"
    "\n"
    "[id]\n"
    "prompt.remote-prompt-text\n"
    "[requirement]\n"
    "\"Shown as \"[{0}]: {1}\" with the computer name as the user typed it\"\n"
    "  — HostUtilities.cs GetRemotePrompt\n"
    "\n"
    "[source]\n"
    "Enter-PSSession reference page, Example 2\n"
    "[fixture]\n"
    "plain-session.xml\n"
    "[args]\n"
    "-ComputerName {host} -Port {port}\n"
    "  -Credential CONTOSO\\alice \"a \\\"q\\\" b\" 'c d' \"\"\n"
    "[mockd-args]\n"
    "--tls-cert {fixtures}/cert.pem\n"
    "[user]\n"
    "CONTOSO\\alice  \n"
    "\n"
    "[password]\n"
    "P@ss word \n"
    "[stdin]\n"
    "Get-Date\n"
    "exit\n"
    "[env]\n"
    "NO_COLOR=1\n"
    "EMPTY=\n"
    "-LANG\n"
    "[expect-exit]\n"
    "0\n"
    "[expect-stdout]\n"
    "[localhost]: PS C:\\> \n"
    "%[id]\n"
    "%%no-newline\n"
    "\n"
    "[expect-stderr]\n"
    "no newline here\n"
    "%no-newline\n"
    "[expect-stdout-contains]\n"
    "  leading kept\n"
    "\n"
    "trailing kept  \n"
    "[expect-stderr-contains]\n"
    "warning\n"
    "[expect-stdout-not-contains]\n"
    "P@ss\n"
    "[expect-stdout-lines]\n"
    "12\n"
    "[expect-report]\n"
    "met: delete-on-exit\n"
    "unmet: something\n"
    "unmatched: 0\n"
    "all-met\n"
    "event: auth-ok\n"
    "no-event: unencrypted-refused\n"
    "[timeout]\n"
    "30\n"
    "[tags]\n"
    "slice, auth\n"
    "prompt\n"
    "[requires]\n"
    "tmux no-adapter\n";

START_TEST(test_full)
{
    conf_case c;
    char err[256];
    int rc = conf_case_parse(full, strlen(full), "prompt.remote-prompt-text", &c, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(c.id, "prompt.remote-prompt-text");
    ck_assert_str_eq(c.requirement,
                     "\"Shown as \"[{0}]: {1}\" with the computer name as the user typed it\"\n"
                     "  — HostUtilities.cs GetRemotePrompt");
    ck_assert_str_eq(c.source, "Enter-PSSession reference page, Example 2");
    ck_assert_str_eq(c.fixture, "plain-session.xml");
    ck_assert_uint_eq(c.args.n, 9);
    const char *want[] = {"-ComputerName",  "{host}",    "-Port", "{port}", "-Credential",
                          "CONTOSO\\alice", "a \"q\" b", "c d",   ""};
    for (size_t i = 0; i < 9; i++) ck_assert_str_eq(c.args.v[i], want[i]);
    ck_assert_ptr_null(c.args.v[9]); /* usable as argv */
    ck_assert_uint_eq(c.mockd_args.n, 2);
    ck_assert_str_eq(c.mockd_args.v[1], "{fixtures}/cert.pem");
    /* One-line values are verbatim: trailing blanks are part of them. */
    ck_assert_str_eq(c.user, "CONTOSO\\alice  ");
    ck_assert_str_eq(c.password, "P@ss word ");
    ck_assert(c.stdin_text.present);
    ck_assert_str_eq(c.stdin_text.data, "Get-Date\nexit\n");
    ck_assert_uint_eq(c.env.n, 3);
    ck_assert_str_eq(c.env.v[1], "EMPTY=");
    ck_assert_str_eq(c.env.v[2], "-LANG");
    ck_assert_int_eq(c.expect_exit, 0);
    /* Text sections keep blank lines and trailing spaces; % escapes. */
    ck_assert_str_eq(c.expect_stdout.data, "[localhost]: PS C:\\> \n[id]\n%no-newline\n\n");
    ck_assert_uint_eq(c.expect_stdout.len, strlen(c.expect_stdout.data));
    ck_assert_str_eq(c.expect_stderr.data, "no newline here");
    ck_assert_uint_eq(c.stdout_contains.n, 2);
    ck_assert_str_eq(c.stdout_contains.v[0], "  leading kept");
    ck_assert_str_eq(c.stdout_contains.v[1], "trailing kept  ");
    ck_assert_str_eq(c.stderr_contains.v[0], "warning");
    ck_assert_str_eq(c.stdout_not_contains.v[0], "P@ss");
    ck_assert_int_eq(c.expect_stdout_lines, 12);
    ck_assert(c.has_report_section);
    ck_assert_uint_eq(c.nreport, 6);
    ck_assert_int_eq(c.report[0].kind, CONF_REPORT_MET);
    ck_assert_str_eq(c.report[0].arg, "delete-on-exit");
    ck_assert_int_eq(c.report[1].kind, CONF_REPORT_UNMET);
    ck_assert_int_eq(c.report[2].kind, CONF_REPORT_UNMATCHED);
    ck_assert_int_eq(c.report[2].count, 0);
    ck_assert_int_eq(c.report[3].kind, CONF_REPORT_ALL_MET);
    ck_assert_int_eq(c.report[4].kind, CONF_REPORT_EVENT);
    ck_assert_int_eq(c.report[5].kind, CONF_REPORT_NO_EVENT);
    ck_assert_str_eq(c.report[5].arg, "unencrypted-refused");
    ck_assert_int_eq(c.timeout_s, 30);
    ck_assert_uint_eq(c.tags.n, 3);
    ck_assert(conf_case_has_tag(&c, "auth"));
    ck_assert(conf_case_has_tag(&c, "prompt"));
    ck_assert(!conf_case_has_tag(&c, "slice,"));
    ck_assert_uint_eq(c.requires.n, 2);
    ck_assert_str_eq(c.requires.v[1], "no-adapter");
    conf_case_free(&c);
}
END_TEST

static const char *minimal = "[id]\nx\n[requirement]\nr\n[fixture]\nf.xml\n[args]\n";

START_TEST(test_minimal_defaults)
{
    conf_case c;
    char err[256];
    ck_assert_int_eq(conf_case_parse(minimal, strlen(minimal), NULL, &c, err, sizeof err), 0);
    ck_assert_uint_eq(c.args.n, 0);
    ck_assert_ptr_null(c.user);
    ck_assert_ptr_null(c.password);
    ck_assert(!c.stdin_text.present);
    ck_assert(!c.expect_stdout.present);
    ck_assert_int_eq(c.expect_exit, CONF_EXIT_ANY);
    ck_assert_int_eq(c.expect_stdout_lines, -1);
    ck_assert(!c.has_report_section);
    ck_assert_int_eq(c.timeout_s, CONF_DEFAULT_TIMEOUT_S);
    conf_case_free(&c);
}
END_TEST

START_TEST(test_empty_sections)
{
    /* An empty text section is the empty text (e.g. "no stderr at all"),
     * an empty [expect-report] checks nothing. The file's last line needs
     * no newline. */
    const char *s = "[id]\nx\n[requirement]\nr\n[fixture]\nf\n[args]\n[expect-stderr]\n"
                    "[expect-report]\n[stdin]\nlast";
    conf_case c;
    char err[256];
    ck_assert_int_eq(conf_case_parse(s, strlen(s), NULL, &c, err, sizeof err), 0);
    ck_assert(c.expect_stderr.present);
    ck_assert_uint_eq(c.expect_stderr.len, 0);
    ck_assert_str_eq(c.expect_stderr.data, "");
    ck_assert(c.has_report_section);
    ck_assert_uint_eq(c.nreport, 0);
    ck_assert_str_eq(c.stdin_text.data, "last\n");
    conf_case_free(&c);
}
END_TEST

START_TEST(test_expect_exit_words)
{
    const char *vals[] = {"nonzero", "any", "255"};
    const int want[] = {CONF_EXIT_NONZERO, CONF_EXIT_ANY, 255};
    for (int i = 0; i < 3; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s[expect-exit]\n%s\n", minimal, vals[i]);
        conf_case c;
        char err[256];
        ck_assert_int_eq(conf_case_parse(buf, strlen(buf), NULL, &c, err, sizeof err), 0);
        ck_assert_int_eq(c.expect_exit, want[i]);
        conf_case_free(&c);
    }
}
END_TEST

/* Parses minimal + extra and expects an error mentioning what. */
static void expect_error(const char *text, const char *name, const char *what)
{
    conf_case c;
    char err[256] = "";
    int rc = conf_case_parse(text, strlen(text), name, &c, err, sizeof err);
    ck_assert_msg(rc == -1, "accepted:\n%s", text);
    ck_assert_msg(strstr(err, what) != NULL, "error \"%s\" lacks \"%s\"", err, what);
}

static void expect_extra_error(const char *extra, const char *what)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s", minimal, extra);
    expect_error(buf, NULL, what);
}

START_TEST(test_errors)
{
    expect_extra_error("[expect-stdot]\nx\n", "line 8: unknown section [expect-stdot]");
    expect_extra_error("[args]\n", "appears twice");
    expect_extra_error("[expect-exit]\n256\n", "[expect-exit]");
    expect_extra_error("[expect-exit]\n-1\n", "[expect-exit]");
    expect_extra_error("[expect-exit]\n0\n1\n", "single line");
    expect_extra_error("[timeout]\n0\n", "[timeout]");
    expect_extra_error("[timeout]\n9999\n", "[timeout]");
    expect_extra_error("[timeout]\n5s\n", "[timeout]");
    expect_extra_error("[expect-stdout-lines]\nmany\n", "[expect-stdout-lines]");
    expect_extra_error("[expect-report]\nmet:\n", "needs a value");
    expect_extra_error("[expect-report]\nunmatched: x\n", "takes a count");
    expect_extra_error("[expect-report]\nmett: a\n", "unknown check");
    expect_extra_error("[expect-report]\nok\n", "all-met");
    expect_extra_error("[env]\nNO EQUALS\n", "line 9: [env]");
    expect_extra_error("[env]\n1X=2\n", "[env]");
    expect_extra_error("[user]\nalice\nbob\n", "one line");
    expect_extra_error("[stdin]\nx\n%no-newline\ny\n", "%no-newline must be");
    expect_extra_error("[tags]\na;b\n", "invalid word");
    expect_extra_error("[mockd-args]\n'open\n", "unterminated '");
    expect_error("[id]\nx\n[requirement]\nr\n[fixture]\nf\n[args]\n\"open\n", NULL,
                 "unterminated \"");
    expect_error("[id]\nx\n[requirement]\nr\n[args]\n", NULL, "missing required section [fixture]");
    expect_error("[id]\nx\n[fixture]\nf\n[args]\n", NULL, "[requirement]");
    expect_error("[id]\nx\n[requirement]\n\n[fixture]\nf\n[args]\n", NULL,
                 "[requirement] is empty");
    expect_error("hello\n[id]\nx\n", NULL, "line 1: text before the first");
    expect_error(minimal, "y", "differs from the file name");
    expect_error("[id]\na b\n[requirement]\nr\n[fixture]\nf\n[args]\n", NULL, "not a valid");
    expect_error("[id]\na\nb\n[requirement]\nr\n[fixture]\nf\n[args]\n", NULL, "single line");
    expect_error("[id]\na/b\n[requirement]\nr\n[fixture]\nf\n[args]\n", NULL, "not a valid");
    char nul[] = "[id]\nx\0\n";
    conf_case c;
    char err[128];
    ck_assert_int_eq(conf_case_parse(nul, sizeof nul - 1, NULL, &c, err, sizeof err), -1);
    ck_assert(strstr(err, "NUL") != NULL);
}
END_TEST

START_TEST(test_header_lookalikes)
{
    /* Only a whole "[lowercase-name]" line is a header: prompts and
     * bracketed output are content. */
    const char *s = "[id]\nx\n[requirement]\nr\n[fixture]\nf\n[args]\n[expect-stdout]\n"
                    "[localhost]: PS C:\\> \n[127.0.0.1]\n[Id]\n [id]\n[id] \n";
    conf_case c;
    char err[256];
    ck_assert_msg(conf_case_parse(s, strlen(s), NULL, &c, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(c.expect_stdout.data,
                     "[localhost]: PS C:\\> \n[127.0.0.1]\n[Id]\n [id]\n[id] \n");
    conf_case_free(&c);
}
END_TEST

START_TEST(test_subst)
{
    conf_vars v = {.host = "127.0.0.1",
                   .port = "40123",
                   .url = "http://127.0.0.1:40123/wsman",
                   .path = "/wsman",
                   .user = "CONTOSO\\alice",
                   .password_file = "/tmp/pw",
                   .fixtures = "/fx"};
    const char *in = "{host}:{port} {url} {path} {user} {password_file} {fixtures} "
                     "{lbrace}host} { $_ } {unknown} {{host}} {host";
    size_t n;
    char *out = conf_subst(in, strlen(in), &v, &n);
    ck_assert_str_eq(out, "127.0.0.1:40123 http://127.0.0.1:40123/wsman /wsman CONTOSO\\alice "
                          "/tmp/pw /fx {host} { $_ } {unknown} {127.0.0.1} {host");
    ck_assert_uint_eq(n, strlen(out));
    free(out);
    /* Unknown values leave their placeholder as written. */
    conf_vars partial = {.host = "h"};
    out = conf_subst("{host} {port}", 13, &partial, NULL);
    ck_assert_str_eq(out, "h {port}");
    free(out);
    conf_vars tls = {.tls_cert = "/r/c.crt",
                     .tls_key = "/r/c.key",
                     .tls_wrong_cert = "/r/w.crt",
                     .tls_wrong_key = "/r/w.key"};
    const char *tin = "{tls_cert} {tls_key} {tls_wrong_cert} {tls_wrong_key} {tls_other}";
    out = conf_subst(tin, strlen(tin), &tls, NULL);
    ck_assert_str_eq(out, "/r/c.crt /r/c.key /r/w.crt /r/w.key {tls_other}");
    free(out);
    out = conf_subst("", 0, NULL, &n);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(n, 0);
    free(out);
}
END_TEST

START_TEST(test_split_args)
{
    conf_strv v = {0};
    char err[128];
    ck_assert_int_eq(conf_split_args("  a\tb\n\nc'd e'f \"g\\\\h\\i\" \n", &v, err, sizeof err), 0);
    ck_assert_uint_eq(v.n, 4);
    ck_assert_str_eq(v.v[2], "cd ef");
    ck_assert_str_eq(v.v[3], "g\\h\\i");
    conf_strv_free(&v);
    ck_assert_int_eq(conf_split_args("a\nb \"c\nd", &v, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "line 3") != NULL, "%s", err);
    conf_strv_free(&v);
}
END_TEST

START_TEST(test_load_file)
{
    char dir[] = "/tmp/test_case_file.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/x.case", dir);
    FILE *f = fopen(path, "w");
    fputs(minimal, f);
    fclose(f);
    conf_case c;
    char err[256];
    ck_assert_msg(conf_case_load(path, &c, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(c.id, "x");
    conf_case_free(&c);
    /* The id must match the file's name. */
    char path2[256];
    snprintf(path2, sizeof path2, "%s/y.case", dir);
    rename(path, path2);
    ck_assert_int_eq(conf_case_load(path2, &c, err, sizeof err), -1);
    ck_assert(strstr(err, "file name") != NULL);
    remove(path2);
    ck_assert_int_eq(conf_case_load(path2, &c, err, sizeof err), -1);
    ck_assert(strstr(err, "cannot open") != NULL);
    rmdir(dir);
}
END_TEST

/* The [terminal] step language (term_steps.c). */
START_TEST(test_terminal_steps)
{
    const char *text = "[id]\nt\n[requirement]\nr\n[fixture]\nf.xml\n[args]\n"
                       "[terminal]\n"
                       "size 100x30\n"
                       "# a comment, and a blank line:\n"
                       "\n"
                       "  wait-for [{host}]: PS C:\\>  \n"
                       "send Get-Date{Enter}\n"
                       "send   two  {tab}{C-c}{0}{host}{lbrace}Enter}{Nope} \n"
                       "send-keys C-c Up m-x Escape a\n"
                       "timeout 3\n"
                       "wait-not Working\n"
                       "screen-contains x\n"
                       "screen-not-contains s3cret\n"
                       "screen-contains-ansi \\e[31mred\\\\ C:\\x\n"
                       "cursor-line\n"
                       "wait-cursor-line PS> \n"
                       "sleep 250\n"
                       "wait-exit\n"
                       "[expect-exit]\n0\n";
    conf_case c;
    char err[256];
    ck_assert_msg(conf_case_parse(text, strlen(text), NULL, &c, err, sizeof err) == 0, "%s", err);
    ck_assert(c.has_terminal);
    ck_assert_int_eq(c.term_w, 100);
    ck_assert_int_eq(c.term_h, 30);
    ck_assert_uint_eq(c.nterm, 14);
    ck_assert_int_eq(c.term[0].op, CONF_T_SIZE);
    ck_assert_int_eq(c.term[1].op, CONF_T_WAIT_FOR);
    ck_assert_uint_eq(c.term[1].line, 12);
    /* Leading blanks of the line go, trailing ones of a screen text too. */
    ck_assert_str_eq(c.term[1].arg, "[{host}]: PS C:\\>");
    ck_assert_int_eq(c.term[2].op, CONF_T_SEND);
    ck_assert_uint_eq(c.term[2].nparts, 2);
    ck_assert(!c.term[2].parts[0].key);
    ck_assert_str_eq(c.term[2].parts[0].s, "Get-Date");
    ck_assert(c.term[2].parts[1].key);
    ck_assert_str_eq(c.term[2].parts[1].s, "Enter");
    /* One blank separates; the rest, trailing blank included, is sent. Key
     * names are case-blind; {0}, {host}, {Nope} stay text. */
    const conf_term_step *s3 = &c.term[3];
    ck_assert_uint_eq(s3->nparts, 4);
    ck_assert_str_eq(s3->parts[0].s, "  two  ");
    ck_assert(s3->parts[1].key);
    ck_assert_str_eq(s3->parts[1].s, "Tab");
    ck_assert(s3->parts[2].key);
    ck_assert_str_eq(s3->parts[2].s, "C-c");
    ck_assert(!s3->parts[3].key);
    ck_assert_str_eq(s3->parts[3].s, "{0}{host}{lbrace}Enter}{Nope} ");
    const conf_term_step *s4 = &c.term[4];
    ck_assert_int_eq(s4->op, CONF_T_SEND_KEYS);
    ck_assert_uint_eq(s4->nparts, 5);
    const char *keys[] = {"C-c", "Up", "M-x", "Escape", "a"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert(s4->parts[i].key);
        ck_assert_str_eq(s4->parts[i].s, keys[i]);
    }
    ck_assert_int_eq(c.term[5].op, CONF_T_TIMEOUT);
    ck_assert_int_eq(c.term[5].num, 3);
    ck_assert_int_eq(c.term[6].op, CONF_T_WAIT_NOT);
    ck_assert_int_eq(c.term[7].op, CONF_T_CONTAINS);
    ck_assert_int_eq(c.term[8].op, CONF_T_NOT_CONTAINS);
    ck_assert_int_eq(c.term[9].op, CONF_T_CONTAINS_ANSI);
    ck_assert_str_eq(c.term[9].arg, "\x1b[31mred\\ C:\\x");
    ck_assert_int_eq(c.term[10].op, CONF_T_CURSOR_LINE);
    ck_assert_str_eq(c.term[10].arg, "");
    ck_assert_int_eq(c.term[11].op, CONF_T_WAIT_CURSOR);
    ck_assert_str_eq(c.term[11].arg, "PS>");
    ck_assert_int_eq(c.term[12].op, CONF_T_SLEEP);
    ck_assert_int_eq(c.term[12].num, 250);
    ck_assert_int_eq(c.term[13].op, CONF_T_WAIT_EXIT);
    ck_assert_int_eq(c.expect_exit, 0);
    conf_case_free(&c);

    /* Defaults. */
    const char *small = "[id]\nt\n[requirement]\nr\n[fixture]\nf.xml\n[args]\n[terminal]\n"
                        "wait-for x\n";
    ck_assert_msg(conf_case_parse(small, strlen(small), NULL, &c, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(c.term_w, CONF_TERM_DEFAULT_W);
    ck_assert_int_eq(c.term_h, CONF_TERM_DEFAULT_H);
    ck_assert_uint_eq(c.nterm, 1);
    conf_case_free(&c);

    char kb[32];
    ck_assert_str_eq(conf_term_key("backspace", kb, sizeof kb), "BSpace");
    ck_assert_str_eq(conf_term_key("c-M-Left", kb, sizeof kb), "C-M-Left");
    ck_assert_ptr_null(conf_term_key("Entr", kb, sizeof kb));
    ck_assert_ptr_null(conf_term_key("C-", kb, sizeof kb));
}
END_TEST

START_TEST(test_terminal_errors)
{
    expect_extra_error("[terminal]\n", "[terminal]: no steps");
    expect_extra_error("[terminal]\n# only a comment\n", "no steps");
    expect_extra_error("[terminal]\nwait-for x\ntype y\n",
                       "line 10: [terminal]: unknown step \"type\"");
    expect_extra_error("[terminal]\nwait-for   \n", "wait-for needs an argument");
    expect_extra_error("[terminal]\nsend\n", "send needs an argument");
    expect_extra_error("[terminal]\nwait-exit now\n", "wait-exit takes no argument");
    expect_extra_error("[terminal]\nsize 100\n", "size takes WIDTHxHEIGHT");
    expect_extra_error("[terminal]\nsize 5x30\n", "size takes WIDTHxHEIGHT");
    expect_extra_error("[terminal]\nsize 100x1\n", "size takes WIDTHxHEIGHT");
    expect_extra_error("[terminal]\nwait-for x\nsize 100x30\n", "size must be the first step");
    expect_extra_error("[terminal]\ntimeout 0\n", "timeout takes seconds");
    expect_extra_error("[terminal]\nsleep 1.5\n", "sleep takes milliseconds");
    expect_extra_error("[terminal]\nsend-keys C-c Entr\n", "\"Entr\" is not a key");
    expect_extra_error("[terminal]\nsend x\n[stdin]\nexit\n",
                       "[stdin] cannot be used with [terminal]");
    expect_extra_error("[terminal]\nsend x\n[expect-stdout]\n", "[expect-stdout] cannot be used");
    expect_extra_error("[terminal]\nsend x\n[expect-stderr-contains]\ny\n",
                       "[expect-stderr-contains] cannot be used");
    expect_extra_error("[terminal]\nsend x\n[expect-exit]\n0\n",
                       "[expect-exit] with [terminal] needs a wait-exit step");
}
END_TEST

START_TEST(test_example_cases_parse)
{
    /* The cases shipped in the tree parse (run from the top directory, as
     * `make unit` does; elsewhere the check is skipped). */
    const char *names[] = {"conformance/cases/session.plain-roundtrip.case",
                           "conformance/cases/auth.wrong-password.case",
                           "conformance/cases/auth.basic-over-https.case",
                           "conformance/cases/terminal.prompt-and-exit.case",
                           "conformance/cases/terminal.password-no-echo.case"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (access(names[i], R_OK) != 0) continue;
        conf_case c;
        char err[256];
        ck_assert_msg(conf_case_load(names[i], &c, err, sizeof err) == 0, "%s: %s", names[i], err);
        conf_case_free(&c);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conformance case file");
    TCase *tc = tcase_create("case_file");
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_minimal_defaults);
    tcase_add_test(tc, test_empty_sections);
    tcase_add_test(tc, test_expect_exit_words);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_header_lookalikes);
    tcase_add_test(tc, test_subst);
    tcase_add_test(tc, test_split_args);
    tcase_add_test(tc, test_load_file);
    tcase_add_test(tc, test_terminal_steps);
    tcase_add_test(tc, test_terminal_errors);
    tcase_add_test(tc, test_example_cases_parse);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
