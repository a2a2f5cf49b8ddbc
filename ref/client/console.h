/* The terminal side of the interactive host (private to host_ui.c): colour
 * and plain output, the live progress pane, and input that bypasses the line
 * editor (no-echo secrets, single keys). Everything goes through the
 * etsn_host_ui streams; escape sequences only when ui->terminal (cursor,
 * title, progress) and ui->color (SGR colours). */
#ifndef ETSN_CONSOLE_H
#define ETSN_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../core/buf.h"
#include "host_ui.h"
#include "progress.h"

/* ConsoleColor values (System.ConsoleColor). */
enum {
    ETSN_CC_BLACK = 0,
    ETSN_CC_GRAY = 7,
    ETSN_CC_RED = 12,
    ETSN_CC_YELLOW = 14,
    ETSN_CC_WHITE = 15,
};

/* $PSStyle.Formatting defaults (PSStyle.cs FormattingData). */
#define ETSN_STYLE_ERROR "\x1b[31;1m"
#define ETSN_STYLE_WARNING "\x1b[33;1m"
#define ETSN_STYLE_VERBOSE "\x1b[33;1m"
#define ETSN_STYLE_DEBUG "\x1b[33;1m"
#define ETSN_STYLE_RESET "\x1b[0m"

typedef struct {
    /* Raw UI colours: the ones the client declared in HostInfo (Gray on
     * Black, see main.c) stand for the terminal's own colours and produce
     * no escape sequence; SetForegroundColor/SetBackgroundColor change the
     * current ones. */
    int fg, bg;
    int default_fg, default_bg;
    int col;         /* cells written on the current line (progress placement) */
    bool shown;      /* the progress pane is on the screen */
    int shown_lines; /* ... this many lines of it */
    uint64_t last_draw_ms;
    etsn_progress *progress;
    /* The last DEBUG/VERBOSE/WARNING record shown (index: ETSN_ECHO_*),
     * until the host call that repeats it arrives (host_ui.c). */
    char *shown_record[3];
} etsn_console;
enum { ETSN_ECHO_DEBUG, ETSN_ECHO_VERBOSE, ETSN_ECHO_WARNING };

/* The private state, allocated on first use (NULL only when memory ran out). */
etsn_console *etsn_console_get(etsn_host_ui *ui);
void etsn_console_free(etsn_host_ui *ui);

/* Terminal width in cells (TIOCGWINSZ on out, else $COLUMNS, else 120). */
int etsn_console_width(etsn_host_ui *ui);

/* Writes text: fg/bg are ConsoleColor values, -1 for the current raw UI
 * colours. Without colour the text is also stripped of the escape
 * sequences PowerShell strips for plain output (StringDecorated.AnsiRegex). */
void etsn_console_write(etsn_host_ui *ui, FILE *f, int fg, int bg, const char *text, bool newline);
/* The same with a $PSStyle sequence (ETSN_STYLE_*) instead of colours. */
void etsn_console_write_styled(etsn_host_ui *ui, FILE *f, const char *style, const char *text,
                               bool newline);
/* Raw bytes for the terminal (cursor moves, title): nothing unless
 * ui->terminal. */
void etsn_console_control(etsn_host_ui *ui, const char *seq);

/* Plain text with PowerShell's escape sequences removed, appended to out. */
void etsn_console_strip(const char *text, etsn_buf *out);

/* Progress pane: apply a record and redraw (terminal only), hide it (before
 * any other output, pwsh's PreWrite/PreRead) and show it again. */
void etsn_console_progress(etsn_host_ui *ui, int64_t source_id, const etsn_progress_record *rec);
void etsn_console_hide_progress(etsn_host_ui *ui);
void etsn_console_show_progress(etsn_host_ui *ui);
/* Hides and forgets every activity (pipeline end). */
void etsn_console_reset_progress(etsn_host_ui *ui);

/* A line from the session's line editor, the pane hidden around it; NULL at
 * end of input. */
char *etsn_console_read_line(etsn_host_ui *ui, const char *prompt);

enum { ETSN_READ_OK = 0, ETSN_READ_EOF = 1, ETSN_READ_INTERRUPTED = 2, ETSN_READ_ERROR = -1 };

/* Reads a line from in_fd without echo (pwsh's ReadLineSafe: '*' per
 * character on a terminal, backspace works, Ctrl+C cancels), then ends the
 * line. On a terminal the mode is restored on every path. The UTF-8 text
 * goes to out (the caller zeroes it). */
int etsn_console_read_secret(etsn_host_ui *ui, etsn_buf *out);

/* One key press (ReadKey). */
typedef struct {
    int virtual_key_code;
    uint32_t character; /* UTF-16 code unit (BMP) */
    int control_key_state;
} etsn_key;
/* options: ReadKeyOptions (AllowCtrlC 1, NoEcho 2, IncludeKeyDown 4,
 * IncludeKeyUp 8). */
int etsn_console_read_key(etsn_host_ui *ui, int options, etsn_key *key);

#endif
