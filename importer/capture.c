#include "../ref/core/error.h"
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>

#include "../ref/core/base64.h"

extern char **environ;

/* ---- the conversation model ---- */

int tcp_conv_add(tcp_conv *c, bool from_client, double t, const uint8_t *data, size_t len,
                 char *err, size_t errlen)
{
    int d = from_client ? 1 : 0;
    if (len == 0) return 0;
    if (c->bytes[d].len + len > ETSN_CAPTURE_MAX_STREAM) {
        etsn_errbuf_set(err, errlen, "connection %" PRIu64 ": more than %u bytes in one direction",
                        c->stream, ETSN_CAPTURE_MAX_STREAM);
        return -1;
    }
    if (c->n_marks[d] == c->cap_marks[d]) {
        if (c->n_marks[0] + c->n_marks[1] >= ETSN_CAPTURE_MAX_CHUNKS) {
            etsn_errbuf_set(err, errlen, "connection %" PRIu64 ": more than %u segments", c->stream,
                            ETSN_CAPTURE_MAX_CHUNKS);
            return -1;
        }
        size_t cap = c->cap_marks[d] ? c->cap_marks[d] * 2 : 64;
        tcp_mark *m = realloc(c->marks[d], cap * sizeof *m);
        if (!m) goto oom;
        c->marks[d] = m;
        c->cap_marks[d] = cap;
    }
    c->marks[d][c->n_marks[d]++] = (tcp_mark){c->bytes[d].len, t};
    if (etsn_buf_append(&c->bytes[d], data, len) < 0) goto oom;
    return 0;
oom:
    etsn_errbuf_set(err, errlen, "out of memory");
    return -1;
}

double tcp_conv_time(const tcp_conv *c, bool from_client, size_t off)
{
    int d = from_client ? 1 : 0;
    size_t lo = 0, hi = c->n_marks[d];
    if (hi == 0) return 0;
    /* The last segment starting at or before off. */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->marks[d][mid].off <= off)
            lo = mid;
        else
            hi = mid;
    }
    return c->marks[d][lo].t;
}

void tcp_conv_free(tcp_conv *c)
{
    for (int d = 0; d < 2; d++) {
        etsn_buf_free_secure(&c->bytes[d]);
        free(c->marks[d]);
        c->marks[d] = NULL;
        c->n_marks[d] = c->cap_marks[d] = 0;
    }
}

/* ---- tshark's follow,tcp,yaml output ---- */

#define YAML_MAX_DEPTH 8
#define YAML_MAX_SCALAR (16u * 1024 * 1024)

typedef struct {
    bool mapping, want_key;
    char key[16];
} yaml_level;

typedef struct {
    tcp_conv *c;
    int peer;
    double t;
    etsn_buf data;
    char host[64], port[16];
} yaml_packet;

static void set_peer_name(tcp_conv *c, yaml_packet *p)
{
    char *dst = p->peer == 0 ? c->client : p->peer == 1 ? c->server : NULL;
    if (dst) snprintf(dst, sizeof c->client, "%s:%s", p->host, p->port);
}

/* A value at depth 3: a field of one peers[] or packets[] entry. */
static int yaml_field(const char *section, const char *key, const char *v, size_t len,
                      yaml_packet *p, char *err, size_t errlen)
{
    if (strcmp(key, "peer") == 0) {
        p->peer = (int)strtol(v, NULL, 10);
    } else if (strcmp(key, "timestamp") == 0) {
        p->t = strtod(v, NULL);
    } else if (strcmp(key, "host") == 0) {
        snprintf(p->host, sizeof p->host, "%.*s", (int)(len < 63 ? len : 63), v);
    } else if (strcmp(key, "port") == 0) {
        snprintf(p->port, sizeof p->port, "%.*s", (int)(len < 15 ? len : 15), v);
    } else if (strcmp(section, "packets") == 0 && strcmp(key, "data") == 0) {
        etsn_buf_reset(&p->data);
        if (etsn_base64_decode(v, len, &p->data) < 0) {
            etsn_errbuf_set(err, errlen, "tshark output: a segment's data is not base64");
            return -1;
        }
    }
    return 0;
}

/* The end of a peers[] or packets[] entry. */
static int yaml_entry_end(const char *section, yaml_packet *p, char *err, size_t errlen)
{
    int rc = 0;
    if (strcmp(section, "peers") == 0)
        set_peer_name(p->c, p);
    else if (strcmp(section, "packets") == 0 && (p->peer == 0 || p->peer == 1))
        rc = tcp_conv_add(p->c, p->peer == 0, p->t, p->data.data, p->data.len, err, errlen);
    p->peer = -1;
    p->t = 0;
    etsn_buf_reset(&p->data);
    return rc;
}

static int yaml_event_step(yaml_event_t *ev, yaml_level *st, int *depth, yaml_packet *p, char *err,
                           size_t errlen)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        if (*depth >= YAML_MAX_DEPTH) {
            etsn_errbuf_set(err, errlen, "tshark output: nested too deeply");
            return -1;
        }
        st[*depth] = (yaml_level){ev->type == YAML_MAPPING_START_EVENT, true, ""};
        (*depth)++;
        return 0;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        if (*depth == 0) return 0;
        (*depth)--;
        if (*depth == 2 && ev->type == YAML_MAPPING_END_EVENT &&
            yaml_entry_end(st[0].key, p, err, errlen) < 0)
            return -1;
        if (*depth > 0) st[*depth - 1].want_key = true;
        return 0;
    case YAML_SCALAR_EVENT: {
        if (*depth == 0) return 0;
        yaml_level *top = &st[*depth - 1];
        const char *v = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        if (len > YAML_MAX_SCALAR) {
            etsn_errbuf_set(err, errlen, "tshark output: a value of %zu bytes", len);
            return -1;
        }
        if (top->mapping && top->want_key) {
            snprintf(top->key, sizeof top->key, "%s", v);
            top->want_key = false;
            return 0;
        }
        if (top->mapping) top->want_key = true;
        if (*depth == 3 && yaml_field(st[0].key, top->key, v, len, p, err, errlen) < 0) return -1;
        return 0;
    }
    default:
        return 0;
    }
}

int capture_read_follow_yaml(FILE *f, tcp_conv *c, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    yaml_level st[YAML_MAX_DEPTH];
    int depth = 0, rc = 0;
    yaml_packet p = {.c = c, .peer = -1, .data = ETSN_BUF_INIT};
    if (!yaml_parser_initialize(&parser)) {
        etsn_errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    yaml_parser_set_input_file(&parser, f);
    for (bool done = false; !done && rc == 0;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            etsn_errbuf_set(err, errlen, "tshark output is not YAML: %s at line %zu",
                            parser.problem ? parser.problem : "error",
                            parser.problem_mark.line + 1);
            rc = -1;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = yaml_event_step(&ev, st, &depth, &p, err, errlen);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    etsn_buf_free_secure(&p.data);
    return rc;
}

/* ---- running tshark ---- */

typedef int (*tshark_reader)(FILE *out, void *ctx, char *err, size_t errlen);

/* The first line of tshark's stderr that is not its warning about root. */
static void tshark_complaint(FILE *errf, char *buf, size_t len)
{
    char line[512];
    buf[0] = 0;
    rewind(errf);
    while (fgets(line, sizeof line, errf)) {
        if (strstr(line, "Running as user")) continue;
        line[strcspn(line, "\r\n")] = 0;
        snprintf(buf, len, "%s", line);
        return;
    }
}

static int run_tshark(const char **args, tshark_reader rd, void *ctx, char *err, size_t errlen)
{
    const char *bin = getenv("ETSN_TSHARK");
    if (!bin || !*bin) bin = "tshark";
    int fds[2];
    FILE *errf = tmpfile();
    if (!errf || pipe2(fds, O_CLOEXEC) < 0) {
        if (errf) fclose(errf);
        etsn_errbuf_set(err, errlen, "cannot run tshark: %s", strerror(errno));
        return -1;
    }
    const char *argv[16] = {bin};
    for (int i = 0; args[i] && i < 14; i++) argv[i + 1] = args[i];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fileno(errf), 2);
    pid_t pid;
    int e = posix_spawnp(&pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (e != 0) {
        close(fds[0]);
        fclose(errf);
        etsn_errbuf_set(err, errlen, "cannot run %s: %s%s", bin, strerror(e),
                        e == ENOENT ? " (install Debian's tshark package)" : "");
        return -1;
    }
    FILE *out = fdopen(fds[0], "r");
    int rc = out ? rd(out, ctx, err, errlen) : -1;
    if (out)
        fclose(out); /* a reader that stopped early leaves tshark a broken pipe */
    else
        close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        char why[512];
        tshark_complaint(errf, why, sizeof why);
        etsn_errbuf_set(err, errlen, "tshark failed: %s", why[0] ? why : "no message");
        rc = -1;
    }
    fclose(errf);
    return rc;
}

typedef struct {
    uint64_t *ids;
    size_t n;
} stream_list;

/* One tcp.stream index a line; tshark numbers connections in the order it
 * first sees them, so a new one is always the largest so far. */
static int read_stream_ids(FILE *out, void *ctx, char *err, size_t errlen)
{
    stream_list *l = ctx;
    char line[64];
    while (fgets(line, sizeof line, out)) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(line, &end, 10);
        if (end == line || errno) continue;
        if (l->n > 0 && v <= l->ids[l->n - 1]) continue;
        if (l->n >= ETSN_CAPTURE_MAX_CONNS) {
            etsn_errbuf_set(err, errlen, "the capture holds more than %d TCP connections",
                            ETSN_CAPTURE_MAX_CONNS);
            return -1;
        }
        if (!l->ids) l->ids = malloc(ETSN_CAPTURE_MAX_CONNS * sizeof *l->ids);
        if (!l->ids) {
            etsn_errbuf_set(err, errlen, "out of memory");
            return -1;
        }
        l->ids[l->n++] = v;
    }
    return 0;
}

int capture_list_streams(const char *path, uint64_t **streams, size_t *n, char *err, size_t errlen)
{
    stream_list l = {NULL, 0};
    const char *args[] = {"-r", path,     "-n", "-Y",         "tcp.len > 0",
                          "-T", "fields", "-e", "tcp.stream", NULL};
    if (run_tshark(args, read_stream_ids, &l, err, errlen) < 0) {
        free(l.ids);
        return -1;
    }
    *streams = l.ids;
    *n = l.n;
    return 0;
}

static int read_follow(FILE *out, void *ctx, char *err, size_t errlen)
{
    return capture_read_follow_yaml(out, ctx, err, errlen);
}

int capture_follow(const char *path, uint64_t stream, tcp_conv *c, char *err, size_t errlen)
{
    char spec[64];
    snprintf(spec, sizeof spec, "follow,tcp,yaml,%" PRIu64, stream);
    const char *args[] = {"-r", path, "-n", "-q", "-z", spec, NULL};
    c->stream = stream;
    return run_tshark(args, read_follow, c, err, errlen);
}
