/* The progress records a console shows (Write-Progress), kept and laid out
 * as pwsh's ConsoleHost does (PendingProgress.cs, ProgressNode.cs): a tree
 * of activities keyed by source id and activity id, rendered in the
 * "Minimal" view ($PSStyle.Progress.View, the default since pwsh 7.2): one
 * line per activity, children indented by two cells. No terminal I/O here:
 * console.c draws the lines. */
#ifndef ETSN_PROGRESS_H
#define ETSN_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/clixml.h"

/* One ProgressRecord (MS-PSRP 2.2.2.25 PROGRESS_RECORD; ProgressRecord.ToPSObjectForRemoting). */
typedef struct {
    const char *activity;
    const char *status;
    const char *current_operation;
    int32_t activity_id;
    int32_t parent_id; /* -1: none */
    int32_t percent;   /* -1: unknown */
    int32_t seconds;   /* -1: unknown */
    bool completed;    /* RecordType Completed (1) */
} etsn_progress_record;

typedef struct etsn_progress etsn_progress;

etsn_progress *etsn_progress_new(void);
void etsn_progress_free(etsn_progress *p);

/* Reads a record from its CLIXML form (properties Activity, ActivityId, ...,
 * Type). Strings are borrowed from v. Returns false when v has no Activity
 * and no ActivityId. */
bool etsn_progress_record_read(const etsn_value *v, etsn_progress_record *rec);

/* Applies a record: adds, updates, or (Completed) removes its activity.
 * Returns -1 when memory ran out. */
int etsn_progress_update(etsn_progress *p, int64_t source_id, const etsn_progress_record *rec);
bool etsn_progress_empty(const etsn_progress *p);
/* Forgets every activity (pwsh's ResetProgress at the end of a pipeline). */
void etsn_progress_clear(etsn_progress *p);

/* Renders at most max_lines lines for a screen width cells wide: with ansi
 * the bar pwsh's RenderAnsi draws (reverse video), else its plain
 * RenderMinimal text. Each line is appended NUL terminated. Returns the
 * number of lines. */
size_t etsn_progress_render(const etsn_progress *p, int width, size_t max_lines, bool ansi,
                            etsn_buf *out);

/* Display width of UTF-8 text in terminal cells (wcwidth, 1 when unknown). */
int etsn_text_cells(const char *s);

#endif
