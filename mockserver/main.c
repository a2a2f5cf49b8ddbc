/* etsn-mockd: a mock WinRM/PSRP server replaying a scenario fixture.
 *   etsn-mockd --listen 127.0.0.1:0 --fixture FILE [--report FILE]
 *              [--tls-cert PEM --tls-key PEM] [--user-file-dir DIR] [--allow-remote]
 * Prints the endpoint URL as its first line, runs until SIGTERM/SIGINT, then
 * writes the report and exits 0. See docs/mockd.md. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include "engine.h"
#include "fixture.h"
#include "http_server.h"
#include "record.h"
#include "replay.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: etsn-mockd {--fixture FILE | --replay TRANSCRIPT [--fixture BASE]}\n"
               "                  [--listen HOST:PORT] [--report FILE] [--print-scenario]\n"
               "                  [--tls-cert PEM --tls-key PEM] [--user-file-dir DIR]\n"
               "                  [--expect ID]... [--record TRANSCRIPT] [--allow-remote]\n"
               "Serves the scenario in FILE over WinRM (default 127.0.0.1:0, a free port),\n"
               "prints the endpoint URL on the first line of stdout and runs until SIGTERM\n"
               "or SIGINT; then writes the JSON report to --report FILE. Each --expect ID\n"
               "adds an expectation (docs/fixtures.md) to those the fixture lists.\n"
               "--replay plays a recorded transcript to any client (users and auth from\n"
               "BASE when given); --print-scenario prints the scenario it plays and exits.\n"
               "--record writes the conversation it serves (any client's) as a transcript\n"
               "(mode 0600, scrubbed unless ETSN_RECORD_SCRUB=0).\n");
}

/* True for 127.0.0.0/8, ::1 and localhost. */
static bool loopback_listen(const char *listen)
{
    char host[256];
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || (size_t)(end - listen - 1) >= sizeof host) return false;
        memcpy(host, listen + 1, (size_t)(end - listen - 1));
        host[end - listen - 1] = 0;
    } else {
        const char *colon = strrchr(listen, ':');
        size_t len = colon ? (size_t)(colon - listen) : strlen(listen);
        if (len >= sizeof host) return false;
        memcpy(host, listen, len);
        host[len] = 0;
    }
    if (!strcasecmp(host, "localhost") || !strcmp(host, "::1")) return true;
    unsigned a, b, c, d;
    char extra;
    if (sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4)
        return a == 127 && b < 256 && c < 256 && d < 256;
    return false;
}

typedef struct {
    const mock_fixture *fx;
} basic_ctx;

static bool user_matches(const fx_user *u, const char *given)
{
    const char *bs = strchr(given, '\\');
    const char *at = strchr(given, '@');
    if (bs) {
        size_t dl = (size_t)(bs - given);
        return strlen(u->domain) == dl && !strncasecmp(u->domain, given, dl) &&
               !strcasecmp(u->name, bs + 1);
    }
    if (at) {
        size_t nl = (size_t)(at - given);
        return strlen(u->name) == nl && !strncasecmp(u->name, given, nl) &&
               (!*u->domain || !strncasecmp(u->domain, at + 1, strlen(u->domain)));
    }
    return !strcasecmp(u->name, given);
}

static mock_engine *g_engine;
static const mock_fixture *g_fx;

static bool check_basic(void *ctx, const char *user, const char *password)
{
    (void)ctx;
    for (size_t i = 0; i < g_fx->n_users; i++)
        if (user_matches(&g_fx->users[i], user) && !strcmp(g_fx->users[i].password, password))
            return true;
    return false;
}

static int write_user_file(const mock_fixture *fx, const char *base, char *dir, size_t dirlen,
                           char *file, size_t filelen)
{
    snprintf(dir, dirlen, "%s/etsn-mockd.XXXXXX", base);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "etsn-mockd: cannot create a directory under %s: %s\n", base,
                strerror(errno));
        return -1;
    }
    snprintf(file, filelen, "%s/ntlm-users", dir);
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "etsn-mockd: cannot create %s: %s\n", file, strerror(errno));
        rmdir(dir);
        return -1;
    }
    etsn_buf b = ETSN_BUF_INIT;
    for (size_t i = 0; i < fx->n_users; i++)
        etsn_buf_printf(&b, "%s:%s:%s\n", fx->users[i].domain, fx->users[i].name,
                        fx->users[i].password);
    bool ok = b.len == 0 || write(fd, b.data, b.len) == (ssize_t)b.len;
    etsn_buf_free_secure(&b);
    if (close(fd) != 0) ok = false;
    if (!ok) {
        fprintf(stderr, "etsn-mockd: cannot write %s\n", file);
        unlink(file);
        rmdir(dir);
        return -1;
    }
    return 0;
}

/* The fixture, or the scenario of a transcript (replay.h) with the
 * fixture as its base; --print-scenario prints that and returns NULL with
 * err empty. */
static mock_fixture *load_scenario(const char *fixture, const char *replay, bool print, char *err,
                                   size_t errlen)
{
    mock_fixture *base = fixture ? mock_fixture_load(fixture, err, errlen) : NULL;
    if (!replay || (fixture && !base)) return base;
    mock_fixture *fx = NULL;
    if (print) {
        etsn_buf xml = ETSN_BUF_INIT;
        if (mock_replay_scenario(replay, base, &xml, err, errlen) == 0) {
            fwrite(xml.data, 1, xml.len, stdout);
            err[0] = 0;
        }
        etsn_buf_free_secure(&xml);
    } else {
        fx = mock_replay_load(replay, base, err, errlen);
    }
    mock_fixture_free(base);
    return fx;
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:0", *fixture = NULL, *report = NULL, *cert = NULL, *key = NULL,
               *user_dir = NULL, *replay = NULL, *record = NULL;
    bool allow_remote = false, print_scenario = false;
    enum { MAX_EXTRA_EXPECTS = 64 };
    const char *extra_expects[MAX_EXTRA_EXPECTS];
    size_t n_extra_expects = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--listen"))
            dst = &listen;
        else if (!strcmp(a, "--fixture"))
            dst = &fixture;
        else if (!strcmp(a, "--report"))
            dst = &report;
        else if (!strcmp(a, "--tls-cert"))
            dst = &cert;
        else if (!strcmp(a, "--tls-key"))
            dst = &key;
        else if (!strcmp(a, "--user-file-dir"))
            dst = &user_dir;
        else if (!strcmp(a, "--replay"))
            dst = &replay;
        else if (!strcmp(a, "--record"))
            dst = &record;
        else if (!strcmp(a, "--print-scenario")) {
            print_scenario = true;
            continue;
        } else if (!strcmp(a, "--expect")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "etsn-mockd: --expect needs an expectation id\n");
                return 2;
            }
            if (n_extra_expects < MAX_EXTRA_EXPECTS) extra_expects[n_extra_expects++] = argv[++i];
            continue;
        } else if (!strcmp(a, "--allow-remote")) {
            allow_remote = true;
            continue;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "etsn-mockd: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "etsn-mockd: %s needs a value\n", a);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!fixture && !replay) {
        fprintf(stderr, "etsn-mockd: --fixture FILE or --replay TRANSCRIPT is required\n");
        usage(stderr);
        return 2;
    }
    if (!cert != !key) {
        fprintf(stderr, "etsn-mockd: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (!allow_remote && !loopback_listen(listen)) {
        fprintf(stderr,
                "etsn-mockd: refusing to listen on %s: not a loopback address (use "
                "--allow-remote to override)\n",
                listen);
        return 2;
    }
    if (!user_dir) user_dir = getenv("TMPDIR");
    if (!user_dir || !*user_dir) user_dir = "/tmp";

    char err[1024] = "";
    mock_fixture *fx = load_scenario(fixture, replay, print_scenario, err, sizeof err);
    if (!fx) {
        if (!err[0]) return 0; /* --print-scenario */
        fprintf(stderr, "etsn-mockd: %s\n", err);
        return 2;
    }
    for (size_t i = 0; i < n_extra_expects; i++) {
        if (mock_fixture_add_expect(fx, extra_expects[i], "asked for on the command line") < 0) {
            fprintf(stderr, "etsn-mockd: out of memory\n");
            mock_fixture_free(fx);
            return 1;
        }
    }
    g_fx = fx;
    char dir[4096], file[4200];
    if (write_user_file(fx, user_dir, dir, sizeof dir, file, sizeof file) < 0) {
        mock_fixture_free(fx);
        return 1;
    }
    mock_engine *e = mock_engine_new(fx);
    if (!e) {
        fprintf(stderr, "etsn-mockd: out of memory\n");
        unlink(file);
        rmdir(dir);
        mock_fixture_free(fx);
        return 1;
    }
    g_engine = e;

    /* Block the stop signals in every thread; main waits for them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mock_http_config hc;
    memset(&hc, 0, sizeof hc);
    hc.listen = listen;
    hc.path = fx->path;
    hc.tls_cert_file = cert;
    hc.tls_key_file = key;
    hc.ntlm_user_file = file;
    hc.service_host = "localhost";
    hc.allow_negotiate = fx->negotiate;
    hc.allow_basic = fx->basic;
    hc.require_encryption = fx->require_encryption;
    hc.check_basic = check_basic;
    hc.handle = mock_engine_handle;
    hc.on_event = mock_engine_event;
    hc.ctx = e;
    mock_recorder *rec = NULL;
    if (record) {
        const char *scrub = getenv("ETSN_RECORD_SCRUB");
        rec = mock_recorder_open(record, &hc, !scrub || strcmp(scrub, "0") != 0,
                                 fx->n_users ? fx->users[0].password : NULL, err, sizeof err);
        if (!rec) fprintf(stderr, "etsn-mockd: --record: %s\n", err);
    }
    mock_http *h = record && !rec ? NULL : mock_http_start(&hc, err, sizeof err);
    if (h && rec) mock_recorder_set_endpoint(rec, mock_http_url(h));
    int status = 0;
    if (record && !rec) {
        status = 1;
    } else if (!h) {
        fprintf(stderr, "etsn-mockd: cannot serve on %s: %s\n", listen, err);
        status = 1;
    } else {
        printf("%s\n", mock_http_url(h));
        fflush(stdout);
        int sig = 0;
        while (sigwait(&set, &sig) != 0) {
        }
        mock_engine_shutdown(e);
        mock_http_stop(h);
    }
    if (rec && mock_recorder_close(rec, err, sizeof err) < 0) {
        fprintf(stderr, "etsn-mockd: --record %s: %s\n", record, err);
        if (!status) status = 1;
    }
    if (report && mock_engine_write_report(e, report) < 0) {
        fprintf(stderr, "etsn-mockd: cannot write the report %s: %s\n", report, strerror(errno));
        if (!status) status = 1;
    }
    unlink(file);
    rmdir(dir);
    mock_engine_free(e);
    mock_fixture_free(fx);
    return status;
}
