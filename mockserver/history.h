/* A runspace's command history, as the server keeps it: a pipeline created
 * with AddToHistory true (MS-PSRP 2.2.2.10 CREATE_PIPELINE) is added when it
 * ends, and the built-in Get-History lists the entries as HistoryInfo
 * objects (pypsrp's recordings test_psrp_with_history / _no_history). */
#ifndef ETSN_MOCK_HISTORY_H
#define ETSN_MOCK_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../ref/core/buf.h"
#include "../ref/core/clixml.h"

/* Most entries kept (PowerShell's $MaximumHistoryCount default is 4096). */
#define MOCK_HISTORY_MAX 4096

typedef struct {
    int64_t id;
    char *command_line;
    const char *status; /* PipelineState name: Completed, Failed, Stopped */
    time_t start, end;
} mock_history_entry;

typedef struct {
    mock_history_entry *items;
    size_t n;
    int64_t next_id;
} mock_history;

/* Adds an entry (the oldest goes past MOCK_HISTORY_MAX). -1 out of memory. */
int mock_history_add(mock_history *h, const char *command_line, int pipeline_state, time_t start,
                     time_t end);
void mock_history_free(mock_history *h);

/* One Microsoft.PowerShell.Commands.HistoryInfo (Props Id, CommandLine,
 * ExecutionStatus, StartExecutionTime, EndExecutionTime; ToString the
 * command line). */
etsn_value *mock_history_info(const mock_history_entry *e);

/* Windows PowerShell's table view of the entries, as Out-Default writes it:
 * NUL-separated lines appended to lines, *n counting them. */
void mock_history_table(const mock_history *h, etsn_buf *lines, size_t *n);

#endif
