#include "completion.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../ref/core/buf.h"
#include "../ref/core/psrp_msgs.h"

static bool param_is(const char *given, const char *full)
{
    size_t l = strlen(given);
    return l && l <= strlen(full) && !strncasecmp(given, full, l);
}

/* Next token of a simple command line: a quoted string ('..' with ''
 * doubling, ".." with `" escapes) or a bare word. NULL at the end. */
static char *next_token(const char **pp)
{
    const char *p = *pp;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return NULL;
    etsn_buf b = ETSN_BUF_INIT;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (*p) {
            if (*p == q && q == '\'' && p[1] == '\'') {
                etsn_buf_append_byte(&b, '\'');
                p += 2;
            } else if (q == '"' && *p == '`' && p[1]) {
                etsn_buf_append_byte(&b, (uint8_t)p[1]);
                p += 2;
            } else if (*p == q) {
                p++;
                break;
            } else {
                etsn_buf_append_byte(&b, (uint8_t)*p++);
            }
        }
    } else {
        while (*p && !isspace((unsigned char)*p)) etsn_buf_append_byte(&b, (uint8_t)*p++);
    }
    *pp = p;
    char *t = b.data ? etsn_buf_steal(&b) : strdup("");
    etsn_buf_free(&b);
    return t;
}

char *mock_tab_expansion_input(const etsn_value *cmd, int *cursor_out)
{
    const char *c = etsn_v_as_str(etsn_v_get(cmd, "Cmd"));
    const etsn_value *is_script = etsn_v_get(cmd, "IsScript");
    bool script = is_script && is_script->kind == ETSN_V_BOOL && is_script->num.b;
    *cursor_out = -1;
    if (!c) return NULL;
    char *input = NULL;
    int64_t cursor = -1;
    if (!script) {
        if (strcasecmp(c, "TabExpansion2")) return NULL;
        const etsn_value *args = etsn_v_get(cmd, "Args");
        int pos = 0;
        for (size_t i = 0; args && i < args->n_items; i++) {
            const etsn_value *n = etsn_v_get(args->items[i], "N");
            const etsn_value *v = etsn_v_get(args->items[i], "V");
            const char *ns = n && n->kind != ETSN_V_NIL ? etsn_v_as_str(n) : NULL;
            if (ns && *ns == '-') ns++;
            bool is_input = ns ? param_is(ns, "inputScript") : pos == 0;
            bool is_cursor = ns ? param_is(ns, "cursorColumn") : pos == 1;
            if (!ns) pos++;
            if (is_input && v && !input) input = strdup(etsn_v_as_str(v) ? etsn_v_as_str(v) : "");
            if (is_cursor && v) etsn_v_as_i64(v, &cursor);
        }
    } else {
        const char *q = c;
        char *w = next_token(&q);
        if (!w || strcasecmp(w, "TabExpansion2")) {
            free(w);
            return NULL;
        }
        free(w);
        int pos = 0;
        char *t;
        while ((t = next_token(&q))) {
            char *val = NULL;
            bool is_input = false, is_cursor = false;
            if (t[0] == '-' && t[1]) {
                char *colon = strchr(t, ':');
                if (colon) *colon = 0;
                is_input = param_is(t + 1, "inputScript");
                is_cursor = param_is(t + 1, "cursorColumn");
                val = colon ? strdup(colon + 1) : next_token(&q);
            } else {
                is_input = pos == 0;
                is_cursor = pos == 1;
                pos++;
                val = strdup(t);
            }
            if (is_input && val && !input) {
                input = val;
                val = NULL;
            } else if (is_cursor && val) {
                cursor = strtoll(val, NULL, 10);
            }
            free(val);
            free(t);
        }
    }
    if (!input) return NULL;
    *cursor_out = cursor < 0 || cursor > (int64_t)strlen(input) ? -1 : (int)cursor;
    return input;
}

static etsn_value *completion_result(const fx_match *m)
{
    static const char *const t[] = {"System.Management.Automation.CompletionResult",
                                    "System.Object", NULL};
    etsn_value *o = etsn_v_typed(t, ETSN_COLL_NONE);
    if (!o || etsn_obj_set_tostring(o, "System.Management.Automation.CompletionResult") < 0 ||
        etsn_obj_add_prop(o, "CompletionText", etsn_v_string(m->text)) < 0 ||
        etsn_obj_add_prop(o, "ListItemText", etsn_v_string(m->list_item)) < 0 ||
        etsn_obj_add_prop(o, "ResultType",
                          etsn_enum_value("System.Management.Automation.CompletionResultType",
                                          m->type_name, m->type)) < 0 ||
        etsn_obj_add_prop(o, "ToolTip", etsn_v_string(m->tooltip)) < 0) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

etsn_value *mock_command_completion(const fx_completion *c, const char *input, int cursor)
{
    static const char *const t[] = {"System.Management.Automation.CommandCompletion",
                                    "System.Object", NULL};
    static const char *const ct[] = {
        "System.Collections.ObjectModel.Collection`1[[System.Management.Automation."
        "CompletionResult, System.Management.Automation, Version=3.0.0.0, Culture=neutral, "
        "PublicKeyToken=31bf3856ad364e35]]",
        "System.Object", NULL};
    /* The word around the cursor is what a match replaces. */
    int start = cursor, end = cursor;
    while (start > 0 && !isspace((unsigned char)input[start - 1])) start--;
    while (input[end] && !isspace((unsigned char)input[end])) end++;
    int ri = c && c->replacement_index >= 0 ? c->replacement_index : start;
    int rl = c && c->replacement_length >= 0 ? c->replacement_length : end - start;
    etsn_value *o = etsn_v_typed(t, ETSN_COLL_NONE);
    etsn_value *list = etsn_v_typed(ct, ETSN_COLL_LST);
    bool ok = o && list;
    for (size_t i = 0; ok && c && i < c->n_matches; i++) {
        etsn_value *r = completion_result(&c->matches[i]);
        ok = r && !etsn_obj_push_item(list, r);
    }
    ok = ok && !etsn_obj_set_tostring(o, "System.Management.Automation.CommandCompletion") &&
         !etsn_obj_add_prop(o, "CurrentMatchIndex", etsn_v_i32(-1)) &&
         !etsn_obj_add_prop(o, "ReplacementIndex", etsn_v_i32(c && c->n_matches ? ri : cursor)) &&
         !etsn_obj_add_prop(o, "ReplacementLength", etsn_v_i32(c && c->n_matches ? rl : 0));
    if (ok) {
        ok = !etsn_obj_add_prop(o, "CompletionMatches", list);
        list = NULL;
    }
    etsn_v_free(list);
    if (!ok) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}
