/* Remote tab completion: PowerShell's console runs TabExpansion2 on the
 * server (CommandCompletion.CompleteInput) and reads back one
 * CommandCompletion. These read the request and build the answer from the
 * fixture's <completion>; no I/O. */
#ifndef ETSN_MOCK_COMPLETION_H
#define ETSN_MOCK_COMPLETION_H

#include "../ref/core/clixml.h"
#include "fixture.h"

/* TabExpansion2's inputScript when cmd (a PowerShell.Cmds entry) runs it —
 * as a command with positional or named (-inputScript/-cursorColumn,
 * prefixes allowed) arguments, or as script text — else NULL. *cursor gets
 * cursorColumn, -1 for none or out of range. Caller frees. */
char *mock_tab_expansion_input(const etsn_value *cmd, int *cursor);

/* The CommandCompletion for input at cursor: c's matches (none when c is
 * NULL), ReplacementIndex/Length the word around the cursor unless c says. */
etsn_value *mock_command_completion(const fx_completion *c, const char *input, int cursor);

#endif
