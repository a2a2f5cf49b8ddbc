/* Where typed lines come from. On a terminal: libedit, with line editing,
 * history kept per user in $XDG_STATE_HOME/etsn/history, remote tab
 * completion, and Ctrl+C clearing the line as PowerShell's console does.
 * Otherwise plain stdin, each line echoed after its prompt so that a
 * scripted run reads like a transcript. */
#ifndef ETSN_LINE_INPUT_H
#define ETSN_LINE_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Completion candidates for `line` with the cursor at byte `cursor`: fills
 * matches (malloc'd strings, the caller frees) and *replace_start /
 * *replace_len, the part of the line they replace. Returns the count. */
typedef size_t (*etsn_complete_fn)(void *ctx, const char *line, size_t cursor, char ***matches,
                                   size_t *replace_start, size_t *replace_len);

typedef struct {
    bool terminal;
    FILE *in;
    FILE *out;
    char *history_path; /* NULL: no history file */
    etsn_complete_fn complete;
    void *complete_ctx;
    /* Set by the session while a host call (Read-Host, Get-Credential)
     * reads: such answers stay out of the history and Tab does nothing. */
    bool host_read;
    /* The last read ended with Ctrl+C. */
    bool interrupted;
} etsn_line_input;

void etsn_line_input_init(etsn_line_input *li, FILE *in, FILE *out);
/* Saves the history and frees what init allocated. */
void etsn_line_input_finish(etsn_line_input *li);
/* etsn_read_line_fn: a malloc'd line without newline, NULL at the end of
 * input. On a terminal Ctrl+C abandons the line: it returns "" after a
 * newline, as ConsoleHost does, and the caller prompts again. */
char *etsn_line_input_read(void *li, const char *prompt);
/* The history file: $XDG_STATE_HOME/etsn/history, else
 * ~/.local/state/etsn/history (malloc'd; NULL without a home). */
char *etsn_history_path(void);

#endif
