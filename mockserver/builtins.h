/* Steps the server's built-in behaviour makes, for the engine to play like
 * a fixture's. No I/O. */
#ifndef ETSN_MOCK_BUILTINS_H
#define ETSN_MOCK_BUILTINS_H

#include <stdbool.h>

#include "fixture.h"

/* Fills s (zeroed) with the CommandNotFoundException for the first word of
 * line: Windows PowerShell 5.1's or (protocol 2.4) pwsh's message, FQID
 * CommandNotFoundException, ObjectNotFound (13), target X:String, the
 * position message, and the lines each Out-Default prints (NormalView or
 * ConciseView). An error record step, or when first_is_command (the
 * pipeline's first command is a command, not a script) the final state
 * Failed with it. -1 when out of memory. */
int mock_not_found_step(const mock_fixture *fx, const char *line, bool first_is_command,
                        fx_step *s);

/* Fills s (zeroed) with the final state a NoLanguage runspace (a JEA
 * endpoint) gives a pipeline holding script text: Failed with the
 * ParseException "The syntax is not supported by this runspace. ..."
 * (FQID ScriptsNotAllowed, ParserError), as pypsrp's recording
 * test_psrp_with_jea_configuration shows. -1 when out of memory. */
int mock_no_language_step(fx_step *s);

#endif
