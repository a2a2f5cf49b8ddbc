/* Where typed lines come from: libedit on a terminal (line editing and
 * history), plain stdin otherwise, echoing each line after its prompt so a
 * scripted run reads like a transcript. */
#ifndef ETSN_LINE_INPUT_H
#define ETSN_LINE_INPUT_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    bool terminal;
    FILE *in;
    FILE *out;
} etsn_line_input;

void etsn_line_input_init(etsn_line_input *li, FILE *in, FILE *out);
/* etsn_read_line_fn: a malloc'd line without newline, or NULL at the end. */
char *etsn_line_input_read(void *li, const char *prompt);

#endif
