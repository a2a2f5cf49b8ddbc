/* The console's rendering of a terminating error: the ErrorRecord a
 * pipeline's PIPELINE_STATE Failed carries (ExceptionAsErrorRecord), shown as
 * PowerShell's default error view would show it (ConsoleHost.cs
 * ReportException writes the record to Out-Default; the view is the
 * ErrorRecord entry of PowerShellCore_format_ps1xml.cs). */
#ifndef ETSN_ERROR_VIEW_H
#define ETSN_ERROR_VIEW_H

#include <stdbool.h>

#include "../core/buf.h"
#include "../core/clixml.h"

/* Appends the rendering of the serialized ErrorRecord `record` to out, lines
 * separated by '\n', no final newline. concise selects pwsh 7's ConciseView
 * (protocol 2.4), else Windows PowerShell 5.1's NormalView. Only text the
 * record carries is shown: no position lines when it has no InvocationInfo.
 * Returns 0, or -1 when out of memory. */
int etsn_error_view_render(const etsn_value *record, bool concise, etsn_buf *out);

#endif
