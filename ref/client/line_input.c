#include "line_input.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#include "interrupt.h"

/* libedit's readline interface keeps global state; one reader per process. */
static etsn_line_input *active;
static char *finished_line;
static bool line_done;

char *etsn_history_path(void)
{
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char dir[4096];
    if (state && *state == '/')
        snprintf(dir, sizeof dir, "%s/etsn", state);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/state/etsn", home);
    else
        return NULL;
    /* Create the directory chain with owner-only access. */
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(dir, 0700);
        *p = '/';
    }
    mkdir(dir, 0700);
    size_t n = strlen(dir) + sizeof "/history";
    char *path = malloc(n);
    if (path) snprintf(path, n, "%s/history", dir);
    return path;
}

/* Remote tab completion through libedit's completion hook. The server says
 * which span of the line its matches replace (ReplacementIndex/Length);
 * libedit replaces the word before the cursor, split at blanks only (see
 * init). Each match is cut to the part that stands in for libedit's word,
 * which is exact whenever the typed span is a prefix of the match, as
 * completions are. One match completes in place; several complete their
 * common prefix and a second Tab lists them (where PowerShell's console
 * cycles through them instead). */
static char **complete_hook(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    if (!active || !active->complete || active->host_read) return NULL;
    char **found = NULL;
    size_t from = 0, len = 0;
    size_t n = active->complete(active->complete_ctx, rl_line_buffer, (size_t)rl_point, &found,
                                &from, &len);
    size_t word = (size_t)start; /* where libedit's word begins */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        /* The part of the line between the server's span and libedit's
         * word must be the match's own beginning. */
        bool fits = from <= word && word - from <= strlen(found[i]) &&
                    !strncasecmp(found[i], rl_line_buffer + from, word - from);
        if (fits) {
            char *cut = strdup(found[i] + (word - from));
            free(found[i]);
            found[kept++] = cut;
        } else {
            free(found[i]);
        }
    }
    if (kept == 0) {
        free(found);
        return NULL;
    }
    char **out = calloc(kept + 2, sizeof *out);
    if (!out) {
        for (size_t i = 0; i < kept; i++) free(found[i]);
        free(found);
        return NULL;
    }
    if (kept == 1) {
        out[0] = found[0];
    } else {
        /* readline's convention: first the common prefix, then the list. */
        size_t common = strlen(found[0]);
        for (size_t i = 1; i < kept; i++) {
            size_t j = 0;
            while (j < common && found[i][j] && found[0][j] == found[i][j]) j++;
            common = j;
        }
        out[0] = common >= strlen(text) ? strndup(found[0], common) : strdup(text);
        for (size_t i = 0; i < kept; i++) out[i + 1] = found[i];
    }
    free(found);
    return out;
}

void etsn_line_input_init(etsn_line_input *li, FILE *in, FILE *out)
{
    memset(li, 0, sizeof *li);
    li->in = in;
    li->out = out;
    li->terminal = isatty(fileno(in)) && isatty(fileno(out));
    if (!li->terminal) return;
    active = li;
    rl_readline_name = "etsn";
    rl_catch_signals = 0; /* SIGINT is ours (interrupt.c) */
    rl_attempted_completion_function = complete_hook;
    /* PowerShell words end at blanks; a path's \\ or a variable's $ are
     * part of them. */
    rl_completer_word_break_characters = " \t\n";
    rl_completion_append_character = '\0';
    using_history();
    li->history_path = etsn_history_path();
    if (li->history_path) read_history(li->history_path);
}

void etsn_line_input_finish(etsn_line_input *li)
{
    if (li->terminal && li->history_path) {
        write_history(li->history_path);
        chmod(li->history_path, 0600);
    }
    free(li->history_path);
    li->history_path = NULL;
    if (active == li) active = NULL;
}

static void on_line(char *line)
{
    finished_line = line;
    line_done = true;
    rl_callback_handler_remove();
}

static char *read_terminal(etsn_line_input *li, const char *prompt)
{
    line_done = false;
    finished_line = NULL;
    etsn_interrupt_take(); /* a Ctrl+C from before the prompt is spent */
    rl_callback_handler_install(prompt, on_line);
    while (!line_done) {
        struct pollfd fds[2] = {{.fd = fileno(li->in), .events = POLLIN},
                                {.fd = etsn_interrupt_fd(), .events = POLLIN}};
        int n = poll(fds, fds[1].fd >= 0 ? 2 : 1, -1);
        if (n < 0 && errno != EINTR) break;
        if (fds[1].fd >= 0 && (fds[1].revents & POLLIN) && etsn_interrupt_take()) {
            /* ConsoleHost on Ctrl+C at the prompt: drop the line, newline,
             * prompt again. */
            rl_callback_handler_remove();
            fputc('\n', li->out);
            fflush(li->out);
            li->interrupted = true;
            return strdup("");
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) rl_callback_read_char();
    }
    if (!line_done) rl_callback_handler_remove();
    char *line = finished_line;
    if (line && *line && !li->host_read) add_history(line);
    return line;
}

char *etsn_line_input_read(void *arg, const char *prompt)
{
    etsn_line_input *li = arg;
    if (li->terminal) return read_terminal(li, prompt);
    fputs(prompt, li->out);
    fflush(li->out); /* the prompt must be out before we block on input */
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    for (;;) {
        errno = 0;
        n = getline(&line, &cap, li->in);
        if (n >= 0 || errno != EINTR || feof(li->in)) break;
        clearerr(li->in); /* a signal, not the end of input */
    }
    if (n < 0) {
        free(line);
        fputc('\n', li->out);
        fflush(li->out);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
    if (n > 0 && line[n - 1] == '\r') line[--n] = 0;
    fprintf(li->out, "%s\n", line);
    fflush(li->out);
    return line;
}
