#include "credential.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "../core/buf.h"

#define FQID_CRED "CredentialUnavailable,Microsoft.PowerShell.Commands.EnterPSSessionCommand"

/* A password longer than this is refused rather than grown without bound. */
#define SECRET_MAX 4096

static int cred_fail(etsn_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cred_fail(etsn_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    snprintf(err->fqid, sizeof err->fqid, "%s", FQID_CRED);
    snprintf(err->category, sizeof err->category, "%s", "InvalidArgument");
    return -1;
}

void etsn_secret_free(etsn_secret *s)
{
    if (s->data) {
        etsn_secure_zero(s->data, s->cap);
        free(s->data);
    }
    s->data = NULL;
    s->len = s->cap = 0;
}

int etsn_secret_append(etsn_secret *s, char c)
{
    if (s->len + 2 > s->cap) {
        if (s->len + 2 > SECRET_MAX) return -1;
        size_t ncap = s->cap ? s->cap * 2 : 64;
        if (ncap > SECRET_MAX) ncap = SECRET_MAX;
        /* Not realloc: it may leave the old secret behind in freed memory. */
        char *n = malloc(ncap);
        if (!n) return -1;
        if (s->data) {
            memcpy(n, s->data, s->len);
            etsn_secure_zero(s->data, s->cap);
            free(s->data);
        }
        s->data = n;
        s->cap = ncap;
    }
    s->data[s->len++] = c;
    s->data[s->len] = 0;
    return 0;
}

static int secret_empty(etsn_secret *s)
{
    /* An empty password is still a (valid) string. */
    if (!s->data) {
        s->data = calloc(1, 64);
        if (!s->data) return -1;
        s->cap = 64;
    }
    return 0;
}

int etsn_credential_set_user(etsn_credential *c, const char *user)
{
    free(c->user);
    free(c->domain);
    free(c->account);
    c->user = c->domain = c->account = NULL;
    c->user = strdup(user);
    if (!c->user) return -1;
    const char *bs = strchr(user, '\\');
    const char *at = strrchr(user, '@');
    if (bs) {
        c->domain = strndup(user, (size_t)(bs - user));
        c->account = strdup(bs + 1);
    } else if (at && at != user && at[1]) {
        c->account = strndup(user, (size_t)(at - user));
        c->domain = strdup(at + 1);
    } else {
        c->account = strdup(user);
    }
    if (!c->account || ((bs || (at && at != user && at[1])) && !c->domain)) return -1;
    return 0;
}

void etsn_credential_free(etsn_credential *c)
{
    if (!c) return;
    free(c->user);
    free(c->domain);
    free(c->account);
    c->user = c->domain = c->account = NULL;
    etsn_secret_free(&c->password);
}

/* Reads one byte at a time so nothing past the first line is consumed from a
 * pipe another process may still use. */
static int read_line(int fd, etsn_secret *out, bool *eof_at_start, etsn_error *err)
{
    etsn_secret_free(out);
    *eof_at_start = false;
    bool any = false;
    for (;;) {
        char ch;
        ssize_t n = read(fd, &ch, 1);
        if (n < 0 && errno == EINTR) return ETSN_CRED_INTERRUPTED;
        if (n < 0) {
            etsn_secret_free(out);
            return cred_fail(err, "Cannot read the password: %s.", strerror(errno));
        }
        if (n == 0) {
            *eof_at_start = !any;
            break;
        }
        any = true;
        if (ch == '\n') break;
        if (etsn_secret_append(out, ch) < 0) {
            etsn_secret_free(out);
            return cred_fail(err, "The password is longer than %d bytes.", SECRET_MAX - 2);
        }
        etsn_secure_zero(&ch, 1);
    }
    if (out->len && out->data[out->len - 1] == '\r') out->data[--out->len] = 0;
    return secret_empty(out) < 0 ? cred_fail(err, "Out of memory.") : 0;
}

int etsn_credential_read_fd(int fd, etsn_secret *out, etsn_error *err)
{
    bool eof;
    int rc = read_line(fd, out, &eof, err);
    if (rc == ETSN_CRED_INTERRUPTED) return cred_fail(err, "Reading the password was interrupted.");
    return rc;
}

int etsn_credential_read_file(const char *path, etsn_secret *out, etsn_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return cred_fail(err, "Cannot open the password file '%s' (ETSN_PASSWORD_FILE): %s.", path,
                         strerror(errno));
    struct stat st;
    /* fstat on the open file: no window between check and use. */
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return cred_fail(err, "Cannot stat the password file '%s': %s.", path, strerror(e));
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 077)) {
        close(fd);
        return cred_fail(err,
                         "The password file '%s' (ETSN_PASSWORD_FILE) is accessible by other users "
                         "(mode %04o); restrict it with chmod 600.",
                         path, (unsigned)(st.st_mode & 07777));
    }
    int rc = etsn_credential_read_fd(fd, out, err);
    close(fd);
    return rc;
}

/* ---- terminal ------------------------------------------------------------ */

/* Saved state for the signal handlers; a prompt runs once at a time. */
static volatile sig_atomic_t g_tty_fd = -1;
static struct termios g_saved;
static volatile sig_atomic_t g_interrupted;
static const int g_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define NSIGS (sizeof g_sigs / sizeof g_sigs[0])
static struct sigaction g_old[NSIGS];

static void on_signal(int sig)
{
    int saved_errno = errno;
    int fd = g_tty_fd;
    if (fd >= 0) tcsetattr(fd, TCSAFLUSH, &g_saved); /* echo back on first */
    if (sig == SIGINT) {
        g_interrupted = 1; /* read() returns EINTR; the caller decides */
    } else if (sig == SIGTSTP) {
        /* Stop with echo on; turn it off again when continued. */
        signal(SIGTSTP, SIG_DFL);
        raise(SIGTSTP);
        struct termios t = g_saved;
        t.c_lflag &= ~(tcflag_t)ECHO;
        t.c_lflag |= ECHONL;
        if (fd >= 0) tcsetattr(fd, TCSAFLUSH, &t);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTSTP, &sa, NULL);
    } else {
        /* Terminate as the signal would have. */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    errno = saved_errno;
}

static void write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads a line on the terminal, without echo when secret. */
static int tty_read(int fd, bool secret, etsn_secret *out, etsn_error *err)
{
    struct termios t;
    bool restore = false;
    if (secret && tcgetattr(fd, &t) == 0) {
        g_saved = t;
        g_interrupted = 0;
        g_tty_fd = fd;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal; /* no SA_RESTART: Ctrl+C must end read() */
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < NSIGS; i++) sigaction(g_sigs[i], &sa, &g_old[i]);
        t.c_lflag &= ~(tcflag_t)ECHO;
        if (tcsetattr(fd, TCSAFLUSH, &t) == 0) restore = true;
    }
    bool eof;
    int rc = read_line(fd, out, &eof, err);
    if (secret) {
        if (restore) tcsetattr(fd, TCSAFLUSH, &g_saved);
        g_tty_fd = -1;
        for (size_t i = 0; i < NSIGS; i++) sigaction(g_sigs[i], &g_old[i], NULL);
        /* pwsh ends the hidden input with a new line (WriteLineToConsole). */
        write_all(fd, "\n");
    }
    if (rc == 0 && eof) {
        etsn_secret_free(out);
        return cred_fail(err, "No password was entered (end of input).");
    }
    if (rc == ETSN_CRED_INTERRUPTED || (rc == 0 && g_interrupted)) {
        etsn_secret_free(out);
        return ETSN_CRED_INTERRUPTED;
    }
    return rc;
}

static int open_terminal(const etsn_credential_sources *src, bool *close_it)
{
    *close_it = false;
    if (src->tty_path) {
        int fd = open(src->tty_path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
            if (isatty(fd)) {
                *close_it = true;
                return fd;
            }
            close(fd);
        }
    }
    if (src->try_stdin_tty && isatty(STDIN_FILENO)) return STDIN_FILENO;
    return -1;
}

static int prompt_terminal(const char *user, const etsn_credential_sources *src, etsn_credential *c,
                           etsn_error *err)
{
    bool close_it;
    int fd = open_terminal(src, &close_it);
    if (fd < 0)
        return cred_fail(err,
                         "Cannot prompt for the password of user '%s': there is no terminal. Set "
                         "ETSN_PASSWORD_FILE to a file (mode 600) or ETSN_PASSWORD_FD to a file "
                         "descriptor holding the password.",
                         user && *user ? user : "");
    /* On a prompt written to stdin (no /dev/tty), the terminal is the same. */
    int out = fd;
    /* ConsoleHostUserInterface.PromptForCredential: a blank line, the caption,
     * the message (CredentialAttributeStrings), then the prompts
     * (ConsoleHostUserInterfaceSecurityResources). */
    write_all(out, "\nPowerShell credential request\nEnter your credentials.\n");
    int rc = 0;
    etsn_secret name = {0};
    if (!user || !*user) {
        do {
            write_all(out, "User: ");
            rc = tty_read(fd, false, &name, err);
            if (rc != 0) goto done;
        } while (name.len == 0);
        user = name.data;
    }
    if (etsn_credential_set_user(c, user) < 0) {
        rc = cred_fail(err, "Out of memory.");
        goto done;
    }
    char *pp = NULL;
    if (asprintf(&pp, "Password for user %s: ", user) < 0) {
        rc = cred_fail(err, "Out of memory.");
        goto done;
    }
    write_all(out, pp);
    free(pp);
    rc = tty_read(fd, true, &c->password, err);
done:
    etsn_secret_free(&name);
    if (close_it) close(fd);
    return rc;
}

int etsn_credential_acquire_from(const char *user, const etsn_credential_sources *src,
                                 etsn_credential *c, etsn_error *err)
{
    if (src->password_fd && *src->password_fd) {
        char *end;
        errno = 0;
        long fd = strtol(src->password_fd, &end, 10);
        if (*end || errno || fd < 0 || fd > 1000000)
            return cred_fail(err, "ETSN_PASSWORD_FD must be a file descriptor number, not '%s'.",
                             src->password_fd);
        if (!user || !*user)
            return cred_fail(err, "-Credential needs a user name when the password comes from "
                                  "ETSN_PASSWORD_FD.");
        if (etsn_credential_set_user(c, user) < 0) return cred_fail(err, "Out of memory.");
        int rc = etsn_credential_read_fd((int)fd, &c->password, err);
        /* The descriptor was handed over for this; keep it from children. */
        close((int)fd);
        return rc;
    }
    if (src->password_file && *src->password_file) {
        if (!user || !*user)
            return cred_fail(err, "-Credential needs a user name when the password comes from "
                                  "ETSN_PASSWORD_FILE.");
        if (etsn_credential_set_user(c, user) < 0) return cred_fail(err, "Out of memory.");
        return etsn_credential_read_file(src->password_file, &c->password, err);
    }
    return prompt_terminal(user, src, c, err);
}

int etsn_credential_acquire(const char *user, etsn_credential *c, etsn_error *err)
{
    etsn_credential_sources src = {
        .password_file = getenv("ETSN_PASSWORD_FILE"),
        .password_fd = getenv("ETSN_PASSWORD_FD"),
        .tty_path = "/dev/tty",
        .try_stdin_tty = true,
    };
    return etsn_credential_acquire_from(user, &src, c, err);
}
