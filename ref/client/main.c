/* etsn: Enter-PSSession as a standalone program. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#include "args.h"
#include "credential.h"
#include "line_input.h"
#include "record.h"
#include "session.h"

#define ETSN_VERSION "0.1.0"

static void print_error(const etsn_error *err)
{
    etsn_buf text = ETSN_BUF_INIT;
    bool color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
    etsn_args_format_error_color(err, "Enter-PSSession", color, &text);
    fputs(text.data ? (const char *)text.data : err->message, stderr);
    if (!text.len || text.data[text.len - 1] != '\n') fputc('\n', stderr);
    etsn_buf_free(&text);
}

/* Sets that look up a session this process would have created earlier:
 * a fresh etsn has none, so the look-up fails as PowerShell's does. */
static bool session_lookup_error(const etsn_args *a, etsn_error *err)
{
    switch (a->set) {
    case ETSN_PSET_ID:
        etsn_error_set(err, 0, "The remote session with the session ID %d is not available.",
                       (int)a->id);
        snprintf(err->fqid, sizeof err->fqid, "RemoteRunspaceNotAvailableForSpecifiedSessionId%s",
                 ETSN_ENTER_PSSESSION_FQID_SUFFIX);
        break;
    case ETSN_PSET_NAME:
        etsn_error_set(err, 0, "The remote session with the name %s  is not available.", a->name);
        snprintf(err->fqid, sizeof err->fqid, "RemoteRunspaceNotAvailableForSpecifiedName%s",
                 ETSN_ENTER_PSSESSION_FQID_SUFFIX);
        break;
    case ETSN_PSET_INSTANCE_ID:
        etsn_error_set(err, 0, "Remote session is not available for %s.", a->instance_id_text);
        snprintf(err->fqid, sizeof err->fqid, "RemoteRunspaceNotAvailableForSpecifiedRunspaceId%s",
                 ETSN_ENTER_PSSESSION_FQID_SUFFIX);
        break;
    default:
        return false;
    }
    snprintf(err->category, sizeof err->category, "InvalidArgument");
    return true;
}

/* HostInfo (MS-PSRP 2.2.3.14) for the console as it is now: sent with the
 * pool and with every pipeline, so Out-Default formats to the window. */
static void terminal_host(etsn_host_info *h)
{
    struct winsize ws = {0};
    int cols = 120, rows = 50;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col) {
        cols = ws.ws_col;
        rows = ws.ws_row;
    } else if (getenv("COLUMNS")) {
        int c = atoi(getenv("COLUMNS"));
        if (c > 0) cols = c;
    }
    *h = (etsn_host_info){
        .present = true,
        .foreground = 7, /* Gray on Black, the console defaults */
        .background = 0,
        .cursor_size = 25,
        .buffer_width = cols,
        .buffer_height = 9001,
        .window_width = cols,
        .window_height = rows,
        .max_window_width = cols,
        .max_window_height = rows,
        .max_physical_width = cols,
        .max_physical_height = rows,
        .window_title = "etsn",
    };
}

/* The culture PowerShell would send: LANG's language_TERRITORY as xx-YY. */
static void culture(char out[32])
{
    const char *lang = getenv("LC_ALL");
    if (!lang || !*lang) lang = getenv("LANG");
    snprintf(out, 32, "en-US");
    if (!lang || strlen(lang) < 5 || lang[2] != '_') return;
    snprintf(out, 32, "%.2s-%.2s", lang, lang + 3);
}

/* ETSN_RECORD=FILE records the session as a transcript (docs/cli.md);
 * ETSN_RECORD_SCRUB=0 keeps the secrets in it. */
static int start_recording(const etsn_args *a, etsn_session_config *cfg, etsn_recorder **rec,
                           etsn_error *err)
{
    const char *path = getenv("ETSN_RECORD");
    if (!path || !*path) return 0;
    const char *scrub = getenv("ETSN_RECORD_SCRUB");
    const char *auth = a->auth == ETSN_AUTH_DEFAULT ? "Negotiate" : a->auth_name;
    *rec = etsn_recorder_open(path, a->endpoint_url, auth, cfg->http.encrypt,
                              !(scrub && strcmp(scrub, "0") == 0), cfg->http.password, err);
    if (!*rec) return -1;
    cfg->http.on_exchange = etsn_recorder_on_exchange;
    cfg->http.on_exchange_ctx = *rec;
    return 0;
}

static int run(const etsn_args *a)
{
    etsn_error err;
    etsn_error_clear(&err);
    if (session_lookup_error(a, &err)) {
        print_error(&err);
        return ETSN_EXIT_OPEN_FAILED;
    }
    if (a->set != ETSN_PSET_COMPUTER_NAME && a->set != ETSN_PSET_URI) {
        etsn_error_set(&err, 0, "The %s parameter set is not supported by this version of etsn.",
                       a->set_name);
        snprintf(err.fqid, sizeof err.fqid, "NotSupported%s", ETSN_ENTER_PSSESSION_FQID_SUFFIX);
        snprintf(err.category, sizeof err.category, "NotImplemented");
        print_error(&err);
        return ETSN_EXIT_OPEN_FAILED;
    }

    etsn_credential cred = {0};
    if (a->has_credential) {
        int rc = etsn_credential_acquire(a->credential_user, &cred, &err);
        if (rc != 0) {
            if (rc != ETSN_CRED_INTERRUPTED) print_error(&err);
            etsn_credential_free(&cred);
            return ETSN_EXIT_USAGE;
        }
    }

    char locale[32];
    culture(locale);
    etsn_line_input input;
    etsn_line_input_init(&input, stdin, stdout);
    /* Off a terminal the host reads answers (passwords) straight from fd 0:
     * stdio must not read ahead of it. */
    if (!input.terminal) setvbuf(stdin, NULL, _IONBF, 0);
    etsn_session_config cfg = {
        .display_name = a->display_name,
        .http =
            {
                .url = a->endpoint_url,
                .host = a->host,
                .auth = a->auth,
                .user = a->has_credential ? cred.user : NULL,
                .password = a->has_credential ? cred.password.data : NULL,
                .encrypt = strcmp(a->scheme, "https") != 0,
                .ca_file = getenv("ETSN_CA_FILE"),
                .connect_timeout_ms = 180000,
                .request_timeout_ms = 240000,
            },
        .client =
            {
                .url = a->endpoint_url,
                .resource_uri = a->resource_uri,
                .protocol_version = "2.3",
                .max_envelope_size = 512000,
                .operation_timeout_ms = 180000,
                .locale = locale,
                .data_locale = locale,
            },
        .read_line = etsn_line_input_read,
        .read_line_ctx = &input,
        .line_input = &input,
        .host_info = terminal_host,
        .out = stdout,
        .err = stderr,
    };
    terminal_host(&cfg.client.host);

    etsn_recorder *rec = NULL;
    if (start_recording(a, &cfg, &rec, &err) < 0) {
        print_error(&err);
        etsn_line_input_finish(&input);
        etsn_credential_free(&cred);
        return ETSN_EXIT_OPEN_FAILED;
    }
    int status = etsn_session_run(&cfg, &err);
    if (rec) {
        etsn_error rerr;
        etsn_error_clear(&rerr);
        if (etsn_recorder_close(rec, &rerr) < 0)
            fprintf(stderr, "WARNING: The recording is incomplete: %s\n", rerr.message);
    }
    etsn_line_input_finish(&input);
    etsn_credential_free(&cred);
    /* Status 1 is also what `exit 1` / SetShouldExit(1) on the server gives
     * (found replaying pypsrp's test_psrp_pshost_methods): only an actual
     * failure to open has an error to print. */
    if (status == ETSN_EXIT_OPEN_FAILED && (err.message[0] || err.fqid[0])) {
        if (!err.fqid[0]) {
            /* fanin/WSManTransportManager.cs: the text every connection
             * failure is wrapped in. */
            etsn_error outer = err;
            etsn_buf text = ETSN_BUF_INIT;
            etsn_buf_printf(&text,
                            "Connecting to remote server %s failed with the following error "
                            "message : %s For more information, see the "
                            "about_Remote_Troubleshooting Help topic.",
                            a->computer_name ? a->computer_name : a->host, err.message);
            size_t n = text.len < sizeof outer.message - 1 ? text.len : sizeof outer.message - 1;
            memcpy(outer.message, text.data, n);
            outer.message[n] = 0;
            etsn_buf_free(&text);
            snprintf(outer.fqid, sizeof outer.fqid, "CreateRemoteRunspaceFailed");
            snprintf(outer.category, sizeof outer.category, "InvalidArgument");
            print_error(&outer);
        } else {
            print_error(&err);
        }
    }
    return status;
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    etsn_args args;
    etsn_error err;
    etsn_error_clear(&err);
    if (etsn_args_parse(argc, argv, &args, &err) < 0) {
        print_error(&err);
        etsn_args_free(&args);
        return ETSN_EXIT_USAGE;
    }
    int status = ETSN_EXIT_OK;
    if (args.show_help) {
        fputs(etsn_args_usage(), stdout);
    } else if (args.show_version) {
        printf("etsn %s\n", ETSN_VERSION);
    } else {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        xmlInitParser();
        status = run(&args);
        xmlCleanupParser();
        curl_global_cleanup();
    }
    etsn_args_free(&args);
    fflush(stdout);
    return status;
}
