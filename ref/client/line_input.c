#include "line_input.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

void etsn_line_input_init(etsn_line_input *li, FILE *in, FILE *out)
{
    li->in = in;
    li->out = out;
    li->terminal = isatty(fileno(in)) && isatty(fileno(out));
}

char *etsn_line_input_read(void *arg, const char *prompt)
{
    etsn_line_input *li = arg;
    if (li->terminal) {
        char *line = readline(prompt);
        if (line && *line) add_history(line);
        return line;
    }
    fputs(prompt, li->out);
    fflush(li->out); /* the prompt must be out before we block on input */
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, li->in);
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
