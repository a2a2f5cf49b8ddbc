/* GET_COMMAND_METADATA (MS-PSRP 2.2.2.14) answered as Windows PowerShell's
 * ServerRunspacePoolDriver does: it runs Get-Command with the request's Name
 * patterns, CommandType and Namespace (module) patterns and sends a count
 * object, then one object per command (Name, Namespace, HelpUri, CommandType,
 * ResolvedCommandName, OutputType, Parameters), in name order, then
 * PIPELINE_STATE Completed (pypsrp's recording test_psrp_get_command_metadata).
 * Pure functions over the fixture; no I/O. */
#ifndef ETSN_MOCK_METADATA_H
#define ETSN_MOCK_METADATA_H

#include <stdbool.h>
#include <stddef.h>

#include "../ref/core/clixml.h"
#include "fixture.h"

/* A command the mock's server has built in. */
typedef struct {
    const char *name;
    const char *module; /* Namespace: the module it comes from ("" for functions) */
    int type;           /* CommandTypes: 2 Function, 8 Cmdlet */
} mock_command;

/* The built-in commands (docs/fixtures.md), *n of them. */
const mock_command *mock_builtin_commands(size_t *n);

/* The PIPELINE_OUTPUT values answering a GET_COMMAND_METADATA body (req):
 * the count object first, then the commands. Name patterns are PowerShell
 * wildcards (* ? [..], case-insensitive); a CommandType of 0 or none means
 * All; Nil Namespace means any module. Commands are the built-ins and the
 * fixture's <server commands> (those ending in * only when asked for by an
 * exact name they match) less <server missing-commands>. *asked gets the
 * requested names joined with ", " (caller frees). Returns the number of
 * values in *out (caller frees each value and the array), -1 when out of
 * memory. */
long mock_metadata_answer(const mock_fixture *fx, const etsn_value *req, etsn_value ***out,
                          char **asked);

#endif
