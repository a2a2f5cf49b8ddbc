#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "report_check.h"
#include "terminal.h"
#include "textdiff.h"
#include "tls_cert.h"
#include "wire_check.h"

extern char **environ;

#define DIFF_MAX_LINES 200
#define TAIL_LINES 15
#define MAX_URL 2048

void conf_options_init(conf_options *o)
{
    memset(o, 0, sizeof *o);
    o->jobs = 2;
    o->max_output = CONF_DEFAULT_MAX_OUTPUT;
    o->startup_timeout = 10;
    o->stop_timeout = 10;
}

void conf_result_free(conf_result *r)
{
    free(r->id);
    free(r->requirement);
    free(r->source);
    conf_strv_free(&r->reasons);
    conf_strv_free(&r->notes);
    memset(r, 0, sizeof *r);
}

static void add_buf(conf_strv *v, etsn_buf *b)
{
    (void)conf_strv_push(v, b->data ? (const char *)b->data : "", b->len);
    etsn_buf_free(b);
}

/* --verbose: the client's command line as it is run, rendered safely. */
static void note_argv(conf_strv *notes, const char *label, const conf_strv *argv)
{
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_append_str(&b, label);
    for (size_t i = 0; i < argv->n; i++) {
        etsn_buf_append_str(&b, " ");
        conf_render(&b, argv->v[i], strlen(argv->v[i]), false);
    }
    add_buf(notes, &b);
}

#define FAIL(res, ...)                                                                             \
    do {                                                                                           \
        (res)->verdict = CONF_FAIL;                                                                \
        (void)conf_strv_pushf(&(res)->reasons, __VA_ARGS__);                                       \
    } while (0)

static char *read_small_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    etsn_buf b = ETSN_BUF_INIT;
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        /* Keep the tail: for logs the end is where the story is. */
        if (etsn_buf_append(&b, chunk, (size_t)n) < 0) break;
        if (b.len > 2 * max) etsn_buf_consume(&b, b.len - max);
    }
    close(fd);
    if (b.len > max) etsn_buf_consume(&b, b.len - max);
    if (etsn_buf_append(&b, "", 0) < 0) {
        etsn_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return etsn_buf_steal(&b);
}

/* Adds "label:" and the last lines of a file (a stderr or valgrind log). */
static void add_file_tail(conf_strv *v, const char *label, const char *path)
{
    size_t len = 0;
    char *s = read_small_file(path, 64 * 1024, &len);
    if (!s) return;
    if (len) {
        etsn_buf b = ETSN_BUF_INIT;
        if (etsn_buf_printf(&b, "%s:\n", label) == 0 &&
            conf_tail(&b, s, len, TAIL_LINES, "  ") == 0) {
            if (b.len && b.data[b.len - 1] == '\n') b.len--;
            add_buf(v, &b);
        } else {
            etsn_buf_free(&b);
        }
    }
    free(s);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* URL pieces for the placeholders: "http://127.0.0.1:40123/wsman". */
typedef struct {
    char host[256];
    char port[16];
    char path[MAX_URL];
} url_parts;

static int parse_url(const char *url, url_parts *u)
{
    const char *p = strstr(url, "://");
    if (!p) return -1;
    bool tls = (size_t)(p - url) == 5 && strncmp(url, "https", 5) == 0;
    p += 3;
    const char *hend;
    const char *after;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend) return -1;
        hend++; /* keep the brackets: {host} must be usable in a URL */
        after = hend;
    } else {
        hend = p + strcspn(p, ":/");
        after = hend;
    }
    size_t hlen = (size_t)(hend - p);
    if (!hlen || hlen >= sizeof u->host) return -1;
    memcpy(u->host, p, hlen);
    u->host[hlen] = 0;
    if (*after == ':') {
        after++;
        size_t n = strspn(after, "0123456789");
        if (!n || n >= sizeof u->port) return -1;
        memcpy(u->port, after, n);
        u->port[n] = 0;
        after += n;
    } else {
        strcpy(u->port, tls ? "443" : "80");
    }
    if (*after && *after != '/') return -1;
    snprintf(u->path, sizeof u->path, "%s", *after ? after : "/");
    return 0;
}

/* Waits for the first line of the mock's stdout (its URL). The mock writes
 * into a file rather than a pipe so that nothing it prints later can block
 * it. Returns 0, or -1 with why (the mock may have been reaped: *reaped). */
static int wait_url(pid_t pid, const char *outpath, double timeout, char *url, size_t urllen,
                    bool *reaped, int *status, char *why, size_t whylen)
{
    double deadline = conf_now() + timeout;
    for (;;) {
        int fd = open(outpath, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            char buf[MAX_URL + 2];
            ssize_t n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n > 0) {
                buf[n] = 0;
                char *nl = memchr(buf, '\n', (size_t)n);
                if (nl) {
                    *nl = 0;
                    if (nl > buf && nl[-1] == '\r') nl[-1] = 0;
                    snprintf(url, urllen, "%s", buf);
                    return 0;
                }
                if ((size_t)n >= sizeof buf - 1) {
                    snprintf(why, whylen, "the mock's first line is longer than %d bytes", MAX_URL);
                    return -1;
                }
            }
        }
        if (waitpid(pid, status, WNOHANG) == pid) {
            *reaped = true;
            if (WIFEXITED(*status))
                snprintf(why, whylen, "the mock exited with status %d before printing its URL",
                         WEXITSTATUS(*status));
            else
                snprintf(why, whylen, "the mock died of signal %d before printing its URL",
                         WIFSIGNALED(*status) ? WTERMSIG(*status) : 0);
            return -1;
        }
        if (conf_interrupted) {
            snprintf(why, whylen, "interrupted");
            return -1;
        }
        if (conf_now() >= deadline) {
            snprintf(why, whylen, "the mock printed no URL line within %.0f s", timeout);
            return -1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static bool env_is(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static void env_remove(conf_strv *env, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < env->n; i++) {
        if (env_is(env->v[i], name))
            free(env->v[i]);
        else
            env->v[k++] = env->v[i];
    }
    env->n = k;
    if (env->v) env->v[k] = NULL;
}

static int env_set(conf_strv *env, const char *name, const char *value)
{
    env_remove(env, name);
    etsn_buf b = ETSN_BUF_INIT;
    int rc = etsn_buf_printf(&b, "%s=%s", name, value);
    if (rc == 0) rc = conf_strv_push(env, (const char *)b.data, b.len);
    etsn_buf_free(&b);
    return rc;
}

/* The case's [env] on top of env: all of it, or (krb5_only, for the mock)
 * only the KRB5* variables, so that a case with its own Kerberos setup
 * gives the mock the same one. */
static int apply_case_env(const conf_case *c, const conf_vars *vars, bool krb5_only, conf_strv *env)
{
    for (size_t i = 0; i < c->env.n; i++) {
        const char *e = c->env.v[i];
        const char *name = e[0] == '-' ? e + 1 : e;
        if (krb5_only && strncmp(name, "KRB5", 4) != 0) continue;
        if (e[0] == '-') {
            env_remove(env, name);
            continue;
        }
        const char *eq = strchr(e, '=');
        char *n = strndup(e, (size_t)(eq - e));
        char *value = conf_subst(eq + 1, strlen(eq + 1), vars, NULL);
        int rc = n && value ? env_set(env, n, value) : -1;
        free(n);
        free(value);
        if (rc < 0) return -1;
    }
    return 0;
}

/* The mock's environment: the runner's, with the run's private krb5.conf
 * (the acceptor's GSSAPI reads it too) unless the case names its own. */
static int build_mock_env(const conf_options *o, const conf_case *c, const conf_vars *mv,
                          conf_strv *env)
{
    for (char **e = environ; e && *e; e++)
        if (conf_strv_push(env, *e, strlen(*e)) < 0) return -1;
    if (o->krb5_config && env_set(env, "KRB5_CONFIG", o->krb5_config) < 0) return -1;
    if (apply_case_env(c, mv, true, env) < 0) return -1;
    if (!env->v && conf_strv_push(env, "ETSN_CONFORM=1", 14) < 0) return -1;
    return 0;
}

/* The client's environment: the runner's, minus anything that could leak a
 * password file or a previous run's settings in, plus the run's private
 * krb5.conf, plus the case's. */
static int build_env(const conf_options *o, const conf_case *c, const conf_vars *vars,
                     const char *pwfile, conf_strv *env)
{
    for (char **e = environ; e && *e; e++) {
        if (env_is(*e, "ETSN_PASSWORD_FILE") || strncmp(*e, "ETSN_CONFORM_", 13) == 0) continue;
        if (conf_strv_push(env, *e, strlen(*e)) < 0) return -1;
    }
    if (pwfile && env_set(env, "ETSN_PASSWORD_FILE", pwfile) < 0) return -1;
    if (env_set(env, "ETSN_CONFORM_URL", vars->url) < 0 ||
        env_set(env, "ETSN_CONFORM_HOST", vars->host) < 0 ||
        env_set(env, "ETSN_CONFORM_PORT", vars->port) < 0 ||
        env_set(env, "ETSN_CONFORM_PATH", vars->path) < 0 ||
        env_set(env, "ETSN_CONFORM_CASE", c->id) < 0)
        return -1;
    if (c->user && env_set(env, "ETSN_CONFORM_USER", c->user) < 0) return -1;
    if (o->client && env_set(env, "ETSN_CONFORM_CLIENT", o->client) < 0) return -1;
    if (o->krb5_config && env_set(env, "KRB5_CONFIG", o->krb5_config) < 0) return -1;
    if (apply_case_env(c, vars, false, env) < 0) return -1;
    if (!env->v && conf_strv_push(env, "ETSN_CONFORM=1", 14) < 0) return -1;
    return 0;
}

static int push_valgrind(const conf_options *o, conf_strv *argv, const char *log)
{
    char vg[PATH_MAX];
    if (conf_find_program("valgrind", vg, sizeof vg) < 0) return -1;
    const char *fixed[] = {vg, "-q", "--error-exitcode=99", "--leak-check=full",
                           "--errors-for-leak-kinds=definite",
                           /* deep enough for the suppressions of leaks
                            * inside gss-ntlmssp and MIT krb5 to match */
                           "--num-callers=50", "--track-fds=no"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (conf_strv_push(argv, fixed[i], strlen(fixed[i])) < 0) return -1;
    char opt[PATH_MAX + 32];
    if (o->valgrind_supp) {
        snprintf(opt, sizeof opt, "--suppressions=%s", o->valgrind_supp);
        if (conf_strv_push(argv, opt, strlen(opt)) < 0) return -1;
    }
    /* Into a file: valgrind's messages must not disturb [expect-stderr]. */
    snprintf(opt, sizeof opt, "--log-file=%s", log);
    return conf_strv_push(argv, opt, strlen(opt));
}

static int push_subst(conf_strv *v, const char *s, const conf_vars *vars)
{
    size_t n;
    char *t = conf_subst(s, strlen(s), vars, &n);
    if (!t) return -1;
    int rc = conf_strv_push(v, t, n);
    free(t);
    return rc;
}

static const char *exit_text(const conf_proc_result *r, char *buf, size_t len)
{
    if (r->exited)
        snprintf(buf, len, "exit status %d", r->exit_code);
    else if (r->signal)
        snprintf(buf, len, "killed by signal %d (%s)", r->signal, strsignal(r->signal));
    else
        snprintf(buf, len, "unknown end");
    return buf;
}

/* Checks one stream against the case's expectations for it. */
static void check_stream(conf_result *res, const char *name, const conf_capture *cap,
                         const conf_text *exact, const conf_strv *contains,
                         const conf_strv *not_contains, const conf_vars *vars)
{
    const char *data = cap->data.data ? (const char *)cap->data.data : "";
    size_t len = cap->data.len;
    bool cut = conf_capture_truncated(cap);
    if (exact->present) {
        size_t elen;
        char *want = conf_subst(exact->data, exact->len, vars, &elen);
        if (!want) {
            FAIL(res, "runner: out of memory");
        } else if (cut) {
            FAIL(res,
                 "%s: %llu bytes exceed the capture bound of %zu; [expect-%s] cannot be compared",
                 name, (unsigned long long)cap->total, cap->limit, name);
        } else if (elen != len || memcmp(want, data, len) != 0) {
            etsn_buf b = ETSN_BUF_INIT;
            if (etsn_buf_printf(&b, "%s differs from [expect-%s]:\n", name, name) == 0 &&
                conf_diff(&b, want, elen, data, len, "  ", DIFF_MAX_LINES) == 0) {
                if (b.len && b.data[b.len - 1] == '\n') b.len--;
                res->verdict = CONF_FAIL;
                add_buf(&res->reasons, &b);
            } else {
                etsn_buf_free(&b);
                FAIL(res, "%s differs from [expect-%s]", name, name);
            }
        }
        free(want);
    }
    for (size_t i = 0; i < contains->n; i++) {
        size_t wl;
        char *want = conf_subst(contains->v[i], strlen(contains->v[i]), vars, &wl);
        if (!want) continue;
        if (!memmem(data, len, want, wl)) {
            etsn_buf b = ETSN_BUF_INIT;
            etsn_buf_printf(&b, "%s lacks \"", name);
            conf_render(&b, want, wl, true);
            etsn_buf_printf(&b, "\"%s", cut ? " (in the stored part; output was cut)" : "");
            res->verdict = CONF_FAIL;
            add_buf(&res->reasons, &b);
        }
        free(want);
    }
    for (size_t i = 0; i < not_contains->n; i++) {
        size_t wl;
        char *want = conf_subst(not_contains->v[i], strlen(not_contains->v[i]), vars, &wl);
        if (!want) continue;
        if (memmem(data, len, want, wl)) {
            etsn_buf b = ETSN_BUF_INIT;
            etsn_buf_printf(&b, "%s contains the forbidden \"", name);
            conf_render(&b, want, wl, true);
            etsn_buf_append_str(&b, "\"");
            res->verdict = CONF_FAIL;
            add_buf(&res->reasons, &b);
        }
        free(want);
    }
}

static bool wants_stdout_text(const conf_case *c)
{
    return c->expect_stdout.present || c->stdout_contains.n || c->stdout_not_contains.n;
}

static bool wants_stderr_text(const conf_case *c)
{
    return c->expect_stderr.present || c->stderr_contains.n || c->stderr_not_contains.n;
}

/* Returns true when the case is skipped (reason recorded). */
static bool check_requires(const conf_options *o, const conf_case *c, conf_result *res)
{
    for (size_t i = 0; i < c->requires.n; i++) {
        const char *r = c->requires.v[i];
        char path[PATH_MAX];
        if (strcmp(r, "no-adapter") == 0) {
            if (o->adapter) {
                (void)conf_strv_pushf(&res->reasons,
                                      "not run with --adapter ([requires] no-adapter)");
                return true;
            }
        } else if (strcmp(r, "no-valgrind") == 0) {
            if (o->valgrind) {
                (void)conf_strv_pushf(&res->reasons,
                                      "not run with --valgrind ([requires] no-valgrind)");
                return true;
            }
        } else if (conf_find_program(r, path, sizeof path) < 0) {
            (void)conf_strv_pushf(&res->reasons, "requires %s, which is not on PATH", r);
            return true;
        }
    }
    /* A terminal case needs tmux whatever it lists. */
    if (c->has_terminal) {
        char path[PATH_MAX];
        if (conf_find_program("tmux", path, sizeof path) < 0) {
            (void)conf_strv_pushf(&res->reasons,
                                  "requires tmux, which is not on PATH ([terminal])");
            return true;
        }
    }
    return false;
}

static bool mentions_tls(const conf_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        if (strstr(v->v[i], "{tls_")) return true;
    return false;
}

static bool uses_tls(const conf_case *c)
{
    if (mentions_tls(&c->args) || mentions_tls(&c->mockd_args) || mentions_tls(&c->env))
        return true;
    for (size_t i = 0; i < c->nterm; i++)
        if (c->term[i].arg && strstr(c->term[i].arg, "{tls_")) return true;
    return false;
}

/* The exit status of a terminal case, as its wrapper shell reported it. */
static void check_term_exit(const conf_options *o, const conf_case *c, int st, const char *cvg,
                            conf_result *res)
{
    char sig[64] = "";
    if (st > 128 && st <= 128 + 64)
        snprintf(sig, sizeof sig, " (from the shell: signal %d?)", st - 128);
    if (o->valgrind && st == 99) {
        FAIL(res, "valgrind found errors in the client (exit 99)");
        add_file_tail(&res->reasons, "client valgrind log", cvg);
    } else if (c->expect_exit == CONF_EXIT_NONZERO) {
        if (st == 0) FAIL(res, "exit status: expected nonzero, got 0");
    } else if (c->expect_exit >= 0) {
        if (st != c->expect_exit)
            FAIL(res, "exit status: expected %d, got exit status %d%s", c->expect_exit, st, sig);
    } else if (*sig) {
        FAIL(res, "client exit status %d%s", st, sig);
    }
}

void conf_run_case(const conf_options *o, const conf_case *c, conf_result *res)
{
    double t0 = conf_now();
    memset(res, 0, sizeof *res);
    res->id = strdup(c->id);
    res->requirement = strdup(c->requirement);
    res->source = c->source ? strdup(c->source) : NULL;
    res->verdict = CONF_PASS;
    if (check_requires(o, c, res)) {
        res->verdict = CONF_SKIP;
        return;
    }

    const double stretch =
        (o->valgrind ? CONF_VALGRIND_STRETCH : 1) * (o->timeout_factor > 0 ? o->timeout_factor : 1);
    char dir[PATH_MAX], fixture[PATH_MAX], report[PATH_MAX + 16], mout[PATH_MAX + 16],
        merr[PATH_MAX + 16], pwfile[PATH_MAX + 16], cvg[PATH_MAX + 16], mvg[PATH_MAX + 16];
    const char *base = o->tmp_base ? o->tmp_base : getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(dir, sizeof dir, "%s/etsn-conform.%.64s.XXXXXX", base, c->id);
    if (!mkdtemp(dir)) {
        FAIL(res, "runner: cannot create a temporary directory in %s: %s", base, strerror(errno));
        return;
    }
    snprintf(report, sizeof report, "%s/report.json", dir);
    snprintf(mout, sizeof mout, "%s/mockd.stdout", dir);
    snprintf(merr, sizeof merr, "%s/mockd.stderr", dir);
    snprintf(pwfile, sizeof pwfile, "%s/password", dir);
    snprintf(cvg, sizeof cvg, "%s/client.valgrind", dir);
    snprintf(mvg, sizeof mvg, "%s/mockd.valgrind", dir);
    snprintf(fixture, sizeof fixture, "%s/%s", o->fixtures_dir, c->fixture);

    conf_strv margv = {0}, cargv = {0}, env = {0}, menv = {0};
    conf_capture out, err;
    size_t out_keep = wants_stdout_text(c) ? o->max_output : CONF_DIAG_OUTPUT;
    size_t err_keep = wants_stderr_text(c) ? o->max_output : CONF_DIAG_OUTPUT;
    conf_capture_init(&out, out_keep < o->max_output ? out_keep : o->max_output);
    conf_capture_init(&err, err_keep < o->max_output ? err_keep : o->max_output);
    char *stdin_text = NULL;
    size_t stdin_len = 0;
    conf_json *rep = NULL;
    pid_t mpid = -1;
    bool mreaped = false;
    int mstatus = 0;
    char why[512] = "";
    char url[MAX_URL + 2] = "";
    url_parts up;
    conf_vars vars = {.host = "127.0.0.1",
                      .user = c->user,
                      .fixtures = o->fixtures_dir,
                      .tls_cert = o->tls_cert,
                      .tls_key = o->tls_key,
                      .tls_wrong_cert = o->tls_wrong_cert,
                      .tls_wrong_key = o->tls_wrong_key};

    if (uses_tls(c)) {
        if (!o->tls_cert) {
            FAIL(res, "runner: no TLS certificate for the {tls_*} placeholders: %s",
                 o->tls_error ? o->tls_error : "not made (run through conf_run_suite)");
            goto cleanup;
        }
        if (o->keep && o->tls_dir)
            (void)conf_strv_pushf(&res->notes, "kept: TLS files in %s", o->tls_dir);
    }
    if (access(fixture, R_OK) < 0) {
        FAIL(res, "fixture %s: %s", fixture, strerror(errno));
        goto cleanup;
    }
    bool have_pw = c->password != NULL;
    if (have_pw) {
        int fd = open(pwfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        size_t plen = strlen(c->password);
        if (fd < 0 || write(fd, c->password, plen) != (ssize_t)plen) {
            FAIL(res, "runner: cannot write the password file: %s", strerror(errno));
            if (fd >= 0) close(fd);
            goto cleanup;
        }
        close(fd);
        vars.password_file = pwfile;
    }

    /* The mock. */
    if (o->valgrind && push_valgrind(o, &margv, mvg) < 0) {
        FAIL(res, "runner: valgrind not found");
        goto cleanup;
    }
    const char *mfixed[] = {o->mockd, "--listen", "127.0.0.1:0", "--fixture",
                            fixture,  "--report", report};
    for (size_t i = 0; i < sizeof mfixed / sizeof mfixed[0]; i++)
        if (conf_strv_push(&margv, mfixed[i], strlen(mfixed[i])) < 0) goto oom;
    {
        /* Only what is known before the mock runs. */
        conf_vars mv = {.host = "127.0.0.1",
                        .user = c->user,
                        .fixtures = o->fixtures_dir,
                        .tls_cert = o->tls_cert,
                        .tls_key = o->tls_key,
                        .tls_wrong_cert = o->tls_wrong_cert,
                        .tls_wrong_key = o->tls_wrong_key};
        for (size_t i = 0; i < c->mockd_args.n; i++)
            if (push_subst(&margv, c->mockd_args.v[i], &mv) < 0) goto oom;
        /* The case's own met:/unmet: ids join the fixture's expectations
         * in the report (etsn-mockd --expect ID). */
        for (size_t i = 0; i < c->nreport; i++) {
            const conf_report_check *k = &c->report[i];
            if (k->kind != CONF_REPORT_MET && k->kind != CONF_REPORT_UNMET) continue;
            if (conf_strv_push(&margv, "--expect", 8) < 0 ||
                conf_strv_push(&margv, k->arg, strlen(k->arg)) < 0)
                goto oom;
        }
        if (build_mock_env(o, c, &mv, &menv) < 0) goto oom;
    }
    {
        int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int fo = open(mout, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int fe = open(merr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (nul < 0 || fo < 0 || fe < 0) {
            FAIL(res, "runner: cannot open the mock's output files: %s", strerror(errno));
        } else {
            mpid = conf_spawn(margv.v, menv.v, nul, fo, fe, why, sizeof why);
            if (mpid < 0) FAIL(res, "mock: %s", why);
        }
        if (nul >= 0) close(nul);
        if (fo >= 0) close(fo);
        if (fe >= 0) close(fe);
        if (mpid < 0) goto cleanup;
    }
    if (wait_url(mpid, mout, o->startup_timeout * stretch, url, sizeof url, &mreaped, &mstatus, why,
                 sizeof why) < 0) {
        FAIL(res, "mock: %s", why);
        add_file_tail(&res->reasons, "mock stderr", merr);
        goto stop_mock;
    }
    if (parse_url(url, &up) < 0) {
        FAIL(res, "mock: its first line is not a URL: \"%s\"", url);
        goto stop_mock;
    }
    vars.url = url;
    vars.host = up.host;
    vars.port = up.port;
    vars.path = up.path;
    if (o->verbose) (void)conf_strv_pushf(&res->notes, "mock: pid %d at %s", (int)mpid, url);

    /* The client. */
    if (o->valgrind && push_valgrind(o, &cargv, cvg) < 0) goto oom;
    {
        const char *prog = o->adapter ? o->adapter : o->client;
        if (conf_strv_push(&cargv, prog, strlen(prog)) < 0) goto oom;
        for (size_t i = 0; i < c->args.n; i++)
            if (push_subst(&cargv, c->args.v[i], &vars) < 0) goto oom;
    }
    if (build_env(o, c, &vars, have_pw ? pwfile : NULL, &env) < 0) goto oom;
    if (c->has_terminal) {
        if (o->verbose) note_argv(&res->notes, "client (in tmux):", &cargv);
        /* The terminal is the pane: its TERM (tmux's default-terminal), its
         * size. What the runner's own terminal said does not apply, unless
         * the case's [env] says otherwise. */
        static const char *const tty_vars[] = {"TERM", "COLUMNS", "LINES"};
        for (size_t i = 0; i < sizeof tty_vars / sizeof tty_vars[0]; i++) {
            bool own = false;
            for (size_t k = 0; k < c->env.n; k++)
                if (env_is(c->env.v[k], tty_vars[i])) own = true;
            if (!own) env_remove(&env, tty_vars[i]);
        }
        if (!env.n && conf_strv_push(&env, "ETSN_CONFORM=1", 14) < 0) goto oom;
        char tmux_path[PATH_MAX];
        if (conf_find_program("tmux", tmux_path, sizeof tmux_path) < 0) {
            FAIL(res, "runner: tmux is no longer on PATH");
            goto stop_mock;
        }
        conf_term_job tj = {.tmux = tmux_path,
                            .dir = dir,
                            .argv = cargv.v,
                            .env = env.v,
                            .vars = &vars,
                            .c = c,
                            .stretch = stretch};
        conf_term_outcome to;
        conf_term_run(&tj, &to, &res->reasons, &res->notes);
        if (to.failed) res->verdict = CONF_FAIL;
        if (to.exited) check_term_exit(o, c, to.status, cvg, res);
        if (o->verbose)
            (void)conf_strv_pushf(&res->notes, "client: terminal script %s after %.2f s%s",
                                  to.failed ? "failed" : "done", to.seconds,
                                  to.exited ? "" : ", client killed at the end");
        goto stop_mock;
    }
    if (c->stdin_text.present) {
        stdin_text = conf_subst(c->stdin_text.data, c->stdin_text.len, &vars, &stdin_len);
        if (!stdin_text) goto oom;
    }
    if (o->verbose) note_argv(&res->notes, "client:", &cargv);
    conf_proc_result pr;
    int timeout_ms = (int)(c->timeout_s * 1000 * stretch);
    if (conf_run_captured(cargv.v, env.v, stdin_text, stdin_len, timeout_ms, &out, &err, &pr) < 0) {
        FAIL(res, "client: %s", pr.spawn_error);
        goto stop_mock;
    }
    char et[96];
    if (o->verbose)
        (void)conf_strv_pushf(&res->notes,
                              "client: %s after %.2f s, %llu bytes stdout, %llu bytes stderr",
                              exit_text(&pr, et, sizeof et), pr.seconds,
                              (unsigned long long)out.total, (unsigned long long)err.total);
    bool client_bad = false;
    if (pr.interrupted) {
        FAIL(res, "interrupted");
        goto stop_mock;
    }
    if (pr.timed_out) {
        FAIL(res, "client timed out after %d s ([timeout] %d%s) and was killed", timeout_ms / 1000,
             c->timeout_s, o->valgrind ? ", x10 under valgrind" : "");
        client_bad = true;
    } else if (o->valgrind && pr.exited && pr.exit_code == 99) {
        FAIL(res, "valgrind found errors in the client (exit 99)");
        add_file_tail(&res->reasons, "client valgrind log", cvg);
        client_bad = true;
    } else if (c->expect_exit == CONF_EXIT_NONZERO) {
        if (pr.exited && pr.exit_code == 0) {
            FAIL(res, "exit status: expected nonzero, got 0");
            client_bad = true;
        }
    } else if (c->expect_exit >= 0 && !(pr.exited && pr.exit_code == c->expect_exit)) {
        FAIL(res, "exit status: expected %d, got %s", c->expect_exit,
             exit_text(&pr, et, sizeof et));
        client_bad = true;
    } else if (c->expect_exit == CONF_EXIT_ANY && !pr.exited) {
        /* Even with any status accepted, a crash is not an answer. */
        FAIL(res, "client %s", exit_text(&pr, et, sizeof et));
        client_bad = true;
    }
    check_stream(res, "stdout", &out, &c->expect_stdout, &c->stdout_contains,
                 &c->stdout_not_contains, &vars);
    check_stream(res, "stderr", &err, &c->expect_stderr, &c->stderr_contains,
                 &c->stderr_not_contains, &vars);
    if (c->expect_stdout_lines >= 0 && conf_capture_lines(&out) != (uint64_t)c->expect_stdout_lines)
        FAIL(res, "stdout has %llu lines, expected %ld",
             (unsigned long long)conf_capture_lines(&out), c->expect_stdout_lines);
    if (client_bad && err.data.len && !c->expect_stderr.present) {
        etsn_buf b = ETSN_BUF_INIT;
        if (etsn_buf_append_str(&b, "client stderr:\n") == 0 &&
            conf_tail(&b, (const char *)err.data.data, err.data.len, TAIL_LINES, "  ") == 0) {
            if (b.len && b.data[b.len - 1] == '\n') b.len--;
            add_buf(&res->reasons, &b);
        } else {
            etsn_buf_free(&b);
        }
    }

stop_mock:
    if (mpid > 0 && !mreaped) {
        /* The mock writes its report on SIGTERM; only if it ignores that does
         * it get SIGKILL, and then there is no report to read. */
        kill(mpid, SIGTERM);
        if (conf_wait_pid(mpid, (int)(o->stop_timeout * stretch * 1000), &mstatus) != 0) {
            kill(-mpid, SIGKILL);
            kill(mpid, SIGKILL);
            while (waitpid(mpid, &mstatus, 0) < 0 && errno == EINTR) {
            }
            if (!conf_interrupted)
                FAIL(res, "mock did not exit within %.0f s of SIGTERM; killed",
                     o->stop_timeout * stretch);
            mreaped = true;
            goto cleanup;
        }
        mreaped = true;
        /* Anything the mock started goes with it. */
        kill(-mpid, SIGKILL);
        if (res->verdict == CONF_FAIL && !url[0]) goto cleanup; /* never came up */
        if (o->valgrind && WIFEXITED(mstatus) && WEXITSTATUS(mstatus) == 99) {
            FAIL(res, "valgrind found errors in the mock (exit 99)");
            add_file_tail(&res->reasons, "mock valgrind log", mvg);
        } else if (!WIFEXITED(mstatus) || WEXITSTATUS(mstatus) != 0) {
            if (WIFEXITED(mstatus))
                FAIL(res, "mock exited with status %d", WEXITSTATUS(mstatus));
            else
                FAIL(res, "mock died of signal %d", WIFSIGNALED(mstatus) ? WTERMSIG(mstatus) : 0);
            add_file_tail(&res->reasons, "mock stderr", merr);
        }
        if (!url[0]) goto cleanup;
        char rerr[512];
        rep = conf_report_load(report, rerr, sizeof rerr);
        if (!rep) {
            FAIL(res, "mock: %s", rerr);
        } else if (conf_report_evaluate(rep, c, &res->reasons) != 0) {
            res->verdict = CONF_FAIL;
        }
        if (rep && conf_wire_evaluate(rep, &c->expect_wire, &vars, &res->reasons) != 0)
            res->verdict = CONF_FAIL;
    }
    goto cleanup;

oom:
    FAIL(res, "runner: out of memory");
    if (mpid > 0 && !mreaped) goto stop_mock;
cleanup:
    if (mpid > 0 && !mreaped) {
        kill(mpid, SIGKILL);
        while (waitpid(mpid, &mstatus, 0) < 0 && errno == EINTR) {
        }
    }
    if (res->verdict == CONF_FAIL && o->verbose) add_file_tail(&res->notes, "mock stderr", merr);
    if (o->keep)
        (void)conf_strv_pushf(&res->notes, "kept: %s", dir);
    else
        remove_tree(dir);
    conf_json_free(rep);
    if (stdin_text) free(stdin_text);
    conf_capture_free(&out);
    conf_capture_free(&err);
    conf_strv_free(&margv);
    conf_strv_free(&cargv);
    conf_strv_free(&env);
    conf_strv_free(&menv);
    res->seconds = conf_now() - t0;
}

void conf_run_case_file(const conf_options *o, const char *path, conf_result *res)
{
    conf_case c;
    char err[512];
    if (conf_case_load(path, &c, err, sizeof err) < 0) {
        memset(res, 0, sizeof *res);
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        size_t n = strlen(base);
        if (n > 5 && strcmp(base + n - 5, ".case") == 0) n -= 5;
        res->id = strndup(base, n);
        res->verdict = CONF_FAIL;
        (void)conf_strv_pushf(&res->reasons, "case file %s: %s", path, err);
        return;
    }
    conf_run_case(o, &c, res);
    conf_case_free(&c);
}

/* Appends text with every line indented. */
static int put_indented(etsn_buf *out, const char *indent, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (etsn_buf_append_str(out, indent) < 0 || etsn_buf_append(out, p, n) < 0 ||
            etsn_buf_append_byte(out, '\n') < 0)
            return -1;
        p += n;
        if (*p) p++;
    }
    return 0;
}

int conf_format_result(const conf_result *r, bool verbose, etsn_buf *out)
{
    static const char *names[] = {"PASS", "FAIL", "SKIP"};
    if (etsn_buf_printf(out, "%s %s\n", names[r->verdict], r->id ? r->id : "?") < 0) return -1;
    if (r->verdict == CONF_FAIL && r->requirement) {
        /* h2spec style: a failure quotes what it was checking. */
        etsn_buf q = ETSN_BUF_INIT;
        int rc = etsn_buf_printf(&q, "requirement: %s", r->requirement);
        if (rc == 0 && r->source) rc = etsn_buf_printf(&q, "\nsource: %s", r->source);
        if (rc == 0) rc = put_indented(out, "    ", (const char *)q.data);
        etsn_buf_free(&q);
        if (rc < 0) return -1;
    }
    if (r->verdict != CONF_PASS)
        for (size_t i = 0; i < r->reasons.n; i++)
            if (put_indented(out, "    ", r->reasons.v[i]) < 0) return -1;
    /* The kept directory is shown for every case: --keep is asked for to
     * look inside them. The other notes only with --verbose. */
    for (size_t i = 0; i < r->notes.n; i++)
        if ((verbose || strncmp(r->notes.v[i], "kept: ", 6) == 0) &&
            put_indented(out, "    ", r->notes.v[i]) < 0)
            return -1;
    return 0;
}

/* ---- the suite ---- */

typedef struct {
    const conf_options *o;
    char **paths;
    conf_result *results;
    bool *done;
    size_t n, next;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} suite;

static void *worker(void *arg)
{
    suite *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        size_t i = s->next < s->n ? s->next++ : s->n;
        pthread_mutex_unlock(&s->mu);
        if (i >= s->n) return NULL;
        conf_result r;
        if (conf_interrupted) {
            memset(&r, 0, sizeof r);
            const char *base = strrchr(s->paths[i], '/');
            base = base ? base + 1 : s->paths[i];
            r.id = strndup(base, strlen(base) - 5); /* listed files end in .case */
            r.verdict = CONF_FAIL;
            (void)conf_strv_pushf(&r.reasons, "not run: interrupted");
        } else {
            conf_run_case_file(s->o, s->paths[i], &r);
        }
        pthread_mutex_lock(&s->mu);
        s->results[i] = r;
        s->done[i] = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Decides from the file alone whether a case is selected. A file that does
 * not parse is always selected when its name passes the filter, so that a
 * broken case fails loudly rather than vanishing. */
static bool selected(const conf_options *o, const char *path, const char *stem)
{
    if (o->filter && fnmatch(o->filter, stem, 0) != 0) return false;
    if (!o->tags.n) return true;
    conf_case c;
    char err[256];
    if (conf_case_load(path, &c, err, sizeof err) < 0) return true;
    bool any = false;
    for (size_t i = 0; i < o->tags.n && !any; i++) any = conf_case_has_tag(&c, o->tags.v[i]);
    conf_case_free(&c);
    return any;
}

static int run_suite(const conf_options *o);

int conf_make_tls(conf_options *o, const char *dir, char (*paths)[4096], char *err, size_t errlen)
{
    static const char *names[4] = {"localhost.crt", "localhost.key", "wrong-name.crt",
                                   "wrong-name.key"};
    for (int i = 0; i < 4; i++) snprintf(paths[i], 4096, "%s/%s", dir, names[i]);
    /* One for the name the cases connect to (the URL host is 127.0.0.1),
     * one whose name matches nothing the client could be asked for. */
    if (conf_tls_make_cert("localhost", "DNS:localhost,IP:127.0.0.1", paths[0], paths[1], err,
                           errlen) < 0 ||
        conf_tls_make_cert("elsewhere.invalid", "DNS:elsewhere.invalid", paths[2], paths[3], err,
                           errlen) < 0)
        return -1;
    o->tls_cert = paths[0];
    o->tls_key = paths[1];
    o->tls_wrong_cert = paths[2];
    o->tls_wrong_key = paths[3];
    o->tls_dir = dir;
    return 0;
}

int conf_make_krb5_conf(const char *dir, char *path, size_t pathlen, char *err, size_t errlen)
{
    /* No realm at all: SPNEGO in the cases then has nothing to ask a KDC
     * about, and the switches keep MIT krb5 from resolving KDCs, realms or
     * host names should a mechanism look anyway. */
    static const char text[] = "# etsn-conform: Kerberos for one run, no realm, no DNS\n"
                               "[libdefaults]\n"
                               "    dns_lookup_kdc = false\n"
                               "    dns_lookup_realm = false\n"
                               "    rdns = false\n"
                               "    dns_canonicalize_hostname = false\n";
    int n = snprintf(path, pathlen, "%s/krb5.conf", dir);
    if (n < 0 || (size_t)n >= pathlen) {
        snprintf(err, errlen, "path too long: %s/krb5.conf", dir);
        return -1;
    }
    FILE *f = fopen(path, "wx");
    bool ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) ok = false;
    if (!ok) snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return ok ? 0 : -1;
}

int conf_run_suite(const conf_options *given)
{
    /* The run's own copy: the TLS material and krb5.conf are made here, once. */
    conf_options run = *given;
    const conf_options *o = &run;
    char run_dir[PATH_MAX] = "", tls_paths[4][4096], tls_err[512] = "", krb5[PATH_MAX + 16];
    const char *base = run.tmp_base ? run.tmp_base : getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(run_dir, sizeof run_dir, "%s/etsn-conform.run.XXXXXX", base);
    if (!mkdtemp(run_dir)) {
        snprintf(tls_err, sizeof tls_err, "cannot create a temporary directory in %s: %s", base,
                 strerror(errno));
        run_dir[0] = 0;
        if (!run.tls_cert) run.tls_error = tls_err;
    } else if (!run.tls_cert &&
               conf_make_tls(&run, run_dir, tls_paths, tls_err, sizeof tls_err) < 0) {
        run.tls_cert = run.tls_key = run.tls_wrong_cert = run.tls_wrong_key = NULL;
        run.tls_error = tls_err;
    }
    if (!run.krb5_config) {
        /* Without it the cases would use the system's realm and its KDCs:
         * DNS queries and stalls, so the run does not start. */
        char kerr[PATH_MAX + 64] = "";
        if (!run_dir[0])
            snprintf(kerr, sizeof kerr, "%s", tls_err);
        else if (conf_make_krb5_conf(run_dir, krb5, sizeof krb5, kerr, sizeof kerr) == 0)
            run.krb5_config = krb5;
        if (!run.krb5_config) {
            fprintf(stderr, "etsn-conform: no private krb5.conf: %s\n", kerr);
            if (run_dir[0]) remove_tree(run_dir);
            return 2;
        }
    }
    int status = run_suite(o);
    if (run_dir[0] && !run.keep) remove_tree(run_dir);
    return status;
}

static int run_suite(const conf_options *o)
{
    FILE *fout = o->out ? o->out : stdout;
    DIR *d = opendir(o->cases_dir);
    if (!d) {
        fprintf(stderr, "etsn-conform: cannot open %s: %s\n", o->cases_dir, strerror(errno));
        return 2;
    }
    conf_strv paths = {0};
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n <= 5 || strcmp(de->d_name + n - 5, ".case") != 0 || de->d_name[0] == '.') continue;
        char stem[NAME_MAX + 1];
        snprintf(stem, sizeof stem, "%.*s", (int)(n - 5), de->d_name);
        etsn_buf p = ETSN_BUF_INIT;
        if (etsn_buf_printf(&p, "%s/%s", o->cases_dir, de->d_name) < 0)
            rc = -1;
        else if (selected(o, (const char *)p.data, stem) &&
                 conf_strv_push(&paths, (const char *)p.data, p.len) < 0)
            rc = -1;
        etsn_buf_free(&p);
        if (rc < 0) break;
    }
    closedir(d);
    if (rc < 0) {
        conf_strv_free(&paths);
        fprintf(stderr, "etsn-conform: out of memory\n");
        return 2;
    }
    if (paths.n) qsort(paths.v, paths.n, sizeof *paths.v, cmp_str);
    if (!paths.n) fprintf(stderr, "etsn-conform: no case in %s matches\n", o->cases_dir);

    suite s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.paths = paths.v;
    s.n = paths.n;
    s.results = calloc(paths.n ? paths.n : 1, sizeof *s.results);
    s.done = calloc(paths.n ? paths.n : 1, sizeof *s.done);
    if (!s.results || !s.done) {
        free(s.results);
        free(s.done);
        conf_strv_free(&paths);
        return 2;
    }
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    double t0 = conf_now();
    int jobs = o->jobs < 1 ? 1 : o->jobs;
    if ((size_t)jobs > paths.n) jobs = (int)(paths.n ? paths.n : 1);
    pthread_t *th = calloc((size_t)jobs, sizeof *th);
    int started = 0;
    for (int i = 0; th && i < jobs; i++) {
        if (pthread_create(&th[i], NULL, worker, &s) != 0) break;
        started++;
    }
    if (!started) worker(&s); /* no threads to be had: run them here */

    /* Print in case order as results come in, whatever order they finish. */
    size_t passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < s.n; i++) {
        pthread_mutex_lock(&s.mu);
        while (!s.done[i]) pthread_cond_wait(&s.cv, &s.mu);
        pthread_mutex_unlock(&s.mu);
        conf_result *r = &s.results[i];
        if (r->verdict == CONF_PASS)
            passed++;
        else if (r->verdict == CONF_FAIL)
            failed++;
        else
            skipped++;
        etsn_buf b = ETSN_BUF_INIT;
        if (conf_format_result(r, o->verbose, &b) == 0)
            fwrite(b.data, 1, b.len, fout);
        else
            fprintf(fout, "%s %s\n", r->verdict == CONF_FAIL ? "FAIL" : "PASS", r->id);
        etsn_buf_free(&b);
        fflush(fout);
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    double secs = conf_now() - t0;
    if (skipped)
        fprintf(fout, "%zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
    else
        fprintf(fout, "%zu passed, %zu failed\n", passed, failed);
    fflush(fout);

    int status = failed ? 1 : 0;
    if (o->junit) {
        char err[512];
        if (conf_junit_write(o->junit, s.results, s.n, secs, err, sizeof err) < 0) {
            fprintf(stderr, "etsn-conform: %s\n", err);
            status = 2;
        }
    }
    if (conf_interrupted) status = 2;
    for (size_t i = 0; i < s.n; i++) conf_result_free(&s.results[i]);
    free(s.results);
    free(s.done);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    conf_strv_free(&paths);
    return status;
}
