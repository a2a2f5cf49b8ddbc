#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t conf_interrupted = 0;

double conf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void conf_capture_init(conf_capture *c, size_t limit)
{
    memset(c, 0, sizeof *c);
    c->limit = limit;
    c->last = -1;
}

void conf_capture_free(conf_capture *c)
{
    etsn_buf_free(&c->data);
}

uint64_t conf_capture_lines(const conf_capture *c)
{
    return c->newlines + (c->last >= 0 && c->last != '\n' ? 1 : 0);
}

bool conf_capture_truncated(const conf_capture *c)
{
    return c->total > c->data.len;
}

static void capture_feed(conf_capture *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\n') c->newlines++;
    if (n) c->last = (unsigned char)p[n - 1];
    c->total += n;
    size_t room = c->data.len < c->limit ? c->limit - c->data.len : 0;
    size_t keep = n < room ? n : room;
    /* Out of memory only shortens what is kept; the counts stay right. */
    if (keep) (void)etsn_buf_append(&c->data, p, keep);
}

int conf_find_program(const char *name, char *out, size_t outlen)
{
    if (!name || !*name) return -1;
    if (strchr(name, '/')) {
        struct stat st;
        if (stat(name, &st) < 0 || !S_ISREG(st.st_mode) || access(name, X_OK) < 0) return -1;
        if (strlen(name) >= outlen) return -1;
        strcpy(out, name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t dlen = colon ? (size_t)(colon - path) : strlen(path);
        int n = snprintf(out, outlen, "%.*s/%s", (int)dlen, dlen ? path : ".", name);
        if (dlen == 0) n = snprintf(out, outlen, "./%s", name);
        struct stat st;
        if (n > 0 && (size_t)n < outlen && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
            access(out, X_OK) == 0)
            return 0;
        path += dlen;
        if (*path == ':') path++;
    }
    return -1;
}

/* Child side between fork and exec: only async-signal-safe calls, since the
 * runner is multithreaded. */
static void child_fd(int fd, int target)
{
    if (fd == target) {
        /* dup2 onto itself would keep close-on-exec set. */
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
    } else {
        dup2(fd, target);
    }
}

pid_t conf_spawn(char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
                 char *errbuf, size_t errlen)
{
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0) {
        snprintf(errbuf, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(errbuf, errlen, "fork: %s", strerror(errno));
        close(ep[0]);
        close(ep[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        /* The runner ignores SIGPIPE and handles INT/TERM; the child must
         * start with the defaults since ignored signals survive execve. */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* Move the sources clear of 0..2 first so dup2 cannot clobber one
         * with another (e.g. out_fd == 0 when the runner's stdin was closed). */
        int fds[3] = {in_fd, out_fd, err_fd};
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0 && fds[i] <= 2 && fds[i] != i) {
                int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (moved >= 0) fds[i] = moved;
            }
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0) child_fd(fds[i], i);
        execve(argv[0], argv, envp);
        int e = errno;
        ssize_t w = write(ep[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    setpgid(pid, pid); /* also in the parent: whichever runs first wins */
    close(ep[1]);
    int e = 0;
    ssize_t n;
    do n = read(ep[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(ep[0]);
    if (n == (ssize_t)sizeof e) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        snprintf(errbuf, errlen, "cannot execute %s: %s", argv[0], strerror(e));
        return -1;
    }
    return pid;
}

int conf_wait_pid(pid_t pid, int timeout_ms, int *status)
{
    double deadline = conf_now() + (timeout_ms < 0 ? 1e9 : timeout_ms / 1000.0);
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 0;
        if (r < 0 && errno != EINTR) {
            /* Not our child any more (should not happen): treat as gone. */
            *status = 0;
            return 0;
        }
        if (conf_now() >= deadline || conf_interrupted) return 1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int conf_run_captured(char *const argv[], char *const envp[], const char *in, size_t inlen,
                      int timeout_ms, conf_capture *out, conf_capture *err, conf_proc_result *res)
{
    memset(res, 0, sizeof *res);
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
        snprintf(res->spawn_error, sizeof res->spawn_error, "pipe: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (pin[i] >= 0) close(pin[i]);
            if (pout[i] >= 0) close(pout[i]);
            if (perr[i] >= 0) close(perr[i]);
        }
        return -1;
    }
    double start = conf_now();
    pid_t pid =
        conf_spawn(argv, envp, pin[0], pout[1], perr[1], res->spawn_error, sizeof res->spawn_error);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    if (pid < 0) {
        close(pin[1]);
        close(pout[0]);
        close(perr[0]);
        return -1;
    }
    int fd_in = pin[1], fd_out = pout[0], fd_err = perr[0];
    set_nonblock(fd_in);
    set_nonblock(fd_out);
    set_nonblock(fd_err);
    size_t written = 0;
    if (inlen == 0) {
        close(fd_in);
        fd_in = -1;
    }
    double deadline = start + timeout_ms / 1000.0;
    double exit_seen = 0, killed_at = 0;
    bool exited = false, killed = false;
    char chunk[65536];

    for (;;) {
        if (!exited) {
            /* WNOWAIT: observe the exit but keep the pid (and so the process
             * group id) reserved until stragglers are killed below. */
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                si.si_pid == pid) {
                exited = true;
                exit_seen = conf_now();
            }
        }
        if (exited && fd_out < 0 && fd_err < 0) break;
        double now = conf_now();
        if (!killed && (now >= deadline || conf_interrupted)) {
            if (conf_interrupted)
                res->interrupted = true;
            else
                res->timed_out = true;
            kill(-pid, SIGKILL);
            killed = true;
            killed_at = now;
        }
        /* A process the client left behind may hold the pipes open after the
         * client exits; give it a moment, then kill the group. */
        if (exited && !killed && now - exit_seen > 2.0) {
            kill(-pid, SIGKILL);
            killed = true;
            killed_at = now;
        }
        /* Only a process that left the group (setsid) can still hold the
         * pipes now; stop waiting for it. */
        if (killed && exited && now - killed_at > 5.0) break;

        struct pollfd pf[3];
        int np = 0;
        if (fd_in >= 0) pf[np++] = (struct pollfd){fd_in, POLLOUT, 0};
        if (fd_out >= 0) pf[np++] = (struct pollfd){fd_out, POLLIN, 0};
        if (fd_err >= 0) pf[np++] = (struct pollfd){fd_err, POLLIN, 0};
        int pr = np ? poll(pf, (nfds_t)np, 50) : 0;
        if (!np) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (pr <= 0) continue;
        for (int i = 0; i < np; i++) {
            if (!pf[i].revents) continue;
            int fd = pf[i].fd;
            if (fd == fd_in) {
                ssize_t w = write(fd_in, in + written, inlen - written);
                if (w > 0) written += (size_t)w;
                /* EPIPE: the client stopped reading; that is its business,
                 * the expectations will tell. */
                if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == inlen) {
                    close(fd_in);
                    fd_in = -1;
                }
                continue;
            }
            conf_capture *cap = fd == fd_out ? out : err;
            ssize_t r = read(fd, chunk, sizeof chunk);
            if (r > 0) {
                capture_feed(cap, chunk, (size_t)r);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(fd);
                if (fd == fd_out)
                    fd_out = -1;
                else
                    fd_err = -1;
            }
        }
    }
    if (fd_in >= 0) close(fd_in);
    if (fd_out >= 0) close(fd_out);
    if (fd_err >= 0) close(fd_err);
    /* Whatever is left of the group goes now, before the leader is reaped
     * and its pid (the group id) can be reused. */
    kill(-pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) {
        res->exited = true;
        res->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res->signal = WTERMSIG(status);
    }
    res->seconds = conf_now() - start;
    return 0;
}
