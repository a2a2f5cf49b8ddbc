/* etsn-mockd --record (record.h): the recorder sits between the HTTP layer
 * and the engine, where the request is already unsealed and the reply not
 * yet sealed, and hands each exchange to the transcript writer that etsn's
 * ETSN_RECORD uses (ref/core/transcript.h), whose sink writes straight to
 * the file. Connections are served by threads of their own (a Signal while
 * a Receive waits), hence the mutex. */
#include "record.h"

#include "../ref/core/transcript.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mock_recorder {
    int fd;
    pthread_mutex_t lock;
    etsn_transcript_writer *w;
    mock_http_config inner; /* the handler and events being recorded */
    char *endpoint, *secret;
    bool scrub, failed;
    double first_ms;
    etsn_error err;
};

/* The HTTP layer says how the request on this thread came, just before it
 * calls the handler (http_server.c, serve: "request-sealed"). */
static _Thread_local bool tl_sealed;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int sink_fd(void *ctx, const void *data, size_t len)
{
    mock_recorder *r = ctx;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(r->fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void on_event(void *ctx, const char *kind, const char *detail)
{
    mock_recorder *r = ctx;
    if (!strncmp(kind, "request-", 8)) tl_sealed = !strcmp(kind, "request-sealed");
    if (r->inner.on_event) r->inner.on_event(r->inner.ctx, kind, detail);
}

/* Under the lock: the writer, made with the first exchange. */
static bool writer_ready(mock_recorder *r, bool sealed)
{
    if (r->w || r->failed) return r->w != NULL;
    /* Sealed bodies were authenticated with a GSSAPI context: Negotiate
     * (NTLM or Kerberos inside), the only sealing WinRM does over HTTP. */
    etsn_transcript_meta meta = {.source = "etsn-mockd --record",
                                 .endpoint = r->endpoint,
                                 .auth = sealed ? "Negotiate" : NULL,
                                 .sealed = sealed,
                                 .scrub = r->scrub,
                                 .secret = r->secret};
    r->w = etsn_transcript_writer_new(&meta, sink_fd, r, &r->err);
    if (!r->w) r->failed = true;
    return r->w != NULL;
}

static int handle(void *ctx, uint64_t conn_id, const char *user, const uint8_t *soap, size_t len,
                  etsn_buf *reply)
{
    mock_recorder *r = ctx;
    bool sealed = tl_sealed;
    double start = now_ms();
    int status =
        r->inner.handle ? r->inner.handle(r->inner.ctx, conn_id, user, soap, len, reply) : 500;
    double end = now_ms();
    pthread_mutex_lock(&r->lock);
    if (writer_ready(r, sealed)) {
        if (r->first_ms == 0) r->first_ms = start;
        etsn_transcript_exchange x = {
            .conn = conn_id,
            .start_ms = start - r->first_ms,
            .duration_ms = end - start,
            .status = status < 0 ? 500 : status,
            .request = soap,
            .request_len = len,
            .response = status >= 0 ? reply->data : NULL,
            .response_len = status >= 0 ? reply->len : 0,
        };
        if (etsn_transcript_add(r->w, &x, &r->err) < 0) r->failed = true;
    }
    pthread_mutex_unlock(&r->lock);
    return status;
}

mock_recorder *mock_recorder_open(const char *path, mock_http_config *cfg, bool scrub,
                                  const char *secret, char *err, size_t errlen)
{
    mock_recorder *r = calloc(1, sizeof *r);
    if (!r || (secret && !(r->secret = strdup(secret)))) {
        snprintf(err, errlen, "out of memory");
        free(r);
        return NULL;
    }
    /* 0600: even scrubbed, a transcript is the content of a private session. */
    r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (r->fd < 0 || fchmod(r->fd, 0600) < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        if (r->fd >= 0) close(r->fd);
        free(r->secret);
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->scrub = scrub;
    r->inner = *cfg;
    cfg->handle = handle;
    cfg->on_event = on_event;
    cfg->ctx = r;
    return r;
}

void mock_recorder_set_endpoint(mock_recorder *r, const char *endpoint)
{
    pthread_mutex_lock(&r->lock);
    free(r->endpoint);
    r->endpoint = endpoint ? strdup(endpoint) : NULL;
    pthread_mutex_unlock(&r->lock);
}

int mock_recorder_close(mock_recorder *r, char *err, size_t errlen)
{
    if (!r) return 0;
    /* Nothing served: still a valid (empty) transcript. */
    if (!r->w && !r->failed) writer_ready(r, false);
    if (r->w && !r->failed && etsn_transcript_finish(r->w, &r->err) < 0) r->failed = true;
    int rc = r->failed ? -1 : 0;
    if (close(r->fd) < 0 && rc == 0) {
        rc = -1;
        snprintf(r->err.message, sizeof r->err.message, "%s", strerror(errno));
    }
    if (rc < 0) snprintf(err, errlen, "%s", r->err.message);
    etsn_transcript_writer_free(r->w);
    pthread_mutex_destroy(&r->lock);
    free(r->endpoint);
    if (r->secret) {
        explicit_bzero(r->secret, strlen(r->secret));
        free(r->secret);
    }
    free(r);
    return rc;
}
