/* ETSN_RECORD: the HTTP layer hands each decrypted exchange to
 * etsn_recorder_on_exchange, which passes it to the transcript writer
 * (ref/core/transcript.h) whose sink writes straight to the file, so a long
 * session never accumulates in memory. Two connections post concurrently
 * (a Signal while a Receive waits), hence the mutex. */
#include "record.h"

#include "../core/transcript.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct etsn_recorder {
    int fd;
    pthread_mutex_t lock;
    etsn_transcript_writer *w;
    double first_ms;
    bool started;
    bool failed;
    etsn_error err;
};

static int sink_fd(void *ctx, const void *data, size_t len)
{
    etsn_recorder *r = ctx;
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

etsn_recorder *etsn_recorder_open(const char *path, const char *endpoint, const char *auth,
                                  bool sealed, bool scrub, const char *password, etsn_error *err)
{
    etsn_recorder *r = calloc(1, sizeof *r);
    if (!r) {
        etsn_error_set(err, 0, "Out of memory.");
        return NULL;
    }
    /* 0600: even scrubbed, a transcript is the content of a private session. */
    r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (r->fd < 0 || fchmod(r->fd, 0600) < 0) {
        etsn_error_set(err, 0, "Could not open the recording file '%s': %s", path, strerror(errno));
        if (r->fd >= 0) close(r->fd);
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    etsn_transcript_meta meta = {.source = "etsn --record",
                                 .endpoint = endpoint,
                                 .auth = auth,
                                 .sealed = sealed,
                                 .scrub = scrub,
                                 .secret = password};
    r->w = etsn_transcript_writer_new(&meta, sink_fd, r, err);
    if (!r->w) {
        etsn_recorder_close(r, NULL);
        return NULL;
    }
    return r;
}

void etsn_recorder_on_exchange(void *ctx, const etsn_http_exchange *x)
{
    etsn_recorder *r = ctx;
    pthread_mutex_lock(&r->lock);
    if (!r->started) r->first_ms = x->start_ms, r->started = true;
    etsn_transcript_exchange t = {
        .conn = x->conn,
        .start_ms = x->start_ms - r->first_ms,
        .duration_ms = x->duration_ms,
        .status = (int)x->status,
        .request = x->request,
        .request_len = x->request_len,
        .response = x->reply,
        .response_len = x->reply_len,
    };
    if (!r->failed && etsn_transcript_add(r->w, &t, &r->err) < 0) r->failed = true;
    pthread_mutex_unlock(&r->lock);
}

int etsn_recorder_close(etsn_recorder *r, etsn_error *err)
{
    if (!r) return 0;
    int rc = 0;
    if (r->w && !r->failed && etsn_transcript_finish(r->w, &r->err) < 0) r->failed = true;
    if (r->w && r->failed) rc = -1;
    if (r->fd >= 0 && close(r->fd) < 0) rc = -1;
    if (rc < 0 && err) *err = r->err;
    etsn_transcript_writer_free(r->w);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return rc;
}
