#include "cmdtext.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../ref/core/buf.h"

/* Text of a command entry: the script, or "Name -Param value ..." rebuilt
 * from a command and its arguments. */
static void command_text(const etsn_value *cmd, etsn_buf *out)
{
    const char *c = etsn_v_as_str(etsn_v_get(cmd, "Cmd"));
    const etsn_value *is_script = etsn_v_get(cmd, "IsScript");
    const etsn_value *args = etsn_v_get(cmd, "Args");
    bool script = is_script && is_script->kind == ETSN_V_BOOL && is_script->num.b;
    /* Invoke-Expression -Command <text> (pypsrp's execute_ps) runs <text>. */
    if (!script && c && !strcasecmp(c, "Invoke-Expression") && args && args->n_items == 1) {
        const etsn_value *n = etsn_v_get(args->items[0], "N");
        const char *ns = n && n->kind != ETSN_V_NIL ? etsn_v_as_str(n) : NULL;
        const char *vs = etsn_v_as_str(etsn_v_get(args->items[0], "V"));
        if (vs && (!ns || !strcasecmp(ns, "Command"))) {
            etsn_buf_append_str(out, vs);
            return;
        }
    }
    etsn_buf_append_str(out, c ? c : "");
    if (script || !args) return;
    for (size_t i = 0; i < args->n_items; i++) {
        const etsn_value *a = args->items[i];
        const etsn_value *n = etsn_v_get(a, "N");
        const etsn_value *v = etsn_v_get(a, "V");
        const char *ns = n && n->kind != ETSN_V_NIL ? etsn_v_as_str(n) : NULL;
        if (ns) etsn_buf_printf(out, " -%s", ns);
        if (!v || v->kind == ETSN_V_NIL) continue;
        if (v->kind == ETSN_V_BOOL && ns) {
            /* a switch: -Name, or -Name:$false */
            if (!v->num.b) etsn_buf_append_str(out, ":$false");
            continue;
        }
        etsn_buf disp = ETSN_BUF_INIT;
        etsn_v_display(v, &disp);
        etsn_buf_append_byte(out, ' ');
        if (disp.len) etsn_buf_append(out, disp.data, disp.len);
        etsn_buf_free(&disp);
    }
}

static bool is_cmd(const etsn_value *cmd, const char *name)
{
    const char *c = etsn_v_as_str(etsn_v_get(cmd, "Cmd"));
    return c && !strcasecmp(c, name);
}

/* Out-String's -Stream switch (named, true or without a value). */
static bool has_stream(const etsn_value *cmd)
{
    const etsn_value *args = etsn_v_get(cmd, "Args");
    for (size_t i = 0; args && i < args->n_items; i++) {
        const char *n = etsn_v_as_str(etsn_v_get(args->items[i], "N"));
        const etsn_value *v = etsn_v_get(args->items[i], "V");
        if (n && *n == '-') n++;
        if (n && !strcasecmp(n, "Stream") &&
            (!v || v->kind == ETSN_V_NIL || v->kind != ETSN_V_BOOL || v->num.b))
            return true;
    }
    return false;
}

static int64_t merge_field(const etsn_value *cmd, const char *name)
{
    int64_t v = 0;
    return etsn_v_as_i64(etsn_v_get(cmd, name), &v) ? v : 0;
}

/* The streams a command sends to its output (PipelineResultTypes: Output 1,
 * Error 2). */
static int merged_streams(const etsn_value *cmd)
{
    int m = 0;
    if ((merge_field(cmd, "MergeMyResult") == 2 && merge_field(cmd, "MergeToResult") == 1) ||
        merge_field(cmd, "MergeError") == 1)
        m |= MOCK_MERGE_ERROR;
    if (merge_field(cmd, "MergeWarning") == 1) m |= MOCK_MERGE_WARNING;
    if (merge_field(cmd, "MergeVerbose") == 1) m |= MOCK_MERGE_VERBOSE;
    if (merge_field(cmd, "MergeDebug") == 1) m |= MOCK_MERGE_DEBUG;
    if (merge_field(cmd, "MergeInformation") == 1) m |= MOCK_MERGE_INFORMATION;
    return m;
}

/* One statement's commands joined with " | ". */
static void statement_text(const etsn_value *cmds, bool last, mock_pipeline_text *out, etsn_buf *b)
{
    size_t n = cmds ? cmds->n_items : 0;
    if (last && n > 1 && is_cmd(cmds->items[n - 1], "Out-String")) {
        out->fmt = has_stream(cmds->items[n - 1]) ? MOCK_OUT_STRING_STREAM : MOCK_OUT_STRING;
        n--;
    }
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (is_cmd(cmds->items[i], "Out-Default")) {
            out->out_default = true;
            continue;
        }
        out->merged |= merged_streams(cmds->items[i]);
        const etsn_value *is = etsn_v_get(cmds->items[i], "IsScript");
        if (is && is->kind == ETSN_V_BOOL && is->num.b) out->any_script = true;
        etsn_buf one = ETSN_BUF_INIT;
        command_text(cmds->items[i], &one);
        etsn_buf_append_byte(&one, 0);
        const char *t = (const char *)one.data;
        while (isspace((unsigned char)*t)) t++;
        size_t l = strlen(t);
        while (l && isspace((unsigned char)t[l - 1])) l--;
        if (!first) etsn_buf_append_str(b, " | ");
        etsn_buf_append(b, t, l);
        first = false;
        etsn_buf_free(&one);
    }
}

int mock_pipeline_text_read(const etsn_value *powershell, mock_pipeline_text *out)
{
    memset(out, 0, sizeof *out);
    etsn_buf b = ETSN_BUF_INIT;
    const etsn_value *extra = etsn_v_get(powershell, "ExtraCmds");
    if (extra && extra->kind == ETSN_V_OBJ && extra->n_items) {
        for (size_t i = 0; i < extra->n_items; i++) {
            if (i) etsn_buf_append_str(&b, "; ");
            statement_text(etsn_v_get(extra->items[i], "Cmds"), i + 1 == extra->n_items, out, &b);
        }
    } else {
        statement_text(etsn_v_get(powershell, "Cmds"), true, out, &b);
    }
    etsn_buf_append_byte(&b, 0);
    const char *t = (const char *)b.data;
    while (isspace((unsigned char)*t)) t++;
    size_t l = strlen(t);
    while (l && isspace((unsigned char)t[l - 1])) l--;
    out->text = strndup(t, l);
    etsn_buf_free(&b);
    return out->text ? 0 : -1;
}
