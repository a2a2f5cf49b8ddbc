/* What a server's Out-Default writes to the host for a console client (a
 * pipeline that ends in Out-Default, as PowerShell's console and etsn send
 * every typed line): the text lines of output objects and of error records.
 * The engine sends each line as a WriteLine2 / WriteErrorLine host call.
 * Lines are appended to a buffer as NUL-terminated strings; *n counts them. */
#ifndef ETSN_MOCK_RENDER_H
#define ETSN_MOCK_RENDER_H

#include <stddef.h>

#include "../ref/core/buf.h"
#include "fixture.h"

/* Appends text split at LF (a CR before it dropped) as lines. */
void mock_render_push_lines(etsn_buf *lines, size_t *n, const char *text);

/* An <output> step as Out-Default shows it: the fixture's <line>s when it
 * gives them (the formatted view of objects), else each value's display
 * text — a string prints as itself, a number in decimal, an object as its
 * ToString — split into lines. */
void mock_render_output(const fx_step *s, etsn_buf *lines, size_t *n);

/* An error record as the server's Out-Default shows it: its <line>s when
 * given, else Windows PowerShell's NormalView (protocol <= 2.3) or pwsh's
 * ConciseView (2.4). */
void mock_render_error(const mock_fixture *fx, const fx_error *fe, etsn_buf *lines, size_t *n);

#endif
