#include "history.h"

#include <stdlib.h>
#include <string.h>

static const char *state_name(int s)
{
    static const char *const names[] = {"NotStarted", "Running", "Stopping",    "Stopped",
                                        "Completed",  "Failed",  "Disconnected"};
    return s >= 0 && s < 7 ? names[s] : "Completed";
}

int mock_history_add(mock_history *h, const char *command_line, int pipeline_state, time_t start,
                     time_t end)
{
    char *cl = strdup(command_line ? command_line : "");
    if (!cl) return -1;
    if (h->n == MOCK_HISTORY_MAX) {
        free(h->items[0].command_line);
        memmove(h->items, h->items + 1, (h->n - 1) * sizeof *h->items);
        h->n--;
    } else {
        mock_history_entry *v = realloc(h->items, (h->n + 1) * sizeof *v);
        if (!v) {
            free(cl);
            return -1;
        }
        h->items = v;
    }
    h->items[h->n++] = (mock_history_entry){
        .id = ++h->next_id,
        .command_line = cl,
        .status = state_name(pipeline_state),
        .start = start,
        .end = end,
    };
    return 0;
}

void mock_history_free(mock_history *h)
{
    for (size_t i = 0; i < h->n; i++) free(h->items[i].command_line);
    free(h->items);
    memset(h, 0, sizeof *h);
}

static etsn_value *when(time_t t)
{
    char s[64];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S.0000000+00:00", &tm);
    return etsn_v_text(ETSN_V_DATETIME, s, strlen(s));
}

etsn_value *mock_history_info(const mock_history_entry *e)
{
    static const char *const t[] = {"Microsoft.PowerShell.Commands.HistoryInfo", "System.Object",
                                    NULL};
    etsn_value *o = etsn_v_typed(t, ETSN_COLL_NONE);
    if (!o || etsn_obj_set_tostring(o, e->command_line) < 0 ||
        etsn_obj_add_prop(o, "Id", etsn_v_i64(e->id)) < 0 ||
        etsn_obj_add_prop(o, "CommandLine", etsn_v_string(e->command_line)) < 0 ||
        /* an enum below the top level serializes as its name */
        etsn_obj_add_prop(o, "ExecutionStatus", etsn_v_string(e->status)) < 0 ||
        etsn_obj_add_prop(o, "StartExecutionTime", when(e->start)) < 0 ||
        etsn_obj_add_prop(o, "EndExecutionTime", when(e->end)) < 0) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

static void line(etsn_buf *lines, size_t *n, const char *s)
{
    etsn_buf_append_str(lines, s);
    etsn_buf_append_byte(lines, 0);
    (*n)++;
}

void mock_history_table(const mock_history *h, etsn_buf *lines, size_t *n)
{
    if (!h->n) return;
    line(lines, n, "");
    line(lines, n, "  Id CommandLine");
    line(lines, n, "  -- -----------");
    for (size_t i = 0; i < h->n; i++) {
        etsn_buf_printf(lines, "%4lld %s", (long long)h->items[i].id, h->items[i].command_line);
        etsn_buf_append_byte(lines, 0);
        (*n)++;
    }
    line(lines, n, "");
    line(lines, n, "");
}
