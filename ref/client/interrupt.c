#include "interrupt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int pipe_fds[2] = {-1, -1};

static void on_sigint(int sig)
{
    (void)sig;
    int saved = errno;
    char byte = 'C';
    /* A full pipe already says "interrupted"; nothing is lost. */
    if (write(pipe_fds[1], &byte, 1) < 0) {
    }
    errno = saved;
}

int etsn_interrupt_install(void)
{
    if (pipe_fds[0] >= 0) return 0;
    if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked read returns EINTR */
    return sigaction(SIGINT, &sa, NULL);
}

int etsn_interrupt_fd(void)
{
    return pipe_fds[0];
}

bool etsn_interrupt_take(void)
{
    if (pipe_fds[0] < 0) return false;
    char buf[64];
    bool any = false;
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) any = true;
    return any;
}
