/* etsn-transcript: read transcripts (docs/fixtures.md, "Transcripts").
 *   etsn-transcript decode [--xml] FILE   the conversation, readable; or with --xml the
 *                                         transcript with every PSRP payload decoded (turns an
 *                                         HTTP capture whose bodies are still base64 into one)
 *   etsn-transcript scrub IN OUT [--secret-file FILE]
 *                                         a scrubbed copy (mode 0600) of a transcript
 *                                         recorded with ETSN_RECORD_SCRUB=0
 * FILE may be - for stdin. Exit 0, 1 on a malformed transcript or I/O error,
 * 2 on bad arguments. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "../ref/core/buf.h"
#include "../ref/core/message.h"
#include "../ref/core/transcript.h"

static void usage(FILE *f)
{
    fputs("usage: etsn-transcript decode [--xml] FILE\n"
          "       etsn-transcript scrub IN OUT [--secret-file FILE]\n",
          f);
}

static int source_file(void *ctx, void *buf, size_t len)
{
    size_t n = fread(buf, 1, len, ctx);
    return n == 0 && ferror((FILE *)ctx) ? -1 : (int)n;
}

static int sink_file(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

static const char *const action_names[] = {
    [ETSN_WSMAN_UNKNOWN] = "(unknown action)",
    [ETSN_WSMAN_CREATE] = "Create",
    [ETSN_WSMAN_COMMAND] = "Command",
    [ETSN_WSMAN_SEND] = "Send",
    [ETSN_WSMAN_RECEIVE] = "Receive",
    [ETSN_WSMAN_SIGNAL] = "Signal",
    [ETSN_WSMAN_DELETE] = "Delete",
    [ETSN_WSMAN_CREATE_RESPONSE] = "CreateResponse",
    [ETSN_WSMAN_COMMAND_RESPONSE] = "CommandResponse",
    [ETSN_WSMAN_SEND_RESPONSE] = "SendResponse",
    [ETSN_WSMAN_RECEIVE_RESPONSE] = "ReceiveResponse",
    [ETSN_WSMAN_SIGNAL_RESPONSE] = "SignalResponse",
    [ETSN_WSMAN_DELETE_RESPONSE] = "DeleteResponse",
    [ETSN_WSMAN_FAULT] = "Fault",
};

/* One line about an envelope: action and the ids and states that matter. */
static void envelope_line(const char *arrow, const etsn_wsman_msg *m)
{
    const char *name = action_names[m->action];
    if (m->action == ETSN_WSMAN_UNKNOWN && m->action_uri) {
        /* Actions etsn does not model (Get, Disconnect, Enumerate, ...): the
         * last segment of the URI names them. */
        const char *slash = strrchr(m->action_uri, '/');
        name = slash && slash[1] ? slash + 1 : m->action_uri;
    }
    printf("  %s %s", arrow, name);
    if (m->shell_id) printf(" ShellId=%s", m->shell_id);
    if (m->command_id) printf(" CommandId=%s", m->command_id);
    if (m->desired_stream) printf(" stream=%s", m->desired_stream);
    if (m->signal_code) printf(" code=%s", m->signal_code);
    for (size_t i = 0; i < m->n_streams; i++)
        if (m->streams[i].end) printf(" %s:End", m->streams[i].name ? m->streams[i].name : "");
    if (m->command_state) {
        const char *slash = strrchr(m->command_state, '/');
        printf(" CommandState=%s", slash ? slash + 1 : m->command_state);
    }
    if (m->has_exit_code) printf(" ExitCode=%lld", (long long)m->exit_code);
    if (m->action == ETSN_WSMAN_FAULT)
        printf(" %s %u: %s", m->fault_subcode ? m->fault_subcode : "",
               (unsigned)m->wsman_fault_code,
               m->wsman_fault_message ? m->wsman_fault_message
               : m->fault_reason      ? m->fault_reason
                                      : "");
    putchar('\n');
}

/* The CLIXML body indented under its message line. */
static void print_body(const etsn_transcript_message *m)
{
    if (m->raw || !m->body_len) {
        if (m->body_len) printf("        (not XML) %s\n", m->body);
        return;
    }
    xmlDocPtr doc = xmlReadMemory(m->body, (int)m->body_len, NULL, "UTF-8",
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlBufferPtr xb = doc ? xmlBufferCreate() : NULL;
    if (xb) xmlNodeDump(xb, doc, xmlDocGetRootElement(doc), 0, 1);
    const char *text = xb ? (const char *)xmlBufferContent(xb) : m->body;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        printf("        %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
    xmlBufferFree(xb);
    xmlFreeDoc(doc);
}

static void print_messages(const etsn_transcript_record *r, bool client)
{
    for (size_t i = 0; i < r->n_msgs; i++) {
        const etsn_transcript_message *m = &r->msgs[i];
        if (m->from_client != client) continue;
        const char *name = etsn_message_type_name(m->type);
        char pid[37];
        etsn_guid_format(&m->pid, pid, false);
        printf("      %s %s", client ? ">" : "<", name ? name : "");
        if (!name) printf("0x%08X", (unsigned)m->type);
        printf(" [%s] pid=%s\n", m->stream ? m->stream : "", pid);
        print_body(m);
    }
}

static void print_record(const etsn_transcript_record *r)
{
    printf("#%llu conn %llu at %.3f ms, %.3f ms, HTTP %d\n", (unsigned long long)r->n,
           (unsigned long long)r->conn, r->start_ms, r->duration_ms, r->status);
    if (r->has_request)
        envelope_line(">", &r->request);
    else if (r->request_xml)
        printf("  > (not a SOAP envelope) %.200s\n", r->request_xml);
    print_messages(r, true);
    if (r->has_response)
        envelope_line("<", &r->response);
    else if (r->response_xml)
        printf("  < (not a SOAP envelope) %.200s\n", r->response_xml);
    print_messages(r, false);
}

static FILE *open_in(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) fprintf(stderr, "etsn-transcript: %s: %s\n", path, strerror(errno));
    return f;
}

/* Reads every exchange of path: printed (w NULL) or fed to the writer. */
static int each(const char *path, bool xml, bool scrub, const char *secret, FILE *out)
{
    FILE *f = open_in(path);
    if (!f) return 1;
    etsn_error e;
    etsn_error_clear(&e);
    etsn_transcript_reader *r = etsn_transcript_reader_new(source_file, f, &e);
    etsn_transcript_writer *w = NULL;
    int rc = r ? 0 : -1;
    if (r) {
        const etsn_transcript_info *in = etsn_transcript_reader_info(r);
        etsn_transcript_meta meta = {in->source, in->endpoint,          in->auth,
                                     in->sealed, scrub || in->scrubbed, secret};
        if (xml && !(w = etsn_transcript_writer_new(&meta, sink_file, out, &e))) rc = -1;
        if (!xml)
            printf("transcript from %s, %s, auth %s, %s, %s\n", in->source ? in->source : "?",
                   in->endpoint ? in->endpoint : "?", in->auth ? in->auth : "?",
                   in->sealed ? "sealed" : "not sealed",
                   in->scrubbed ? "scrubbed" : "NOT scrubbed");
    }
    etsn_transcript_record *rec;
    while (rc == 0 && (rc = etsn_transcript_next(r, &rec, &e)) == 1) {
        etsn_transcript_exchange x;
        etsn_transcript_record_exchange(rec, &x);
        if (w)
            rc = etsn_transcript_add(w, &x, &e) < 0 ? -1 : 0;
        else
            print_record(rec), rc = 0;
        etsn_transcript_record_free(rec);
    }
    if (rc == 0 && w && etsn_transcript_finish(w, &e) < 0) rc = -1;
    if (rc < 0) fprintf(stderr, "etsn-transcript: %s: %s\n", path, e.message);
    etsn_transcript_writer_free(w);
    etsn_transcript_reader_free(r);
    if (f != stdin) fclose(f);
    return rc < 0 ? 1 : 0;
}

static char *read_secret(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = 0;
    return line;
}

static int scrub(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *secret_file = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--secret-file") && i + 1 < argc)
            secret_file = argv[++i];
        else if (!in)
            in = argv[i];
        else if (!out)
            out = argv[i];
        else
            return usage(stderr), 2;
    }
    if (!in || !out) return usage(stderr), 2;
    char *secret = secret_file ? read_secret(secret_file) : NULL;
    if (secret_file && !secret) {
        fprintf(stderr, "etsn-transcript: %s: %s\n", secret_file, strerror(errno));
        return 1;
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "wb") : NULL;
    int rc = 1;
    if (!f) {
        fprintf(stderr, "etsn-transcript: %s: %s\n", out, strerror(errno));
        if (fd >= 0) close(fd);
    } else {
        rc = each(in, true, true, secret, f);
        if (fclose(f) != 0) rc = 1;
    }
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
    return rc;
}

int main(int argc, char **argv)
{
    xmlInitParser();
    if (argc >= 3 && !strcmp(argv[1], "decode")) {
        bool xml = argc == 4 && !strcmp(argv[2], "--xml");
        if (argc != 3 && !xml) return usage(stderr), 2;
        return each(argv[argc - 1], xml, false, NULL, stdout);
    }
    if (argc >= 2 && !strcmp(argv[1], "scrub")) return scrub(argc - 2, argv + 2);
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return usage(stdout), 0;
    usage(stderr);
    return 2;
}
