/* The text of the pipeline a CREATE_PIPELINE asks for (MS-PSRP 2.2.3.11
 * PowerShell: Cmds, ExtraCmds), as fixtures name it, and the formatter the
 * client put at its end: Out-Default (a console: the server's host shows
 * the output) or Out-String (the output comes back as text). No I/O. */
#ifndef ETSN_MOCK_CMDTEXT_H
#define ETSN_MOCK_CMDTEXT_H

#include <stdbool.h>

#include "../ref/core/clixml.h"

typedef enum {
    MOCK_OUT_NONE,          /* objects come back as PIPELINE_OUTPUT */
    MOCK_OUT_STRING,        /* ... | Out-String: one String of all the text */
    MOCK_OUT_STRING_STREAM, /* ... | Out-String -Stream: a String per line */
} mock_out_string;

/* Streams a command merges into its output (PipelineResultTypes Output):
 * MergeMyResult Error + MergeToResult Output, or MergeError Output, for
 * errors; MergeWarning, MergeVerbose, MergeDebug, MergeInformation (2.2+). */
enum {
    MOCK_MERGE_ERROR = 1,
    MOCK_MERGE_WARNING = 2,
    MOCK_MERGE_VERBOSE = 4,
    MOCK_MERGE_DEBUG = 8,
    MOCK_MERGE_INFORMATION = 16,
};

typedef struct {
    char *text;          /* trimmed; caller frees */
    int merged;          /* MOCK_MERGE_* of the commands other than Out-Default */
    bool any_script;     /* some command is script text (IsScript), not a command */
    bool out_default;    /* some command of the pipeline is Out-Default */
    mock_out_string fmt; /* the last statement ends in Out-String */
} mock_pipeline_text;

/* Reads the PowerShell member of a CREATE_PIPELINE body. Each command is its
 * script text (IsScript) or "Name -Param value ..." rebuilt from its
 * arguments (a switch is -Name, a false one -Name:$false); Invoke-Expression
 * -Command X (pypsrp's execute_ps) is X. Commands join with " | ", statements
 * (ExtraCmds, which lists every statement when there are several) with "; ";
 * Out-Default and a final Out-String are left out of the text. -1 when out of
 * memory. */
int mock_pipeline_text_read(const etsn_value *powershell, mock_pipeline_text *out);

#endif
