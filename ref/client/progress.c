#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

/* pwsh keeps at most this many activities, evicting the oldest
 * (PendingProgress.maxNodeCount). */
enum { MAX_NODES = 128, MAX_DEPTH = 32 };

/* $PSStyle.Progress defaults (PSStyle.cs): Style, MaxWidth; and the
 * Reverse/ReverseOff/Reset sequences. */
#define PROGRESS_STYLE "\x1b[33;1m"
#define REVERSE "\x1b[7m"
#define REVERSE_OFF "\x1b[27m"
#define RESET "\x1b[0m"
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, PSObjectHelper.EllipsisStr */
enum { STYLE_MAX_WIDTH = 120 };

typedef struct {
    int64_t source_id;
    int32_t activity_id;
    int32_t parent_id;
    char *activity;
    char *status;
    char *current_operation;
    int32_t percent;
    int32_t seconds;
    unsigned age;
} node;

struct etsn_progress {
    node *nodes; /* in arrival order; tree links through parent_id */
    size_t n, cap;
};

etsn_progress *etsn_progress_new(void)
{
    return calloc(1, sizeof(etsn_progress));
}

static void node_free(node *nd)
{
    free(nd->activity);
    free(nd->status);
    free(nd->current_operation);
}

void etsn_progress_clear(etsn_progress *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) node_free(&p->nodes[i]);
    p->n = 0;
}

void etsn_progress_free(etsn_progress *p)
{
    if (!p) return;
    etsn_progress_clear(p);
    free(p->nodes);
    free(p);
}

bool etsn_progress_empty(const etsn_progress *p)
{
    return !p || p->n == 0;
}

/* ---- reading the record ---- */

static const char *str_prop(const etsn_value *v, const char *name)
{
    const etsn_value *m = etsn_v_get(v, name);
    return m && m->kind != ETSN_V_NIL ? etsn_v_as_str(m) : NULL;
}

static int32_t int_prop(const etsn_value *v, const char *name, int32_t def)
{
    int64_t i;
    const etsn_value *m = etsn_v_get(v, name);
    return m && etsn_v_as_i64(m, &i) ? (int32_t)i : def;
}

bool etsn_progress_record_read(const etsn_value *v, etsn_progress_record *rec)
{
    memset(rec, 0, sizeof *rec);
    if (!v || (!etsn_v_get(v, "Activity") && !etsn_v_get(v, "ActivityId"))) return false;
    rec->activity = str_prop(v, "Activity");
    rec->status = str_prop(v, "StatusDescription");
    rec->current_operation = str_prop(v, "CurrentOperation");
    rec->activity_id = int_prop(v, "ActivityId", 0);
    rec->parent_id = int_prop(v, "ParentActivityId", -1);
    rec->percent = int_prop(v, "PercentComplete", -1);
    rec->seconds = int_prop(v, "SecondsRemaining", -1);
    /* Type is a ProgressRecordType enum: an <Obj> with ToString and an <I32>
     * base; a plain number or the name are accepted too. */
    const etsn_value *t = etsn_v_get(v, "Type");
    if (!t) t = etsn_v_get(v, "RecordType");
    int64_t ti = 0;
    if (t && etsn_v_as_i64(t, &ti))
        rec->completed = ti == 1;
    else if (t && etsn_v_as_str(t))
        rec->completed = strcasecmp(etsn_v_as_str(t), "Completed") == 0;
    return true;
}

/* ---- the tree (PendingProgress.Update) ---- */

static ssize_t find(const etsn_progress *p, int64_t source_id, int32_t activity_id)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->nodes[i].source_id == source_id && p->nodes[i].activity_id == activity_id)
            return (ssize_t)i;
    return -1;
}

/* Removes a node; its children take its place under its parent (pwsh's
 * RemoveNodeAndPromoteChildren). */
static void remove_node(etsn_progress *p, size_t i)
{
    node gone = p->nodes[i];
    for (size_t j = 0; j < p->n; j++)
        if (j != i && p->nodes[j].source_id == gone.source_id &&
            p->nodes[j].parent_id == gone.activity_id)
            p->nodes[j].parent_id = gone.parent_id;
    node_free(&gone);
    memmove(&p->nodes[i], &p->nodes[i + 1], (p->n - i - 1) * sizeof(node));
    p->n--;
}

static bool has_children(const etsn_progress *p, size_t i)
{
    for (size_t j = 0; j < p->n; j++)
        if (p->nodes[j].source_id == p->nodes[i].source_id &&
            p->nodes[j].parent_id == p->nodes[i].activity_id && j != i)
            return true;
    return false;
}

/* The oldest childless node goes first when the tree is full (EvictNode). */
static void evict(etsn_progress *p)
{
    size_t victim = 0;
    unsigned oldest = 0;
    bool found = false;
    for (size_t i = 0; i < p->n; i++)
        if (!has_children(p, i) && (!found || p->nodes[i].age >= oldest)) {
            victim = i;
            oldest = p->nodes[i].age;
            found = true;
        }
    remove_node(p, victim);
}

static int set_str(char **dst, const char *s)
{
    char *c = strdup(s ? s : "");
    if (!c) return -1;
    free(*dst);
    *dst = c;
    return 0;
}

static int fill(node *nd, const etsn_progress_record *rec)
{
    nd->percent = rec->percent > 100 ? 100 : rec->percent;
    nd->seconds = rec->seconds;
    nd->age = 0;
    return set_str(&nd->activity, rec->activity) | set_str(&nd->status, rec->status) |
           set_str(&nd->current_operation, rec->current_operation);
}

int etsn_progress_update(etsn_progress *p, int64_t source_id, const etsn_progress_record *rec)
{
    if (rec->parent_id == rec->activity_id) return 0; /* pwsh ignores such records */
    for (size_t i = 0; i < p->n; i++) p->nodes[i].age++;
    ssize_t at = find(p, source_id, rec->activity_id);
    if (at >= 0) {
        if (rec->completed) {
            remove_node(p, (size_t)at);
            return 0;
        }
        if (rec->parent_id == p->nodes[at].parent_id) return fill(&p->nodes[at], rec);
        remove_node(p, (size_t)at); /* moved to another parent: re-added below */
    }
    if (rec->completed) return 0;
    while (p->n >= MAX_NODES) evict(p);
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        node *nn = realloc(p->nodes, cap * sizeof *nn);
        if (!nn) return -1;
        p->nodes = nn;
        p->cap = cap;
    }
    node *nd = &p->nodes[p->n];
    memset(nd, 0, sizeof *nd);
    nd->source_id = source_id;
    nd->activity_id = rec->activity_id;
    /* A parent that is not shown makes the record a top-level one. */
    nd->parent_id =
        rec->parent_id >= 0 && find(p, source_id, rec->parent_id) >= 0 ? rec->parent_id : -1;
    p->n++;
    if (fill(nd, rec) < 0) {
        p->n--;
        node_free(nd);
        return -1;
    }
    return 0;
}

/* ---- cell widths ---- */

/* Decodes one UTF-8 sequence; invalid bytes count as one code point each. */
static size_t utf8_next(const char *s, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = u[0] < 0x80         ? 1
               : (u[0] >> 5) == 6  ? 2
               : (u[0] >> 4) == 14 ? 3
               : (u[0] >> 3) == 30 ? 4
                                   : 1;
    uint32_t c = n == 1 ? u[0] : n == 2 ? u[0] & 0x1f : n == 3 ? u[0] & 0x0f : u[0] & 0x07;
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xc0) != 0x80) {
            *cp = u[0];
            return 1;
        }
        c = (c << 6) | (u[i] & 0x3f);
    }
    *cp = c;
    return n;
}

static int cp_cells(uint32_t cp)
{
    int w = wcwidth((wchar_t)cp);
    return w < 0 ? 1 : w;
}

int etsn_text_cells(const char *s)
{
    int cells = 0;
    while (s && *s) {
        uint32_t cp;
        s += utf8_next(s, &cp);
        cells += cp_cells(cp);
    }
    return cells;
}

/* Appends the longest prefix of s that fits max cells; returns its width. */
static int append_cells(etsn_buf *out, const char *s, int max)
{
    int cells = 0;
    while (s && *s) {
        uint32_t cp;
        size_t n = utf8_next(s, &cp);
        int w = cp_cells(cp);
        if (cells + w > max) break;
        etsn_buf_append(out, s, n);
        cells += w;
        s += n;
    }
    return cells;
}

static void pad(etsn_buf *out, int n)
{
    for (int i = 0; i < n; i++) etsn_buf_append_byte(out, ' ');
}

/* ---- rendering (ProgressNode.RenderAnsi / RenderMinimal) ---- */

static void render_ansi(const node *nd, int indent, int width, etsn_buf *out)
{
    char sec[24] = "";
    if (nd->seconds >= 0) snprintf(sec, sizeof sec, "%ds", (int)nd->seconds);
    int sec_len = (int)strlen(sec) + 1;
    int max_width = width > STYLE_MAX_WIDTH ? STYLE_MAX_WIDTH : width;

    etsn_buf act = ETSN_BUF_INIT;
    int act_cells = etsn_text_cells(nd->activity);
    if (act_cells > max_width / 2) {
        act_cells = append_cells(&act, nd->activity, max_width / 2 - 1);
        etsn_buf_append_str(&act, ELLIPSIS);
        act_cells += 1;
    } else {
        etsn_buf_append_str(&act, nd->activity);
    }
    int bar_width = max_width - act_cells - indent - 4;

    /* The text inside the brackets: status, padding, seconds left. */
    etsn_buf bar = ETSN_BUF_INIT;
    int max_status = bar_width - sec_len;
    int status_cells = etsn_text_cells(nd->status);
    if (max_status > 0 && status_cells > max_status) {
        status_cells = append_cells(&bar, nd->status, max_status - 1);
        etsn_buf_append_str(&bar, ELLIPSIS);
        status_cells += 1;
    } else {
        etsn_buf_append_str(&bar, nd->status);
    }
    pad(&bar, bar_width - status_cells - sec_len);
    etsn_buf_append_str(&bar, sec);

    pad(out, indent);
    etsn_buf_append_str(out, PROGRESS_STYLE);
    etsn_buf_append(out, act.data ? act.data : (const uint8_t *)"", act.len);
    etsn_buf_append_str(out, " [" REVERSE);
    /* Reverse video covers PercentComplete of the bar; unknown or complete
     * percentages reverse all of it (RenderAnsiReverseOff). */
    if (nd->percent < 0 || nd->percent >= 100 || bar_width <= 0) {
        etsn_buf_append(out, bar.data ? bar.data : (const uint8_t *)"", bar.len);
        etsn_buf_append_str(out, REVERSE_OFF);
    } else {
        int bar_len = nd->percent * bar_width / 100;
        if (bar_len >= bar_width) bar_len = bar_width - 1;
        const char *s = bar.data ? (const char *)bar.data : "";
        int cells = 0;
        bool off = false;
        while (*s) {
            if (!off && cells >= bar_len) {
                etsn_buf_append_str(out, REVERSE_OFF);
                off = true;
            }
            uint32_t cp;
            size_t n = utf8_next(s, &cp);
            etsn_buf_append(out, s, n);
            cells += cp_cells(cp);
            s += n;
        }
        if (!off) etsn_buf_append_str(out, REVERSE_OFF);
    }
    etsn_buf_append_str(out, "]" RESET);
    etsn_buf_free(&act);
    etsn_buf_free(&bar);
}

static void render_plain(const node *nd, int indent, int width, etsn_buf *out)
{
    etsn_buf line = ETSN_BUF_INIT;
    etsn_buf_append_byte(&line, ' ');
    pad(&line, indent);
    etsn_buf_printf(&line, "%s ", nd->activity);
    if (nd->percent >= 0) etsn_buf_printf(&line, "%d%% ", (int)nd->percent);
    if (nd->seconds >= 0) { /* TimeSpan.ToString(): [d.]hh:mm:ss */
        int s = nd->seconds, d = s / 86400;
        if (d) etsn_buf_printf(&line, "%d.", d);
        etsn_buf_printf(&line, "%02d:%02d:%02d ", s / 3600 % 24, s / 60 % 60, s % 60);
    }
    etsn_buf_printf(&line, "%s ", nd->status);
    /* One cell short of the width so the terminal does not wrap. */
    append_cells(out, (const char *)line.data, width - 1);
    etsn_buf_free(&line);
}

static void render_level(const etsn_progress *p, bool top, int64_t source_id, int32_t parent,
                         int indent, int depth, int width, size_t max_lines, bool ansi,
                         etsn_buf *out, size_t *count)
{
    if (depth > MAX_DEPTH) return;
    for (size_t i = 0; i < p->n && *count < max_lines; i++) {
        const node *nd = &p->nodes[i];
        if (top ? nd->parent_id != -1 : nd->source_id != source_id || nd->parent_id != parent)
            continue;
        if (ansi)
            render_ansi(nd, indent, width, out);
        else
            render_plain(nd, indent, width, out);
        etsn_buf_append_byte(out, 0);
        (*count)++;
        render_level(p, false, nd->source_id, nd->activity_id, indent + 2, depth + 1, width,
                     max_lines, ansi, out, count);
    }
}

size_t etsn_progress_render(const etsn_progress *p, int width, size_t max_lines, bool ansi,
                            etsn_buf *out)
{
    size_t count = 0;
    if (!p || width < 20) return 0; /* pwsh needs 18 cells (PSStyle MaxWidth) */
    render_level(p, true, 0, -1, 0, 0, width, max_lines, ansi, out, &count);
    return count;
}
