/* Runs conformance cases: for each, a fresh etsn-mockd with the case's
 * fixture, the client under test against it, then the verdict from the
 * client's exit status and output and from the mock's report. */
#ifndef ETSN_CONF_RUNNER_H
#define ETSN_CONF_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../ref/core/buf.h"
#include "case_file.h"

#define CONF_DEFAULT_MAX_OUTPUT ((size_t)64 * 1024 * 1024)
/* Kept of stdout when no check needs its text (only for failure messages). */
#define CONF_DIAG_OUTPUT ((size_t)64 * 1024)
#define CONF_VALGRIND_STRETCH 10

typedef struct {
    const char *client; /* the client under test (with --adapter: passed on in env) */
    const char *mockd;  /* etsn-mockd */
    const char *cases_dir;
    const char *fixtures_dir;
    const char *junit;   /* NULL: no JUnit file */
    const char *filter;  /* fnmatch glob on case ids; NULL: all */
    conf_strv tags;      /* run only cases with one of these; empty: all */
    const char *adapter; /* run this instead of client, see docs/conformance.md */
    bool valgrind;
    double timeout_factor; /* every timeout times this (sanitizer builds); 0 = 1 */
    bool keep;             /* leave each case's temp dir behind */
    bool verbose;
    int jobs;
    size_t max_output;         /* bytes of stdout/stderr kept per stream */
    double startup_timeout;    /* seconds for the mock to print its URL */
    double stop_timeout;       /* seconds for the mock to exit after SIGTERM */
    const char *tmp_base;      /* NULL: $TMPDIR or /tmp */
    const char *valgrind_supp; /* NULL: tools/valgrind.supp when it exists */
    FILE *out;                 /* per-case lines and the summary; NULL: stdout */
    /* {tls_cert} {tls_key} {tls_wrong_cert} {tls_wrong_key}: conf_run_suite
     * makes them once per run in its own temporary directory unless set. */
    const char *tls_cert;
    const char *tls_key;
    const char *tls_wrong_cert;
    const char *tls_wrong_key;
    const char *tls_dir;   /* where they are, for --keep */
    const char *tls_error; /* why they could not be made; cases using them fail */
    /* KRB5_CONFIG for the client and the mock of every case (a case's own
     * [env] KRB5_CONFIG wins): conf_run_suite writes one per run with no
     * realm and no DNS unless set. NULL: the runner's environment decides. */
    const char *krb5_config;
} conf_options;

void conf_options_init(conf_options *o);

/* Writes DIR/krb5.conf: no default realm, dns_lookup_kdc, dns_lookup_realm,
 * rdns and dns_canonicalize_hostname all false, so that GSSAPI in the tests
 * never asks DNS for a KDC or a host name. path receives the file's name.
 * Returns 0, or -1 with err set. */
int conf_make_krb5_conf(const char *dir, char *path, size_t pathlen, char *err, size_t errlen);

typedef enum { CONF_PASS, CONF_FAIL, CONF_SKIP } conf_verdict;

typedef struct {
    char *id;
    char *requirement; /* NULL when the case file did not parse */
    char *source;
    conf_verdict verdict;
    conf_strv reasons; /* why it failed or was skipped, each may span lines */
    conf_strv notes;   /* --verbose details */
    double seconds;
} conf_result;

void conf_result_free(conf_result *r);

/* Runs one parsed case. Never fails as a whole: problems of the runner
 * itself become FAIL reasons of the case. */
void conf_run_case(const conf_options *o, const conf_case *c, conf_result *res);

/* Loads path and runs it; a case file that does not parse is a FAIL. */
void conf_run_case_file(const conf_options *o, const char *path, conf_result *res);

/* Makes the run's TLS material in dir (must exist): a certificate for
 * localhost/127.0.0.1 and one for elsewhere.invalid, with their keys.
 * Sets the tls_* members of o to paths inside paths[4][PATH_MAX]-sized
 * storage owned by the caller. Returns -1 with err set on failure. */
int conf_make_tls(conf_options *o, const char *dir, char (*paths)[4096], char *err, size_t errlen);

/* Finds, filters and runs the cases, prints a line per case and the summary
 * line, writes the JUnit file. Returns the exit status: 0 when nothing
 * failed, 1 when a case failed, 2 when the run itself could not be done. */
int conf_run_suite(const conf_options *o);

/* Appends a case's lines ("PASS id", "FAIL id" and its indented reasons). */
int conf_format_result(const conf_result *r, bool verbose, etsn_buf *out);

/* JUnit XML for CI systems, written with libxml2's xmlTextWriter. */
int conf_junit_write(const char *path, const conf_result *results, size_t n, double seconds,
                     char *err, size_t errlen);

#endif
