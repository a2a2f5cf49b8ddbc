#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../ref/core/buf.h"
#include "proc.h"
#include "textdiff.h"

extern char **environ;

#define POLL_MS 50
#define TMUX_CMD_TIMEOUT_MS 10000
#define SESSION "conform"
#define SCREEN_CAP (1024 * 1024)

static atomic_uint server_counter;

typedef struct {
    const conf_term_job *j;
    conf_strv env;   /* for tmux itself: the runner's, without TMUX */
    char sock[64];   /* -L name */
    char conf[4096]; /* -f file */
    conf_strv *reasons;
    conf_term_outcome *out;
    pid_t server_pid; /* from #{pid}, 0 when unknown */
    pid_t pane_pid;   /* the wrapper shell: leader of the pane's process group */
    char socket_path[4096];
} term;

static void fail(term *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(term *t, const char *fmt, ...)
{
    etsn_buf b = ETSN_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    int rc = etsn_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc == 0) (void)conf_strv_push(t->reasons, (const char *)b.data, b.len);
    etsn_buf_free(&b);
    t->out->failed = true;
}

/* Runs `tmux -u -L SOCK -f CONF args...`; stdout into out (when not NULL).
 * Returns tmux's exit status, or -1 when it could not run or hung. */
static int tmux(term *t, etsn_buf *out, char *errtext, size_t errlen, const char *a0, ...)
{
    conf_strv argv = {0};
    const char *fixed[] = {t->j->tmux, "-u", "-L", t->sock, "-f", t->conf};
    int rc = -1;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (conf_strv_push(&argv, fixed[i], strlen(fixed[i])) < 0) goto done;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a; a = va_arg(ap, const char *))
        if (conf_strv_push(&argv, a, strlen(a)) < 0) {
            va_end(ap);
            goto done;
        }
    va_end(ap);
    conf_capture co, ce;
    conf_capture_init(&co, SCREEN_CAP);
    conf_capture_init(&ce, 4096);
    conf_proc_result pr;
    if (conf_run_captured(argv.v, t->env.v, NULL, 0, TMUX_CMD_TIMEOUT_MS, &co, &ce, &pr) < 0) {
        snprintf(errtext, errlen, "%s", pr.spawn_error);
    } else if (pr.timed_out || pr.interrupted) {
        snprintf(errtext, errlen, "tmux %s %s", a0, pr.interrupted ? "interrupted" : "hung");
    } else if (!pr.exited) {
        snprintf(errtext, errlen, "tmux %s died of signal %d", a0, pr.signal);
    } else {
        rc = pr.exit_code;
        if (rc != 0) {
            size_t n = ce.data.len;
            while (n && (ce.data.data[n - 1] == '\n' || ce.data.data[n - 1] == '\r')) n--;
            snprintf(errtext, errlen, "tmux %s: exit %d: %.*s", a0, rc, (int)n,
                     ce.data.data ? (const char *)ce.data.data : "");
        }
        if (out) {
            etsn_buf_reset(out);
            if (co.data.len) (void)etsn_buf_append(out, co.data.data, co.data.len);
            (void)etsn_buf_append(out, "", 0);
        }
    }
    conf_capture_free(&co);
    conf_capture_free(&ce);
done:
    conf_strv_free(&argv);
    return rc;
}

/* The visible screen. Row by row (trailing blanks removed by tmux), or
 * with wrapped rows joined back into the lines the program wrote, so that
 * a text is found wherever the pane's width broke it. */
static int capture(term *t, bool ansi, bool joined, etsn_buf *screen, char *why, size_t whylen)
{
    const char *a[3];
    int n = 0;
    if (ansi) a[n++] = "-e";
    if (joined) a[n++] = "-J";
    a[n] = NULL;
    int rc =
        n == 0 ? tmux(t, screen, why, whylen, "capture-pane", "-p", "-t", SESSION, NULL)
        : n == 1
            ? tmux(t, screen, why, whylen, "capture-pane", "-p", "-t", SESSION, a[0], NULL)
            : tmux(t, screen, why, whylen, "capture-pane", "-p", "-t", SESSION, a[0], a[1], NULL);
    return rc == 0 ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !conf_interrupted) {
    }
}

/* 'text' for sh, with ' as '\''. */
static int sh_quote(etsn_buf *b, const char *s)
{
    if (etsn_buf_append_byte(b, '\'') < 0) return -1;
    for (; *s; s++) {
        if (*s == '\'') {
            if (etsn_buf_append_str(b, "'\\''") < 0) return -1;
        } else if (etsn_buf_append_byte(b, (uint8_t)*s) < 0) {
            return -1;
        }
    }
    return etsn_buf_append_byte(b, '\'');
}

static int write_text(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    return close(fd);
}

/* The pane runs this script: the client with exactly its environment (the
 * password only ever in a file), then its status into a file. A trap with
 * a command (not an ignore, which exec would pass on) keeps the shell
 * alive through the Ctrl+C a case sends to the client. */
static int write_wrapper(term *t, const char *path, const char *status)
{
    char envp[4096];
    if (conf_find_program("env", envp, sizeof envp) < 0) return -1;
    bool own_term = false;
    for (char *const *e = t->j->env; *e; e++)
        if (strncmp(*e, "TERM=", 5) == 0) own_term = true;
    etsn_buf b = ETSN_BUF_INIT;
    int rc = etsn_buf_append_str(&b, "#!/bin/sh\n# etsn-conform: the client in its pane\n"
                                     "trap : INT QUIT\n");
    rc |= sh_quote(&b, envp);
    rc |= etsn_buf_append_str(&b, " -i");
    if (!own_term) rc |= etsn_buf_append_str(&b, " \"TERM=$TERM\"");
    for (char *const *e = t->j->env; *e; e++) {
        rc |= etsn_buf_append_str(&b, " \\\n  ");
        rc |= sh_quote(&b, *e);
    }
    for (char *const *a = t->j->argv; *a; a++) {
        rc |= etsn_buf_append_str(&b, " \\\n  ");
        rc |= sh_quote(&b, *a);
    }
    /* Written then renamed: wait-exit never reads half a number. */
    rc |= etsn_buf_append_str(&b, "\necho $? > ");
    rc |= sh_quote(&b, status);
    rc |= etsn_buf_append_str(&b, ".tmp && mv ");
    rc |= sh_quote(&b, status);
    rc |= etsn_buf_append_str(&b, ".tmp ");
    rc |= sh_quote(&b, status);
    rc |= etsn_buf_append_str(&b, "\n");
    if (rc == 0) rc = write_text(path, (const char *)b.data, b.len, 0700);
    etsn_buf_free(&b);
    return rc;
}

static int read_status(const char *path, int *status)
{
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    int ok = fscanf(f, "%d", status);
    fclose(f);
    return ok == 1 ? 0 : -1;
}

static char *subst(const term *t, const char *s)
{
    return conf_subst(s, strlen(s), t->j->vars, NULL);
}

/* Appends the screen, each row as "  |row", trailing empty rows dropped. */
static void add_screen(term *t, const char *label, const etsn_buf *screen)
{
    const char *s = screen->data ? (const char *)screen->data : "";
    size_t len = screen->len;
    while (len && (s[len - 1] == '\n' || s[len - 1] == 0)) len--;
    etsn_buf b = ETSN_BUF_INIT;
    int rc = etsn_buf_printf(&b, "%s (%dx%d):", label, t->j->c->term_w, t->j->c->term_h);
    size_t pos = 0;
    while (rc == 0 && pos < len) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t stop = nl ? (size_t)(nl - s) : len;
        rc |= etsn_buf_append_str(&b, "\n  |");
        rc |= conf_render(&b, s + pos, stop - pos, false);
        pos = stop + 1;
    }
    if (rc == 0) (void)conf_strv_push(t->reasons, (const char *)b.data, b.len);
    etsn_buf_free(&b);
}

static bool screen_has(const etsn_buf *screen, const char *want)
{
    size_t wl = strlen(want);
    if (!wl) return true;
    return screen->data && memmem(screen->data, screen->len, want, wl) != NULL;
}

/* The row the cursor is on, from #{cursor_y}. */
static int cursor_row(term *t, const etsn_buf *screen, etsn_buf *row, char *why, size_t whylen)
{
    etsn_buf o = ETSN_BUF_INIT;
    int rc = tmux(t, &o, why, whylen, "display-message", "-p", "-t", SESSION, "#{cursor_y}", NULL);
    long y = rc == 0 && o.data ? strtol((const char *)o.data, NULL, 10) : -1;
    etsn_buf_free(&o);
    if (rc != 0) return -1;
    const char *s = screen->data ? (const char *)screen->data : "";
    size_t pos = 0;
    for (long i = 0; i < y && pos < screen->len; i++) {
        const char *nl = memchr(s + pos, '\n', screen->len - pos);
        pos = nl ? (size_t)(nl - s) + 1 : screen->len;
    }
    const char *nl = pos < screen->len ? memchr(s + pos, '\n', screen->len - pos) : NULL;
    size_t stop = nl ? (size_t)(nl - s) : screen->len;
    while (stop > pos && s[stop - 1] == 0) stop--;
    etsn_buf_reset(row);
    if (stop > pos) (void)etsn_buf_append(row, s + pos, stop - pos);
    return etsn_buf_append(row, "", 0);
}

static const char *op_word(conf_term_op op)
{
    static const char *w[] = {
        [CONF_T_SIZE] = "size",
        [CONF_T_RESIZE] = "resize",
        [CONF_T_TIMEOUT] = "timeout",
        [CONF_T_SEND] = "send",
        [CONF_T_SEND_KEYS] = "send-keys",
        [CONF_T_WAIT_FOR] = "wait-for",
        [CONF_T_WAIT_NOT] = "wait-not",
        [CONF_T_CONTAINS] = "screen-contains",
        [CONF_T_NOT_CONTAINS] = "screen-not-contains",
        [CONF_T_CONTAINS_ANSI] = "screen-contains-ansi",
        [CONF_T_CURSOR_LINE] = "cursor-line",
        [CONF_T_WAIT_CURSOR] = "wait-cursor-line",
        [CONF_T_SLEEP] = "sleep",
        [CONF_T_WAIT_EXIT] = "wait-exit",
    };
    return w[op];
}

/* "line 12: wait-for "text"" for messages, the text rendered safely. */
static void step_label(etsn_buf *b, const conf_term_step *st, const char *text)
{
    etsn_buf_printf(b, "[terminal] line %zu: %s", st->line, op_word(st->op));
    if (text && *text) {
        etsn_buf_append_str(b, " \"");
        conf_render(b, text, strlen(text), true);
        etsn_buf_append_str(b, "\"");
    }
}

static void fail_step(term *t, const conf_term_step *st, const char *text, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_step(term *t, const conf_term_step *st, const char *text, const char *fmt, ...)
{
    etsn_buf b = ETSN_BUF_INIT;
    step_label(&b, st, text);
    etsn_buf_append_str(&b, ": ");
    va_list ap;
    va_start(ap, fmt);
    etsn_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    (void)conf_strv_push(t->reasons, b.data ? (const char *)b.data : "", b.len);
    etsn_buf_free(&b);
    t->out->failed = true;
}

/* Runs one step. Returns 0 to go on, -1 to stop the script. */
static int run_step(term *t, const conf_term_step *st, double *step_timeout, double case_deadline,
                    const char *status_path, etsn_buf *screen)
{
    char why[1024] = "";
    double stretch = t->j->stretch;
    double deadline = conf_now() + *step_timeout * stretch;
    bool case_bound = false;
    if (deadline > case_deadline) {
        deadline = case_deadline;
        case_bound = true;
    }
    char *text = NULL;
    int rc = 0;
    switch (st->op) {
    case CONF_T_SIZE:
        return 0; /* applied when the session was made */
    case CONF_T_RESIZE: {
        char w[16], h[16];
        snprintf(w, sizeof w, "%ld", (long)st->num);
        snprintf(h, sizeof h, "%ld", (long)st->num2);
        /* The pane's program gets SIGWINCH, as from a terminal emulator. */
        if (tmux(t, NULL, why, sizeof why, "resize-window", "-t", SESSION, "-x", w, "-y", h,
                 NULL) != 0) {
            fail_step(t, st, st->arg, "tmux resize-window failed: %s", why);
            return -1;
        }
        return 0;
    }
    case CONF_T_TIMEOUT:
        *step_timeout = (double)st->num;
        return 0;
    case CONF_T_SLEEP:
        sleep_ms(st->num);
        return conf_interrupted ? -1 : 0;
    case CONF_T_SEND:
    case CONF_T_SEND_KEYS:
        for (size_t i = 0; i < st->nparts && rc == 0; i++) {
            const conf_term_piece *p = &st->parts[i];
            if (p->key) {
                if (tmux(t, NULL, why, sizeof why, "send-keys", "-t", SESSION, p->s, NULL) != 0)
                    rc = -1;
            } else {
                char *s = subst(t, p->s);
                if (!s || tmux(t, NULL, why, sizeof why, "send-keys", "-t", SESSION, "-l", "--", s,
                               NULL) != 0)
                    rc = -1;
                free(s);
            }
        }
        if (rc < 0) fail_step(t, st, NULL, "%s", *why ? why : "out of memory");
        return rc;
    case CONF_T_WAIT_EXIT:
        for (;;) {
            int status;
            if (read_status(status_path, &status) == 0) {
                t->out->exited = true;
                t->out->status = status;
                return 0;
            }
            if (conf_interrupted) return -1;
            if (conf_now() >= deadline) {
                if (case_bound)
                    fail_step(t, st, NULL, "the client did not exit within the case's [timeout]");
                else
                    fail_step(t, st, NULL, "the client did not exit within %.0f s",
                              *step_timeout * stretch);
                return -1;
            }
            sleep_ms(POLL_MS);
        }
    default:
        break;
    }

    /* The screen steps. */
    text = subst(t, st->arg);
    if (!text) {
        fail_step(t, st, NULL, "out of memory");
        return -1;
    }
    bool waiting =
        st->op == CONF_T_WAIT_FOR || st->op == CONF_T_WAIT_NOT || st->op == CONF_T_WAIT_CURSOR;
    bool ansi = st->op == CONF_T_CONTAINS_ANSI;
    bool cursor = st->op == CONF_T_CURSOR_LINE || st->op == CONF_T_WAIT_CURSOR;
    etsn_buf row = ETSN_BUF_INIT;
    for (;;) {
        if (capture(t, ansi, !cursor, screen, why, sizeof why) < 0) {
            fail_step(t, st, text, "%s", why);
            rc = -1;
            break;
        }
        bool ok;
        if (cursor) {
            if (cursor_row(t, screen, &row, why, sizeof why) < 0) {
                fail_step(t, st, text, "%s", why);
                rc = -1;
                break;
            }
            ok = strcmp(row.data ? (const char *)row.data : "", text) == 0;
        } else {
            bool has = screen_has(screen, text);
            ok = st->op == CONF_T_NOT_CONTAINS || st->op == CONF_T_WAIT_NOT ? !has : has;
        }
        if (ok) break;
        if (!waiting || conf_now() >= deadline) {
            etsn_buf m = ETSN_BUF_INIT;
            if (cursor) {
                etsn_buf_append_str(&m, "the cursor's line is \"");
                conf_render(&m, row.data ? (const char *)row.data : "", row.len ? row.len - 1 : 0,
                            true);
                etsn_buf_append_str(&m, "\"");
            } else {
                etsn_buf_append_str(&m, st->op == CONF_T_NOT_CONTAINS || st->op == CONF_T_WAIT_NOT
                                            ? "still on the screen"
                                            : "not on the screen");
            }
            if (waiting && case_bound)
                etsn_buf_printf(&m, " at the case's [timeout] of %d s", t->j->c->timeout_s);
            else if (waiting)
                etsn_buf_printf(&m, " after %.0f s", *step_timeout * stretch);
            fail_step(t, st, text, "%s", m.data ? (const char *)m.data : "");
            etsn_buf_free(&m);
            rc = -1;
            break;
        }
        if (conf_interrupted) {
            rc = -1;
            break;
        }
        sleep_ms(POLL_MS);
    }
    etsn_buf_free(&row);
    free(text);
    return rc;
}

/* A process that exists and is not a zombie: the tmux server is a daemon,
 * reaped by whoever adopted it, maybe late. */
static bool alive(pid_t pid)
{
    if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM)) return false;
    char path[64], st[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return true; /* no /proc: trust kill() */
    size_t n = fread(st, 1, sizeof st - 1, f);
    fclose(f);
    st[n] = 0;
    const char *rp = strrchr(st, ')');
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

static void stop_server(term *t)
{
    char why[512];
    /* The pane's processes first, while their group id is surely theirs;
     * kill-server would only send them SIGHUP, which a client may ignore. */
    if (t->pane_pid > 0) kill(-t->pane_pid, SIGKILL);
    (void)tmux(t, NULL, why, sizeof why, "kill-server", NULL);
    for (int i = 0; i < 200 && alive(t->server_pid); i++) sleep_ms(10);
    if (alive(t->server_pid)) kill(t->server_pid, SIGKILL);
    if (t->socket_path[0]) unlink(t->socket_path);
}

void conf_term_run(const conf_term_job *j, conf_term_outcome *out, conf_strv *reasons,
                   conf_strv *notes)
{
    memset(out, 0, sizeof *out);
    double t0 = conf_now();
    term t;
    memset(&t, 0, sizeof t);
    t.j = j;
    t.out = out;
    t.reasons = reasons;
    snprintf(t.sock, sizeof t.sock, "etsn-conform-%d-%u", (int)getpid(),
             atomic_fetch_add(&server_counter, 1));
    snprintf(t.conf, sizeof t.conf, "%s/tmux.conf", j->dir);
    char wrapper[4096], status[4096], why[1024] = "";
    snprintf(wrapper, sizeof wrapper, "%s/client.sh", j->dir);
    snprintf(status, sizeof status, "%s/status", j->dir);
    etsn_buf screen = ETSN_BUF_INIT, cmd = ETSN_BUF_INIT, o = ETSN_BUF_INIT;
    bool started = false;

    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "TMUX=", 5) != 0 && strncmp(*e, "TMUX_PANE=", 10) != 0 &&
            conf_strv_push(&t.env, *e, strlen(*e)) < 0)
            goto oom;
    if (!t.env.v && conf_strv_push(&t.env, "ETSN_CONFORM=1", 14) < 0) goto oom;

    /* No status line: the pane is the whole WxH. The pane stays after the
     * client exits so that its last screen can still be read. */
    static const char conf_text[] = "set -g status off\n"
                                    "set -g remain-on-exit on\n"
                                    "set -g default-shell /bin/sh\n"
                                    "set -g history-limit 2000\n";
    if (write_text(t.conf, conf_text, sizeof conf_text - 1, 0600) < 0 ||
        write_wrapper(&t, wrapper, status) < 0) {
        fail(&t, "terminal: cannot write %s: %s", wrapper, strerror(errno));
        goto done;
    }
    if (sh_quote(&cmd, wrapper) < 0 || etsn_buf_append(&cmd, "", 0) < 0) goto oom;
    char w[16], h[16];
    snprintf(w, sizeof w, "%d", j->c->term_w);
    snprintf(h, sizeof h, "%d", j->c->term_h);
    started = true; /* a server may be up even when new-session reports an error */
    if (tmux(&t, NULL, why, sizeof why, "new-session", "-d", "-s", SESSION, "-x", w, "-y", h,
             (const char *)cmd.data, NULL) != 0) {
        fail(&t, "terminal: cannot start tmux: %s", why);
        goto done;
    }
    if (tmux(&t, &o, why, sizeof why, "display-message", "-p", "-t", SESSION,
             "#{pid} #{pane_pid} #{socket_path}", NULL) != 0) {
        fail(&t, "terminal: %s", why);
        goto done;
    }
    {
        long sp = 0, pp = 0;
        int off = 0;
        if (sscanf((const char *)o.data, "%ld %ld %n", &sp, &pp, &off) >= 2) {
            t.server_pid = (pid_t)sp;
            t.pane_pid = (pid_t)pp;
            size_t n = strcspn((const char *)o.data + off, "\n");
            snprintf(t.socket_path, sizeof t.socket_path, "%.*s", (int)n,
                     (const char *)o.data + off);
        }
    }
    (void)conf_strv_pushf(notes, "terminal: tmux -L %s, %dx%d, pane pid %d", t.sock, j->c->term_w,
                          j->c->term_h, (int)t.pane_pid);

    double step_timeout = CONF_TERM_DEFAULT_STEP_S;
    double case_deadline = t0 + j->c->timeout_s * j->stretch;
    for (size_t i = 0; i < j->c->nterm; i++) {
        if (run_step(&t, &j->c->term[i], &step_timeout, case_deadline, status, &screen) < 0) break;
        if (conf_interrupted) {
            fail(&t, "interrupted");
            break;
        }
    }
    if (out->failed) {
        if (capture(&t, false, false, &screen, why, sizeof why) == 0)
            add_screen(&t, "screen at the end", &screen);
        else
            fail(&t, "terminal: cannot read the final screen: %s", why);
    }
    goto done;
oom:
    fail(&t, "runner: out of memory");
done:
    if (started) stop_server(&t);
    etsn_buf_free(&screen);
    etsn_buf_free(&cmd);
    etsn_buf_free(&o);
    conf_strv_free(&t.env);
    out->seconds = conf_now() - t0;
}
