/* etsn-pcap-import: a tcpdump capture of WinRM sessions over HTTP, plus the
 * password, becomes a decrypted transcript (docs/tools.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ref/client/credential.h"
#include "capture.h"
#include "pcap_import.h"

static const char USAGE[] =
    "Usage: etsn-pcap-import [-o TRANSCRIPT.xml] [--no-scrub] [-q] CAPTURE.pcap\n"
    "Reads a capture of WinRM sessions over HTTP (tshark reassembles the TCP\n"
    "connections), opens the NTLM-sealed bodies of both directions with the\n"
    "user's password and writes the conversation as a transcript (stdout\n"
    "without -o). The password comes from ETSN_PASSWORD_FD, ETSN_PASSWORD_FILE\n"
    "or the terminal, never from the command line.\n"
    "  --no-scrub  keep SecureStrings and session keys in the transcript\n"
    "  -q          no summary on stderr (notes on skipped or cut-off\n"
    "              connections are still shown)\n"
    "Exit status: 0 written, 1 error, 2 usage, 3 the password does not match.\n";

typedef struct {
    etsn_credential cred;
    bool have;
} password_ctx;

static const char *ask_password(void *ctx, const char *user, etsn_error *err)
{
    password_ctx *p = ctx;
    if (!p->have) {
        if (etsn_credential_acquire(user, &p->cred, err) != 0) return NULL;
        p->have = true;
    }
    return p->cred.password.data ? p->cred.password.data : "";
}

static int file_sink(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

typedef struct {
    const char *out, *capture;
    bool scrub, quiet;
} options;

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.scrub = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 && i + 1 < argc)
            o->out = argv[++i];
        else if (strcmp(a, "--no-scrub") == 0)
            o->scrub = false;
        else if (strcmp(a, "-q") == 0)
            o->quiet = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(USAGE, stdout);
            exit(0);
        } else if (a[0] == '-' || o->capture)
            return -1;
        else
            o->capture = a;
    }
    return o->capture ? 0 : -1;
}

/* Every connection of the capture, one tshark run each. */
static int import_all(const options *o, import_result *r, etsn_error *err)
{
    uint64_t *ids = NULL;
    size_t n = 0;
    char msg[1024];
    if (capture_list_streams(o->capture, &ids, &n, msg, sizeof msg) < 0) {
        etsn_error_set(err, 0, "%s", msg);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        tcp_conv c = {0};
        if (capture_follow(o->capture, ids[i], &c, msg, sizeof msg) < 0) {
            etsn_error_set(err, 0, "TCP stream %" PRIu64 ": %s", ids[i], msg);
            rc = -1;
        } else {
            rc = import_conv(r, &c, r->connections + 1, err);
        }
        tcp_conv_free(&c);
    }
    free(ids);
    if (rc == 0 && r->n == 0) {
        etsn_error_set(err, 0, "no WinRM request with a body in %s", o->capture);
        rc = -1;
    }
    return rc;
}

static int write_out(const options *o, import_result *r, etsn_error *err)
{
    FILE *f = o->out ? fopen(o->out, "w") : stdout;
    if (!f) {
        etsn_error_set(err, 0, "cannot write %s", o->out);
        return -1;
    }
    int rc = import_write(r, o->scrub, file_sink, f, err);
    if (fflush(f) != 0) rc = -1;
    if (o->out && fclose(f) != 0) rc = -1;
    if (rc < 0 && o->out) unlink(o->out);
    if (rc < 0 && !err->message[0]) etsn_error_set(err, 0, "cannot write the transcript");
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o) < 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    password_ctx pw = {0};
    /* Notes (skipped or cut-off connections) say the transcript is partial:
     * always shown, -q or not. */
    import_result r = {.ask = ask_password, .ask_ctx = &pw, .notes = stderr};
    etsn_error err;
    etsn_error_clear(&err);
    int rc = import_all(&o, &r, &err);
    if (rc == 0) rc = write_out(&o, &r, &err);
    if (rc == 0 && !o.quiet)
        fprintf(stderr,
                "etsn-pcap-import: %zu connection(s), %zu request(s) (%zu authentication "
                "leg(s)), %zu exchange(s) written, %zu sealed bodies opened\n",
                r.connections, r.requests, r.handshake_legs, r.n, r.sealed_bodies);
    if (rc < 0 || rc == IMPORT_BAD_PASSWORD)
        fprintf(stderr, "etsn-pcap-import: %s\n", err.message[0] ? err.message : "failed");
    import_result_free(&r);
    if (pw.have) etsn_credential_free(&pw.cred);
    return rc == IMPORT_BAD_PASSWORD ? 3 : rc < 0 ? 1 : 0;
}
