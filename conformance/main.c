/* etsn-conform: runs the conformance cases against a WinRM/PSRP client and
 * etsn-mockd. See docs/conformance.md. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "proc.h"
#include "runner.h"

static void usage(FILE *f)
{
    fputs("usage: etsn-conform --client PATH --mockd PATH --cases DIR --fixtures DIR\n"
          "                    [--junit FILE] [--filter GLOB] [--tags a,b] [--adapter PATH]\n"
          "                    [--valgrind] [--timeout-factor F] [--keep] [--verbose] [--jobs N]\n"
          "                    [--max-output BYTES]\n"
          "\n"
          "  --client PATH      the client under test (etsn, or what --adapter wraps)\n"
          "  --mockd PATH       etsn-mockd\n"
          "  --cases DIR        directory of <id>.case files\n"
          "  --fixtures DIR     directory the cases' [fixture] names are relative to\n"
          "  --junit FILE       also write JUnit XML\n"
          "  --filter GLOB      run only cases whose id matches (fnmatch)\n"
          "  --tags a,b         run only cases with at least one of these tags\n"
          "  --adapter PATH     run PATH with the case's arguments instead of the client\n"
          "  --valgrind         run client and mock under valgrind; timeouts x10\n"
          "  --timeout-factor F multiply every timeout by F (e.g. for sanitizer builds)\n"
          "  --keep             keep each case's temporary directory\n"
          "  --verbose          show argv, timings and paths for every case\n"
          "  --jobs N           cases run in parallel (default 2)\n"
          "  --max-output BYTES stdout/stderr kept per stream (default 64 MiB)\n"
          "\n"
          "Prints PASS/FAIL/SKIP per case and \"N passed, N failed\". Exit status 0 when\n"
          "no case failed, 1 when one did, 2 on usage or runner errors.\n",
          f);
}

static void on_signal(int sig)
{
    (void)sig;
    conf_interrupted = 1;
}

/* Resolves an executable to an absolute path: adapters may change directory
 * and the environment hands them the client's path. */
static int resolve_program(const char *what, const char *name, char **out)
{
    char found[PATH_MAX];
    if (conf_find_program(name, found, sizeof found) < 0) {
        fprintf(stderr, "etsn-conform: %s %s: not an executable file\n", what, name);
        return -1;
    }
    *out = realpath(found, NULL);
    if (!*out) {
        fprintf(stderr, "etsn-conform: %s %s: %s\n", what, name, strerror(errno));
        return -1;
    }
    return 0;
}

static int resolve_dir(const char *what, const char *name, char **out)
{
    *out = realpath(name, NULL);
    if (!*out) {
        fprintf(stderr, "etsn-conform: %s %s: %s\n", what, name, strerror(errno));
        return -1;
    }
    return 0;
}

/* tools/valgrind.supp from the working directory (make runs at the top),
 * else next to the binary's ../tools. */
static char *find_supp(void)
{
    if (access("tools/valgrind.supp", R_OK) == 0) return realpath("tools/valgrind.supp", NULL);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    strcpy(slash, "/../tools/valgrind.supp");
    return access(exe, R_OK) == 0 ? realpath(exe, NULL) : NULL;
}

int main(int argc, char **argv)
{
    enum {
        O_CLIENT = 1000,
        O_MOCKD,
        O_CASES,
        O_FIXTURES,
        O_JUNIT,
        O_FILTER,
        O_TAGS,
        O_ADAPTER,
        O_VALGRIND,
        O_KEEP,
        O_JOBS,
        O_MAXOUT,
        O_TIMEOUT_FACTOR,
    };
    static const struct option opts[] = {
        {"client", required_argument, NULL, O_CLIENT},
        {"mockd", required_argument, NULL, O_MOCKD},
        {"cases", required_argument, NULL, O_CASES},
        {"fixtures", required_argument, NULL, O_FIXTURES},
        {"junit", required_argument, NULL, O_JUNIT},
        {"filter", required_argument, NULL, O_FILTER},
        {"tags", required_argument, NULL, O_TAGS},
        {"adapter", required_argument, NULL, O_ADAPTER},
        {"valgrind", no_argument, NULL, O_VALGRIND},
        {"keep", no_argument, NULL, O_KEEP},
        {"verbose", no_argument, NULL, 'v'},
        {"jobs", required_argument, NULL, O_JOBS},
        {"max-output", required_argument, NULL, O_MAXOUT},
        {"timeout-factor", required_argument, NULL, O_TIMEOUT_FACTOR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    conf_options o;
    conf_options_init(&o);
    const char *client = NULL, *mockd = NULL, *cases = NULL, *fixtures = NULL, *adapter = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case O_CLIENT:
            client = optarg;
            break;
        case O_MOCKD:
            mockd = optarg;
            break;
        case O_CASES:
            cases = optarg;
            break;
        case O_FIXTURES:
            fixtures = optarg;
            break;
        case O_JUNIT:
            o.junit = optarg;
            break;
        case O_FILTER:
            o.filter = optarg;
            break;
        case O_ADAPTER:
            adapter = optarg;
            break;
        case O_VALGRIND:
            o.valgrind = true;
            break;
        case O_KEEP:
            o.keep = true;
            break;
        case 'v':
            o.verbose = true;
            break;
        case O_TAGS: {
            const char *p = optarg;
            while (*p) {
                size_t n = strcspn(p, ", ");
                if (n && conf_strv_push(&o.tags, p, n) < 0) return 2;
                p += n;
                if (*p) p++;
            }
            break;
        }
        case O_JOBS: {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr, "etsn-conform: --jobs takes 1..256\n");
                return 2;
            }
            o.jobs = (int)v;
            break;
        }
        case O_MAXOUT: {
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || v < 1024 || v > (1ull << 32)) {
                fprintf(stderr, "etsn-conform: --max-output takes 1024..4294967296 bytes\n");
                return 2;
            }
            o.max_output = (size_t)v;
            break;
        }
        case O_TIMEOUT_FACTOR: {
            double f = strtod(optarg, &end);
            if (*end || !(f >= 1 && f <= 100)) {
                fprintf(stderr, "etsn-conform: --timeout-factor takes 1..100\n");
                return 2;
            }
            o.timeout_factor = f;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || !mockd || !cases || !fixtures || (!client && !adapter)) {
        if (optind < argc)
            fprintf(stderr, "etsn-conform: unexpected argument %s\n", argv[optind]);
        else
            fprintf(stderr, "etsn-conform: --mockd, --cases, --fixtures and --client are needed\n");
        usage(stderr);
        conf_strv_free(&o.tags);
        return 2;
    }

    char *rclient = NULL, *rmockd = NULL, *radapter = NULL, *rfixtures = NULL, *supp = NULL;
    int status = 2;
    if ((client && resolve_program("--client", client, &rclient) < 0) ||
        resolve_program("--mockd", mockd, &rmockd) < 0 ||
        (adapter && resolve_program("--adapter", adapter, &radapter) < 0) ||
        resolve_dir("--fixtures", fixtures, &rfixtures) < 0)
        goto out;
    if (o.valgrind) {
        char vg[PATH_MAX];
        if (conf_find_program("valgrind", vg, sizeof vg) < 0) {
            fprintf(stderr, "etsn-conform: --valgrind: valgrind is not on PATH\n");
            goto out;
        }
        supp = find_supp();
        o.valgrind_supp = supp;
    }
    o.client = rclient;
    o.mockd = rmockd;
    o.adapter = radapter;
    o.cases_dir = cases;
    o.fixtures_dir = rfixtures;

    /* Children are stopped by the runner itself (they live in their own
     * process groups, out of reach of the terminal's ^C), so the signal
     * only asks it to wind down. No SA_RESTART: waits should wake. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    status = conf_run_suite(&o);
    if (conf_interrupted) fprintf(stderr, "etsn-conform: interrupted\n");
out:
    free(rclient);
    free(rmockd);
    free(radapter);
    free(rfixtures);
    free(supp);
    conf_strv_free(&o.tags);
    xmlCleanupParser();
    return status;
}
