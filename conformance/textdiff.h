/* Failure messages for text: a unified-style line diff between expected and
 * actual output, and a printable rendering of arbitrary bytes so that a
 * client's escape sequences or binary junk cannot garble the runner's
 * terminal or the JUnit file. */
#ifndef ETSN_CONF_TEXTDIFF_H
#define ETSN_CONF_TEXTDIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "../ref/core/buf.h"

/* Appends s with control bytes as \r, \xNN and invalid UTF-8 as \xNN. When
 * mark_trailing is set, trailing spaces and tabs are shown as '·' and '→'
 * (a diff of two lines differing only there would otherwise look equal). */
int conf_render(etsn_buf *out, const char *s, size_t len, bool mark_trailing);

/* Appends a unified diff (---/+++/@@ hunks, 3 lines of context) of expected
 * against actual, each output line prefixed by indent. Stops after
 * max_lines lines with a note. Large inputs fall back to naming the first
 * differing line. Returns -1 only when memory runs out. */
int conf_diff(etsn_buf *out, const char *expected, size_t elen, const char *actual, size_t alen,
              const char *indent, size_t max_lines);

/* The last max_lines lines of s, rendered and indented, for stderr tails. */
int conf_tail(etsn_buf *out, const char *s, size_t len, size_t max_lines, const char *indent);

#endif
