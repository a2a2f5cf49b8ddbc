/* The runner end to end, before the real mock exists: small shell scripts
 * stand in for etsn-mockd (prints a URL, waits for SIGTERM, copies its
 * "fixture" to the report path) and for the client (behaviour chosen by its
 * first argument). Also covers the diff and report checks directly. */
#include <check.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "report_check.h"
#include "runner.h"
#include "textdiff.h"

static char root[64];
static char path_buf[512];

static const char *at(const char *rel)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", root, rel);
    return path_buf;
}

static void write_file(const char *rel, const char *text, mode_t mode)
{
    const char *p = at(rel);
    FILE *f = fopen(p, "w");
    ck_assert_msg(f != NULL, "%s: %s", p, strerror(errno));
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "r");
    if (!f) return NULL;
    etsn_buf b = ETSN_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) etsn_buf_append(&b, chunk, n);
    etsn_buf_append(&b, "", 0);
    fclose(f);
    return etsn_buf_steal(&b);
}

/* The fake mock. Fixture names select misbehaviour: *.nourl never prints
 * its URL, *.noterm ignores SIGTERM, *.crash exits 3 on SIGTERM. It records
 * its pid so the test can check that it is gone afterwards. */
static const char *mockd_sh =
    "#!/bin/sh\n"
    "while [ $# -gt 0 ]; do\n"
    "  case \"$1\" in --report) report=$2; shift;; --fixture) fixture=$2; shift;;\n"
    "  --extra) echo \"$2\" > \"$(dirname \"$fixture\")/extra.seen\"; shift;; esac; shift\n"
    "done\n"
    "echo $$ >> \"$(dirname \"$fixture\")/mock.pids\"\n"
    "echo \"${KRB5_CONFIG:-unset}\" > \"$(dirname \"$fixture\")/krb5.seen\"\n"
    "case \"$fixture\" in\n"
    "*.noterm) trap '' TERM;;\n"
    "*.crash) trap 'kill $sp; exit 3' TERM;;\n"
    "*) trap 'cp \"$fixture\" \"$report\"; kill $sp 2>/dev/null; exit 0' TERM;;\n"
    "esac\n"
    "case \"$fixture\" in *.nourl) ;; *) echo \"http://127.0.0.1:4242/wsman\";\n"
    "  echo 'more output the runner must not choke on';; esac\n"
    "while :; do sleep 30 & sp=$!; wait $sp; done\n";

static const char *client_sh =
    "#!/bin/sh\n"
    "mode=$1; shift\n"
    "case \"$mode\" in\n"
    "echo) printf 'args: %s\\n' \"$*\"; printf 'url=%s user=%s\\n' \"$ETSN_CONFORM_URL\" "
    "\"$ETSN_CONFORM_USER\"; cat;;\n"
    "pw) cat \"$ETSN_PASSWORD_FILE\"; echo; ls -l \"$ETSN_PASSWORD_FILE\" | cut -c1-10; "
    "printf '%s\\n' \"$*\";;\n"
    "env) printf '%s|%s|%s\\n' \"$NO_COLOR\" \"${HOME:-unset}\" \"${ETSN_PASSWORD_FILE:-none}\";;\n"
    "spawn) sleep 100 & echo $! > \"$1\"; sleep 100;;\n"
    "exit) echo bye >&2; exit \"$1\";;\n"
    "big) seq 1 \"$1\";;\n"
    "krb5) printf '%s\\n' \"${KRB5_CONFIG:-unset}\"; cat \"$KRB5_CONFIG\";;\n"
    "segv) kill -SEGV $$;;\n"
    /* For terminal cases: a prompt, a line read without echo, colour, a
     * progress text cleared with \r ESC[K, then an exit status. */
    "term) echo $$ > \"$1\"; printf 'Name: '; read name; printf 'Secret: '; stty -echo;\n"
    "  read secret; stty echo; echo; printf 'hello %s, %d chars\\n' \"$name\" \"${#secret}\";\n"
    "  printf 'TERM=%s PW=%s\\n' \"$TERM\" \"${ETSN_PASSWORD_FILE:-none}\";\n"
    "  printf '\\033[31mred\\033[0m\\n'; printf 'working...'; sleep 1; printf '\\r\\033[K';\n"
    "  read x; exit 7;;\n"
    "intr) trap 'echo got-int; exit 5' INT; echo ready; while :; do sleep 0.1; done;;\n"
    "size) stty size; read x;;\n"
    "esac\n";

static const char *report_ok =
    "{\"scenario\":\"s\",\"expectations\":[{\"id\":\"delete-on-exit\",\"description\":"
    "\"Delete sent\",\"met\":true,\"detail\":\"\"}],\"unmatched\":[],\"events\":"
    "[{\"kind\":\"auth-ok\",\"detail\":\"\"}]}\n";
static const char *report_bad =
    "{\"scenario\":\"s\",\"expectations\":[{\"id\":\"delete-on-exit\",\"description\":"
    "\"Delete sent\",\"met\":false,\"detail\":\"no Delete seen\"}],\"unmatched\":"
    "[{\"request\":\"<s:Envelope/>\",\"nearest\":\"create-shell\",\"difference\":\"URI\"}],"
    "\"events\":[]}\n";

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/test_runner.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    mkdir(at("cases"), 0755);
    mkdir(at("fx"), 0755);
    mkdir(at("tmp"), 0755);
    write_file("mockd.sh", mockd_sh, 0755);
    write_file("client.sh", client_sh, 0755);
    write_file("fx/ok.json", report_ok, 0644);
    write_file("fx/bad.json", report_bad, 0644);
    write_file("fx/garbage.json", "{\"expectations\": [}", 0644);
    write_file("fx/x.nourl", report_ok, 0644);
    write_file("fx/x.noterm", report_ok, 0644);
    write_file("fx/x.crash", report_ok, 0644);
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void teardown(void)
{
    rm_rf(root);
}

static void add_case(const char *id, const char *body)
{
    char rel[256], text[8192];
    snprintf(rel, sizeof rel, "cases/%s.case", id);
    snprintf(text, sizeof text, "[id]\n%s\n[requirement]\nreq of %s\n%s", id, id, body);
    write_file(rel, text, 0644);
}

typedef struct {
    int status;
    char *out;
} run_result;

static char client_path[512], mockd_path[512], cases_path[512], fx_path[512], tmp_path[512],
    junit_path[512];

static void base_options(conf_options *o)
{
    conf_options_init(o);
    snprintf(client_path, sizeof client_path, "%s/client.sh", root);
    snprintf(mockd_path, sizeof mockd_path, "%s/mockd.sh", root);
    snprintf(cases_path, sizeof cases_path, "%s/cases", root);
    snprintf(fx_path, sizeof fx_path, "%s/fx", root);
    snprintf(tmp_path, sizeof tmp_path, "%s/tmp", root);
    snprintf(junit_path, sizeof junit_path, "%s/junit.xml", root);
    o->client = client_path;
    o->mockd = mockd_path;
    o->cases_dir = cases_path;
    o->fixtures_dir = fx_path;
    o->tmp_base = tmp_path;
    o->startup_timeout = 2;
    o->stop_timeout = 2;
}

static run_result run(conf_options *o)
{
    char outp[600];
    snprintf(outp, sizeof outp, "%s/out.txt", root);
    FILE *f = fopen(outp, "w+");
    ck_assert_ptr_nonnull(f);
    o->out = f;
    run_result r;
    r.status = conf_run_suite(o);
    fclose(f);
    r.out = slurp(outp);
    return r;
}

static void assert_has(const char *hay, const char *needle)
{
    ck_assert_msg(strstr(hay, needle) != NULL, "output lacks \"%s\":\n%s", needle, hay);
}

/* Every pid the fake mock recorded must be gone (reaped, not a zombie). */
static void assert_mocks_gone(void)
{
    char *pids = slurp(at("fx/mock.pids"));
    if (!pids) return;
    char *p = pids;
    while (*p) {
        long pid = strtol(p, &p, 10);
        if (pid > 0)
            ck_assert_msg(kill((pid_t)pid, 0) < 0 && errno == ESRCH, "mock %ld alive", pid);
        while (*p == '\n') p++;
    }
    free(pids);
}

/* Gone means no such process, or a zombie waiting for init (an orphan the
 * runner killed is reaped by init, asynchronously). */
static bool process_gone(pid_t pid)
{
    for (int i = 0; i < 200; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH) return true;
        char p[64], st[256] = "";
        snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(p, "r");
        if (f) {
            size_t n = fread(st, 1, sizeof st - 1, f);
            st[n] = 0;
            fclose(f);
            const char *rp = strrchr(st, ')');
            if (rp && rp[1] == ' ' && rp[2] == 'Z') return true;
        }
        usleep(10000);
    }
    return false;
}

static bool dir_empty(const char *d)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "[ -z \"$(ls -A '%s')\" ]", d);
    return system(cmd) == 0;
}

START_TEST(test_pass_fail_skip_summary)
{
    add_case("a.echo", "[fixture]\nok.json\n[args]\necho -ComputerName {host} -Port {port} "
                       "-Credential \"{user}\" 'a b'\n[user]\nCONTOSO\\alice\n[stdin]\nGet-Date\n"
                       "%[localhost]: PS>  \n[expect-exit]\n0\n[expect-stdout]\n"
                       "args: -ComputerName 127.0.0.1 -Port 4242 -Credential CONTOSO\\alice a b\n"
                       "url={url} user={user}\nGet-Date\n[localhost]: PS>  \n"
                       "[expect-report]\nmet: delete-on-exit\nunmatched: 0\nevent: auth-ok\n");
    add_case("b.fail", "[source]\nnowhere 1.2\n[fixture]\nbad.json\n[args]\necho x\n[stdin]\n"
                       "line1\nline2\n[expect-stdout]\nargs: x\nurl={url} user=\nline1\nLINE2\n"
                       "[expect-stdout-contains]\nnothere\n");
    add_case("c.skip", "[fixture]\nok.json\n[args]\nx\n[requires]\nno-such-tool-xyz\n");
    conf_options o;
    base_options(&o);
    o.junit = junit_path;
    run_result r = run(&o);
    ck_assert_int_eq(r.status, 1);
    assert_has(r.out, "PASS a.echo\nFAIL b.fail\n    requirement: req of b.fail\n"
                      "    source: nowhere 1.2\n");
    assert_has(r.out, "      @@ -1,4 +1,4 @@\n       args: x\n");
    assert_has(r.out, "      -LINE2\n      +line2\n");
    assert_has(r.out, "    stdout lacks \"nothere\"\n");
    assert_has(r.out, "    mock expectation not met: delete-on-exit (Delete sent)\n"
                      "      detail: no Delete seen\n");
    assert_has(r.out, "    1 unmatched request at the mock, expected 0\n");
    assert_has(r.out, "         difference: URI\n");
    assert_has(r.out, "SKIP c.skip\n    requires no-such-tool-xyz, which is not on PATH\n");
    /* The closing line, alone and last. */
    size_t n = strlen(r.out);
    const char *last = "\n1 passed, 1 failed, 1 skipped\n";
    ck_assert_msg(n > strlen(last) && strcmp(r.out + n - strlen(last), last) == 0, "%s", r.out);
    free(r.out);
    assert_mocks_gone();
    ck_assert_msg(dir_empty(tmp_path), "temp dirs left behind");

    /* JUnit: counts and a failure element with the reasons. */
    xmlDocPtr doc = xmlReadFile(junit_path, NULL, XML_PARSE_NONET);
    ck_assert_ptr_nonnull(doc);
    xmlXPathContextPtr x = xmlXPathNewContext(doc);
    const char *q[][2] = {{"string(/testsuites/testsuite/@tests)", "3"},
                          {"string(/testsuites/testsuite/@failures)", "1"},
                          {"string(/testsuites/testsuite/@skipped)", "1"},
                          {"string(//testcase[@name='b.fail']/@classname)", "conformance"},
                          {"count(//testcase[@name='a.echo']/failure)", "0"},
                          {"count(//testcase[@name='c.skip']/skipped)", "1"}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        xmlXPathObjectPtr obj = xmlXPathEvalExpression(BAD_CAST q[i][0], x);
        xmlChar *v = xmlXPathCastToString(obj);
        ck_assert_msg(strcmp((char *)v, q[i][1]) == 0, "%s = %s", q[i][0], v);
        xmlFree(v);
        xmlXPathFreeObject(obj);
    }
    xmlXPathObjectPtr fo =
        xmlXPathEvalExpression(BAD_CAST "string(//testcase[@name='b.fail']/failure)", x);
    ck_assert_ptr_nonnull(strstr((char *)fo->stringval, "stdout lacks \"nothere\""));
    xmlXPathFreeObject(fo);
    xmlXPathFreeContext(x);
    xmlFreeDoc(doc);
}
END_TEST

START_TEST(test_password_env_and_placeholders)
{
    add_case("pw", "[fixture]\nok.json\n[args]\npw {password_file}\n[password]\ns3cret  \n"
                   "[expect-stdout-contains]\ns3cret  \n-rw-------\n"
                   "[expect-stdout-not-contains]\nhunter2\n");
    add_case("env", "[fixture]\nok.json\n[args]\nenv\n[env]\nNO_COLOR=1 {port}\n-HOME\n"
                    "[expect-stdout]\n1 4242|unset|none\n");
    add_case("mockargs", "[fixture]\nok.json\n[mockd-args]\n--extra {fixtures}/cert.pem\n"
                         "[args]\necho\n");
    conf_options o;
    base_options(&o);
    run_result r = run(&o);
    ck_assert_msg(r.status == 0, "%s", r.out);
    assert_has(r.out, "3 passed, 0 failed\n");
    free(r.out);
    char *seen = slurp(at("fx/extra.seen"));
    ck_assert_ptr_nonnull(seen);
    char want[600];
    snprintf(want, sizeof want, "%s/cert.pem\n", fx_path);
    ck_assert_str_eq(seen, want);
    free(seen);
}
END_TEST

START_TEST(test_exit_status_and_signals)
{
    add_case("e1", "[fixture]\nok.json\n[args]\nexit 3\n[expect-exit]\n0\n");
    add_case("e2", "[fixture]\nok.json\n[args]\nexit 3\n[expect-exit]\nnonzero\n"
                   "[expect-stderr]\nbye\n");
    add_case("e3", "[fixture]\nok.json\n[args]\nsegv\n");
    add_case("e4", "[fixture]\nok.json\n[args]\nexit 0\n[expect-exit]\nnonzero\n");
    conf_options o;
    base_options(&o);
    o.jobs = 4;
    run_result r = run(&o);
    ck_assert_int_eq(r.status, 1);
    assert_has(r.out, "FAIL e1\n    requirement: req of e1\n    exit status: expected 0, got exit "
                      "status 3\n    client stderr:\n      bye\n");
    assert_has(r.out, "PASS e2\nFAIL e3\n");
    assert_has(r.out, "killed by signal 11");
    assert_has(r.out, "exit status: expected nonzero, got 0");
    assert_has(r.out, "1 passed, 3 failed\n");
    free(r.out);
}
END_TEST

START_TEST(test_timeout_kills_group)
{
    char pidfile[600];
    snprintf(pidfile, sizeof pidfile, "%s/grandchild.pid", root);
    char body[1200];
    snprintf(body, sizeof body, "[fixture]\nok.json\n[args]\nspawn %s\n[timeout]\n1\n", pidfile);
    add_case("slow", body);
    conf_options o;
    base_options(&o);
    double t0 = conf_now();
    run_result r = run(&o);
    ck_assert_double_lt(conf_now() - t0, 8.0);
    ck_assert_int_eq(r.status, 1);
    assert_has(r.out, "client timed out after 1 s ([timeout] 1) and was killed");
    free(r.out);
    /* The client's background child went with it. */
    char *pid = slurp(pidfile);
    ck_assert_ptr_nonnull(pid);
    pid_t gp = (pid_t)atol(pid);
    free(pid);
    ck_assert_int_gt(gp, 0);
    ck_assert_msg(process_gone(gp), "grandchild %d survived", (int)gp);
    assert_mocks_gone();
}
END_TEST

START_TEST(test_mock_misbehaviour)
{
    add_case("m1", "[fixture]\nx.nourl\n[args]\necho\n");
    add_case("m2", "[fixture]\nx.noterm\n[args]\necho\n");
    add_case("m3", "[fixture]\nx.crash\n[args]\necho\n");
    add_case("m4", "[fixture]\ngarbage.json\n[args]\necho\n");
    add_case("m5", "[fixture]\nmissing.xml\n[args]\necho\n");
    conf_options o;
    base_options(&o);
    o.startup_timeout = 1;
    o.stop_timeout = 1;
    o.jobs = 5;
    run_result r = run(&o);
    ck_assert_int_eq(r.status, 1);
    assert_has(r.out, "FAIL m1\n    requirement: req of m1\n    mock: the mock printed no URL line "
                      "within 1 s\n");
    assert_has(r.out, "mock did not exit within 1 s of SIGTERM; killed");
    assert_has(r.out, "mock exited with status 3");
    assert_has(r.out, "mock: report is not valid JSON: offset 18");
    assert_has(r.out, "fixture ");
    assert_has(r.out, "0 passed, 5 failed\n");
    free(r.out);
    assert_mocks_gone();
    ck_assert_msg(dir_empty(tmp_path), "temp dirs left behind");
}
END_TEST

START_TEST(test_big_output_streamed)
{
    add_case("big", "[fixture]\nok.json\n[args]\nbig 200000\n[expect-stdout-lines]\n200000\n");
    add_case("bigexact", "[fixture]\nok.json\n[args]\nbig 2000\n[expect-stdout]\n1\n");
    add_case("bigcount", "[fixture]\nok.json\n[args]\nbig 10\n[expect-stdout-lines]\n11\n");
    conf_options o;
    base_options(&o);
    o.max_output = 4096;
    run_result r = run(&o);
    assert_has(r.out, "PASS big\n");
    assert_has(r.out, "exceed the capture bound of 4096");
    assert_has(r.out, "stdout has 10 lines, expected 11");
    free(r.out);
}
END_TEST

START_TEST(test_filter_tags_order_keep_adapter)
{
    for (int i = 9; i >= 0; i--) {
        char id[16], body[256];
        snprintf(id, sizeof id, "n.%d", i);
        snprintf(body, sizeof body, "[fixture]\nok.json\n[args]\necho\n[tags]\n%s\n",
                 i % 2 ? "odd" : "even");
        add_case(id, body);
    }
    add_case("z.broken", "[fixture]\nok.json\n[args]\necho\n[bogus]\n");
    conf_options o;
    base_options(&o);
    o.jobs = 3;
    conf_strv_push(&o.tags, "odd", 3);
    run_result r = run(&o);
    /* Stable order whatever finishes first; a broken file is never hidden. */
    assert_has(r.out, "PASS n.1\nPASS n.3\nPASS n.5\nPASS n.7\nPASS n.9\nFAIL z.broken\n"
                      "    case file ");
    assert_has(r.out, "unknown section [bogus]");
    assert_has(r.out, "5 passed, 1 failed\n");
    free(r.out);
    conf_strv_free(&o.tags);

    base_options(&o);
    o.filter = "n.[12]";
    o.keep = true;
    r = run(&o);
    assert_has(r.out, "PASS n.1\n    kept: ");
    assert_has(r.out, "2 passed, 0 failed\n");
    free(r.out);
    ck_assert(!dir_empty(tmp_path));

    /* The adapter gets the case's argv and the client's path in env. */
    write_file("adapter.sh", "#!/bin/sh\necho \"via adapter: $ETSN_CONFORM_CLIENT $*\"\n", 0755);
    char adapter[600];
    snprintf(adapter, sizeof adapter, "%s/adapter.sh", root);
    add_case("ad", "[fixture]\nok.json\n[args]\n-ComputerName {host}\n[expect-stdout]\n"
                   "via adapter: {lbrace}client} -ComputerName 127.0.0.1\n");
    add_case("ad2", "[fixture]\nok.json\n[args]\necho\n[requires]\nno-adapter\n");
    base_options(&o);
    o.adapter = adapter;
    o.filter = "ad*";
    r = run(&o);
    assert_has(r.out, "FAIL ad\n");
    char want[1200];
    snprintf(want, sizeof want, "+via adapter: %s -ComputerName 127.0.0.1", client_path);
    assert_has(r.out, want);
    assert_has(r.out, "SKIP ad2\n    not run with --adapter");
    free(r.out);

    base_options(&o);
    o.filter = "nothing-matches";
    r = run(&o);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "0 passed, 0 failed\n");
    free(r.out);
}
END_TEST

START_TEST(test_missing_client)
{
    add_case("nc", "[fixture]\nok.json\n[args]\necho\n");
    conf_options o;
    base_options(&o);
    o.client = "/nonexistent/etsn";
    run_result r = run(&o);
    ck_assert_int_eq(r.status, 1);
    assert_has(r.out, "client: cannot execute /nonexistent/etsn");
    free(r.out);
    assert_mocks_gone();

    base_options(&o);
    o.cases_dir = "/nonexistent/cases";
    r = run(&o);
    ck_assert_int_eq(r.status, 2);
    free(r.out);
}
END_TEST

START_TEST(test_diff_rendering)
{
    etsn_buf b = ETSN_BUF_INIT;
    /* Seven unchanged lines between the changes: two hunks (GNU diff
     * joins them when at most 2 * 3 lie between). */
    const char *e = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n";
    const char *a = "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\nl \x1b[0m";
    ck_assert_int_eq(conf_diff(&b, e, strlen(e), a, strlen(a), "", 100), 0);
    ck_assert_str_eq((char *)b.data, "--- expected\n+++ actual\n"
                                     "@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n"
                                     "@@ -9,4 +9,4 @@\n i\n j\n k\n-l\n+l \\x1B[0m\n"
                                     "\\ No newline at end of file\n");
    etsn_buf_reset(&b);
    /* Trailing blanks become visible on changed lines. */
    ck_assert_int_eq(conf_diff(&b, "PS> \n", 5, "PS>\n", 4, "", 100), 0);
    ck_assert_str_eq((char *)b.data, "--- expected\n+++ actual\n@@ -1,1 +1,1 @@\n"
                                     "-PS>\xC2\xB7\n+PS>\n");
    etsn_buf_reset(&b);
    /* Added lines at the end of empty expected text. */
    ck_assert_int_eq(conf_diff(&b, "", 0, "x\n", 2, "  ", 100), 0);
    ck_assert_str_eq((char *)b.data, "  --- expected\n  +++ actual\n  @@ -0,0 +1,1 @@\n  +x\n");
    etsn_buf_reset(&b);
    /* Long diffs are cut. */
    ck_assert_int_eq(conf_diff(&b, "", 0, "1\n2\n3\n4\n5\n6\n", 12, "", 4), 0);
    ck_assert_ptr_nonnull(strstr((char *)b.data, "... (diff truncated)\n"));
    etsn_buf_reset(&b);
    /* Invalid UTF-8 and controls are escaped, valid UTF-8 kept. */
    ck_assert_int_eq(conf_render(&b, "\xC3\xA9\xFF\r\x01\t", 6, false), 0);
    ck_assert_str_eq((char *)b.data, "\xC3\xA9\\xFF\\r\\x01\t");
    etsn_buf_free(&b);
}
END_TEST

START_TEST(test_report_checks)
{
    char err[256];
    ck_assert_ptr_null(conf_report_parse("[]", 2, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
    const char *noid = "{\"expectations\":[{\"met\":true}],\"unmatched\":[]}";
    ck_assert_ptr_null(conf_report_parse(noid, strlen(noid), err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "\"id\""));
    const char *nounm = "{\"expectations\":[]}";
    ck_assert_ptr_null(conf_report_parse(nounm, strlen(nounm), err, sizeof err));

    conf_json *r = conf_report_parse(report_bad, strlen(report_bad), err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    const char *text = "[id]\nx\n[requirement]\nr\n[fixture]\nf\n[args]\n[expect-report]\n"
                       "unmet: delete-on-exit\nunmatched: 1\nno-event: auth-ok\n";
    conf_case c;
    ck_assert_int_eq(conf_case_parse(text, strlen(text), NULL, &c, err, sizeof err), 0);
    conf_strv reasons = {0};
    ck_assert_int_eq(conf_report_evaluate(r, &c, &reasons), 0);
    conf_case_free(&c);
    text = "[id]\nx\n[requirement]\nr\n[fixture]\nf\n[args]\n[expect-report]\n"
           "met: nope\nunmet: nope\nevent: auth-ok\nunmatched: 0\nall-met\n";
    ck_assert_int_eq(conf_case_parse(text, strlen(text), NULL, &c, err, sizeof err), 0);
    ck_assert_int_eq(conf_report_evaluate(r, &c, &reasons), 5);
    ck_assert_uint_eq(reasons.n, 5);
    ck_assert_str_eq(reasons.v[0], "the report has no expectation \"nope\" (met: nope)");
    ck_assert_str_eq(reasons.v[2], "the mock recorded no \"auth-ok\" event");
    conf_strv_free(&reasons);
    conf_case_free(&c);
    conf_json_free(r);
}
END_TEST

static bool have_tmux(void)
{
    char p[512];
    return conf_find_program("tmux", p, sizeof p) == 0;
}

/* [terminal]: the fake client in a tmux pane, driven by the steps. */
START_TEST(test_terminal_cases)
{
    char body[4096], pidfile[600];
    snprintf(pidfile, sizeof pidfile, "%s/term.pid", root);
    snprintf(body, sizeof body,
             "[fixture]\nok.json\n[args]\nterm %s\n[password]\nx\n[terminal]\nsize 60x12\n"
             "wait-for Name:\ncursor-line Name:\nsend alice{Enter}\nwait-for Secret:\n"
             "send s3cret{Enter}\nwait-for hello alice, 6 chars\nscreen-not-contains s3cret\n"
             "screen-contains PW=%s/tmp/etsn-conform.\nscreen-contains-ansi \\e[31mred\n"
             "wait-not working...\ncursor-line\nsend {Enter}\nwait-exit\n[expect-exit]\n7\n",
             pidfile, root);
    add_case("t.ok", body);
    /* The pane's TERM, and [env] may take the password file away. */
    add_case("t.env", "[fixture]\nok.json\n[args]\nterm /dev/null\n[env]\n-ETSN_PASSWORD_FILE\n"
                      "[terminal]\nwait-for Name:\nsend a{Enter}\nwait-for Secret:\nsend b{Enter}\n"
                      "wait-for PW=none\nscreen-contains TERM=tmux\nsend-keys Enter\nwait-exit\n");
    add_case("t.intr", "[fixture]\nok.json\n[args]\nintr\n[terminal]\nwait-for ready\n"
                       "send-keys C-c\nwait-for got-int\nwait-exit\n[expect-exit]\n5\n");
    add_case("t.size", "[fixture]\nok.json\n[args]\nsize\n[terminal]\nsize 50x7\nwait-for 7 50\n"
                       "send x{Enter}\nwait-exit\n[expect-exit]\n0\n");
    /* Failures: a wait that times out (the screen is shown, the client
     * killed), a wrong exit status, a check that does not hold. */
    char pidfile2[600];
    snprintf(pidfile2, sizeof pidfile2, "%s/term2.pid", root);
    snprintf(body, sizeof body,
             "[fixture]\nok.json\n[args]\nterm %s\n[terminal]\ntimeout 1\nwait-for Name:\n"
             "wait-for never shown\nwait-exit\n",
             pidfile2);
    add_case("t.wait", body);
    add_case("t.status", "[fixture]\nok.json\n[args]\nsize\n[terminal]\nwait-for 24 80\n"
                         "send x{Enter}\nwait-exit\n[expect-exit]\n3\n");
    add_case("t.check", "[fixture]\nok.json\n[args]\nintr\n[terminal]\nwait-for ready\n"
                        "screen-not-contains ready\nsend-keys C-c\nwait-exit\n");
    conf_options o;
    base_options(&o);
    o.jobs = 4;
    o.filter = "t.*";
    if (!have_tmux()) {
        run_result r = run(&o);
        assert_has(r.out, "SKIP t.ok\n    requires tmux, which is not on PATH");
        free(r.out);
        return;
    }
    double t0 = conf_now();
    run_result r = run(&o);
    ck_assert_double_lt(conf_now() - t0, 30.0);
    ck_assert_int_eq(r.status, 1);
    assert_has(r.out, "FAIL t.check\n");
    assert_has(r.out, "    [terminal] line 11: screen-not-contains \"ready\": still on the screen\n"
                      "    screen at the end (80x24):\n      |ready\n");
    assert_has(r.out, "PASS t.env\nPASS t.intr\nPASS t.ok\nPASS t.size\nFAIL t.status\n");
    assert_has(r.out, "exit status: expected 3, got exit status 0\n");
    assert_has(r.out, "FAIL t.wait\n");
    assert_has(r.out,
               "    [terminal] line 12: wait-for \"never shown\": not on the screen after 1 s\n"
               "    screen at the end (80x24):\n      |Name:\n");
    assert_has(r.out, "4 passed, 3 failed\n");
    free(r.out);
    /* The client left waiting was killed with its pane; no tmux server
     * or socket stays behind. */
    char *pid = slurp(pidfile2);
    ck_assert_ptr_nonnull(pid);
    ck_assert_msg(process_gone((pid_t)atol(pid)), "client %s survived", pid);
    free(pid);
    assert_mocks_gone();
    ck_assert_msg(dir_empty(tmp_path), "temp dirs left behind");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls /tmp/tmux-%d/ 2>/dev/null | grep -q 'etsn-conform-%d-'",
             (int)getuid(), (int)getpid());
    ck_assert_msg(system(cmd) != 0, "a tmux socket was left behind");

    /* Without tmux on PATH the case is skipped, not failed. */
    const char *path = getenv("PATH");
    char *saved = path ? strdup(path) : NULL;
    setenv("PATH", "/nonexistent", 1);
    base_options(&o);
    o.filter = "t.ok";
    r = run(&o);
    if (saved) setenv("PATH", saved, 1);
    free(saved);
    assert_has(r.out, "SKIP t.ok\n    requires tmux, which is not on PATH ([terminal])\n");
    assert_has(r.out, "0 passed, 0 failed, 1 skipped\n");
    free(r.out);
}
END_TEST

/* The run's TLS material: two self-signed certificates with their keys,
 * the first valid for localhost and 127.0.0.1, the second not. */
START_TEST(test_tls_material)
{
    conf_options o;
    base_options(&o);
    char paths[4][4096], err[512];
    ck_assert_msg(conf_make_tls(&o, tmp_path, paths, err, sizeof err) == 0, "%s", err);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "openssl x509 -in '%s' -noout -subject -ext subjectAltName 2>&1 | tr -d ' ' | "
             "grep -q 'DNS:localhost,IPAddress:127.0.0.1' && "
             "openssl verify -CAfile '%s' '%s' >/dev/null 2>&1 && "
             "openssl x509 -in '%s' -noout -subject | grep -q elsewhere.invalid && "
             "openssl x509 -in '%s' -noout -checkend 80000 >/dev/null && "
             "[ \"$(stat -c %%a '%s')\" = 600 ]",
             o.tls_cert, o.tls_cert, o.tls_cert, o.tls_wrong_cert, o.tls_cert, o.tls_key);
    char probe[600];
    if (conf_find_program("openssl", probe, sizeof probe) == 0)
        ck_assert_msg(system(cmd) == 0, "certificate checks failed: %s", cmd);
    ck_assert_str_eq(o.tls_key, paths[1]);
    ck_assert_str_eq(o.tls_wrong_key, paths[3]);

    /* The placeholders reach the mock's arguments and the client's env;
     * the run's directory is gone afterwards. */
    add_case("tls", "[fixture]\nok.json\n[mockd-args]\n--extra {tls_cert}\n[args]\nenv\n"
                    "[env]\nNO_COLOR={tls_wrong_key}\n[expect-stdout-contains]\n"
                    "/etsn-conform.run.\nwrong-name.key|\n");
    base_options(&o);
    o.filter = "tls";
    run_result r = run(&o);
    ck_assert_msg(r.status == 0, "%s", r.out);
    free(r.out);
    char *seen = slurp(at("fx/extra.seen"));
    ck_assert_ptr_nonnull(seen);
    ck_assert_ptr_nonnull(strstr(seen, "/etsn-conform.run."));
    ck_assert_ptr_nonnull(strstr(seen, "/localhost.crt\n"));
    free(seen);
    for (int i = 0; i < 4; i++) unlink(paths[i]);
    ck_assert_msg(dir_empty(tmp_path), "temp dirs left behind");
}
END_TEST

/* Both programs of a case get the run's private krb5.conf (no realm, no
 * DNS), and a case's own [env] KRB5_CONFIG replaces it for both. */
START_TEST(test_private_krb5_config)
{
    add_case("k1", "[fixture]\nok.json\n[args]\nkrb5\n[expect-stdout-contains]\n"
                   "/etsn-conform.run.\n/krb5.conf\ndns_lookup_kdc = false\n"
                   "dns_lookup_realm = false\nrdns = false\n"
                   "dns_canonicalize_hostname = false\n"
                   "[expect-stdout-not-contains]\ndefault_realm\n");
    write_file("fx/own.conf", "[libdefaults]\n default_realm = OWN.TEST\n", 0644);
    add_case("k2", "[fixture]\nok.json\n[args]\nkrb5\n[env]\nKRB5_CONFIG={fixtures}/own.conf\n"
                   "[expect-stdout-contains]\ndefault_realm = OWN.TEST\n");
    conf_options o;
    base_options(&o);
    o.filter = "k1";
    run_result r = run(&o);
    ck_assert_msg(r.status == 0, "%s", r.out);
    free(r.out);
    char *seen = slurp(at("fx/krb5.seen"));
    ck_assert_ptr_nonnull(seen);
    ck_assert_msg(strstr(seen, "/etsn-conform.run.") && strstr(seen, "/krb5.conf\n"),
                  "mock's KRB5_CONFIG: %s", seen);
    free(seen);
    ck_assert_msg(dir_empty(tmp_path), "temp dirs left behind");

    o.filter = "k2";
    r = run(&o);
    ck_assert_msg(r.status == 0, "%s", r.out);
    free(r.out);
    seen = slurp(at("fx/krb5.seen"));
    char want[600];
    snprintf(want, sizeof want, "%s/own.conf\n", fx_path);
    ck_assert_str_eq(seen, want);
    free(seen);
}
END_TEST

int main(void)
{
    /* As etsn-conform's main does: a client closing stdin early must not
     * kill the runner. */
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("conformance runner");
    TCase *tc = tcase_create("runner");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pass_fail_skip_summary);
    tcase_add_test(tc, test_password_env_and_placeholders);
    tcase_add_test(tc, test_exit_status_and_signals);
    tcase_add_test(tc, test_timeout_kills_group);
    tcase_add_test(tc, test_mock_misbehaviour);
    tcase_add_test(tc, test_big_output_streamed);
    tcase_add_test(tc, test_filter_tags_order_keep_adapter);
    tcase_add_test(tc, test_missing_client);
    tcase_add_test(tc, test_terminal_cases);
    tcase_add_test(tc, test_tls_material);
    tcase_add_test(tc, test_private_krb5_config);
    suite_add_tcase(s, tc);
    TCase *unit = tcase_create("pieces");
    tcase_add_test(unit, test_diff_rendering);
    tcase_add_test(unit, test_report_checks);
    suite_add_tcase(s, unit);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    xmlCleanupParser();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
