/* Child processes for the runner: spawn in a fresh process group (so a
 * timeout can kill a client and everything it started), feed stdin through
 * a pipe, capture stdout/stderr with a bound, wait with a deadline. Every
 * descriptor is close-on-exec so that cases running in parallel never hold
 * each other's pipes open. */
#ifndef ETSN_CONF_PROC_H
#define ETSN_CONF_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../ref/core/buf.h"

/* Set by the runner's SIGINT/SIGTERM handler; waits give up when it is. */
extern volatile sig_atomic_t conf_interrupted;

/* Output kept up to limit bytes; beyond that only counted, so a case that
 * prints gigabytes can still check its line count. */
typedef struct {
    etsn_buf data;
    size_t limit;
    uint64_t total;
    uint64_t newlines;
    int last; /* last byte seen, -1 before any */
} conf_capture;

void conf_capture_init(conf_capture *c, size_t limit);
void conf_capture_free(conf_capture *c);
/* Lines as `wc -l` would count them, plus a final unterminated one. */
uint64_t conf_capture_lines(const conf_capture *c);
bool conf_capture_truncated(const conf_capture *c);

typedef struct {
    bool exited; /* normal exit; exit_code valid */
    int exit_code;
    int signal; /* killed by this signal, 0 if not */
    bool timed_out;
    bool interrupted;
    double seconds;
    char spawn_error[512]; /* non-empty when the program could not start */
} conf_proc_result;

/* Finds an executable: a name with a '/' is checked as is, otherwise PATH
 * is searched. Writes the path into out. Returns -1 when not found. */
int conf_find_program(const char *name, char *out, size_t outlen);

/* Starts argv[0] (a path) with the given descriptors as 0/1/2, in its own
 * process group. Returns the pid, or -1 with errbuf saying why, including
 * when execve fails in the child. */
pid_t conf_spawn(char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
                 char *errbuf, size_t errlen);

/* Waits for pid up to timeout_ms (negative: forever). Returns 0 when it was
 * reaped (status set), 1 on timeout or interruption (still running). */
int conf_wait_pid(pid_t pid, int timeout_ms, int *status);

/* Runs a program to completion: writes in (then closes stdin), captures
 * output, kills its whole process group at the deadline. Every process of
 * the group is gone when it returns. Returns 0, or -1 when it could not
 * start (res->spawn_error). */
int conf_run_captured(char *const argv[], char *const envp[], const char *in, size_t inlen,
                      int timeout_ms, conf_capture *out, conf_capture *err, conf_proc_result *res);

double conf_now(void);

#endif
