/* Ctrl+C as an event rather than a process kill: SIGINT writes a byte to a
 * self-pipe that the prompt's poll loop or the session's watcher thread
 * reads. One owner reads the pipe at a time. */
#ifndef ETSN_INTERRUPT_H
#define ETSN_INTERRUPT_H

#include <stdbool.h>

/* Installs the SIGINT handler (no SA_RESTART: blocking reads see EINTR). */
int etsn_interrupt_install(void);
/* The pipe's read end (non-blocking), or -1 before install. */
int etsn_interrupt_fd(void);
/* Drains the pipe; true if at least one Ctrl+C arrived since the last take. */
bool etsn_interrupt_take(void);

#endif
