#include "metadata.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../ref/core/buf.h"
#include "../ref/core/psrp_msgs.h"

#define CORE "Microsoft.PowerShell.Core"
#define UTIL "Microsoft.PowerShell.Utility"
#define MGMT "Microsoft.PowerShell.Management"

static const mock_command builtins[] = {
    {"Clear-Host", "", 2},       {"Exit-PSSession", CORE, 8}, {"ForEach-Object", CORE, 8},
    {"Format-List", UTIL, 8},    {"Format-Table", UTIL, 8},   {"Get-ChildItem", MGMT, 8},
    {"Get-Command", CORE, 8},    {"Get-Content", MGMT, 8},    {"Get-Date", UTIL, 8},
    {"Get-FormatData", UTIL, 8}, {"Get-Help", CORE, 8},       {"Get-Item", MGMT, 8},
    {"Get-Location", MGMT, 8},   {"Get-Member", UTIL, 8},     {"Get-Process", MGMT, 8},
    {"Get-Service", MGMT, 8},    {"Invoke-Command", CORE, 8}, {"Measure-Object", UTIL, 8},
    {"Out-Default", CORE, 8},    {"Out-String", UTIL, 8},     {"prompt", "", 2},
    {"Select-Object", UTIL, 8},  {"Set-Content", MGMT, 8},    {"Set-Location", MGMT, 8},
    {"Sort-Object", UTIL, 8},    {"TabExpansion2", "", 2},    {"Where-Object", CORE, 8},
    {"Write-Error", UTIL, 8},    {"Write-Host", UTIL, 8},     {"Write-Output", UTIL, 8},
};

const mock_command *mock_builtin_commands(size_t *n)
{
    *n = sizeof builtins / sizeof *builtins;
    return builtins;
}

/* PowerShell's WildcardPattern, case-insensitive: *, ? and [..]. */
static bool wild(const char *pattern, const char *name)
{
    return fnmatch(pattern, name, FNM_CASEFOLD | FNM_NOESCAPE) == 0;
}

static etsn_value *command_info(const mock_command *c)
{
    static const char *const t[] = {"Selected.System.Management.Automation.CmdletInfo",
                                    "System.Management.Automation.PSCustomObject", "System.Object",
                                    NULL};
    static const char *const tf[] = {"Selected.System.Management.Automation.FunctionInfo",
                                     "System.Management.Automation.PSCustomObject", "System.Object",
                                     NULL};
    static const char *const out_t[] = {
        "System.Collections.ObjectModel.ReadOnlyCollection`1[[System.Management.Automation."
        "PSTypeName, System.Management.Automation, Version=3.0.0.0, Culture=neutral, "
        "PublicKeyToken=31bf3856ad364e35]]",
        "System.Object", NULL};
    static const char *const par_t[] = {
        "System.Collections.Generic.Dictionary`2[[System.String, mscorlib, Version=4.0.0.0, "
        "Culture=neutral, PublicKeyToken=b77a5c561934e089],[System.Management.Automation."
        "ParameterMetadata, System.Management.Automation, Version=3.0.0.0, Culture=neutral, "
        "PublicKeyToken=31bf3856ad364e35]]",
        "System.Object", NULL};
    bool fn = c->type == 2;
    etsn_value *o = etsn_v_typed(fn ? tf : t, ETSN_COLL_NONE);
    if (!o) return NULL;
    bool ok = !etsn_obj_add_member(o, "Name", etsn_v_string(c->name)) &&
              !etsn_obj_add_member(o, "Namespace", etsn_v_string(c->module)) &&
              !etsn_obj_add_member(o, "HelpUri", etsn_v_string("")) &&
              !etsn_obj_add_member(o, "CommandType",
                                   etsn_enum_value("System.Management.Automation.CommandTypes",
                                                   fn ? "Function" : "Cmdlet", c->type)) &&
              !etsn_obj_add_member(o, "ResolvedCommandName", etsn_v_nil()) &&
              !etsn_obj_add_member(o, "OutputType", etsn_v_typed(out_t, ETSN_COLL_LST)) &&
              !etsn_obj_add_member(o, "Parameters", etsn_v_typed(par_t, ETSN_COLL_DCT));
    if (!ok) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

/* The strings of a String[] / Object[] member (or of a lone string). */
static size_t strings_of(const etsn_value *v, const char **out, size_t max)
{
    if (!v || v->kind == ETSN_V_NIL) return 0;
    const char *s = etsn_v_as_str(v);
    if (s) {
        out[0] = s;
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < v->n_items && n < max; i++)
        if ((s = etsn_v_as_str(v->items[i]))) out[n++] = s;
    return n;
}

static bool any_match(const char *const *pats, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (wild(pats[i], name)) return true;
    return false;
}

static int by_name(const void *a, const void *b)
{
    return strcasecmp((*(const mock_command *const *)a)->name,
                      (*(const mock_command *const *)b)->name);
}

/* The fixture's <server commands> as commands (Cmdlets of no known module);
 * a name ending in * stands for every name with that prefix, so only an
 * exact requested name can select one. */
static size_t candidates(const mock_fixture *fx, const char *const *names, size_t n_names,
                         mock_command *extra, size_t max_extra, const mock_command **all,
                         size_t max_all)
{
    size_t n = 0, ne = 0;
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins && n < max_all; i++)
        all[n++] = &builtins[i];
    for (size_t i = 0; i < fx->n_extra && ne < max_extra; i++) {
        const char *x = fx->extra_commands[i];
        size_t xl = strlen(x);
        if (xl && x[xl - 1] == '*') {
            for (size_t j = 0; j < n_names && ne < max_extra; j++)
                if (!strpbrk(names[j], "*?[") && !strncasecmp(names[j], x, xl - 1))
                    extra[ne++] = (mock_command){names[j], "", 8};
            continue;
        }
        extra[ne++] = (mock_command){x, "", 8};
    }
    for (size_t i = 0; i < ne && n < max_all; i++) all[n++] = &extra[i];
    return n;
}

static bool missing(const mock_fixture *fx, const char *name)
{
    for (size_t i = 0; i < fx->n_missing; i++)
        if (!strcasecmp(fx->missing_commands[i], name)) return true;
    return false;
}

long mock_metadata_answer(const mock_fixture *fx, const etsn_value *req, etsn_value ***out,
                          char **asked)
{
    const char *names[64], *spaces[64];
    size_t n_names = strings_of(etsn_v_get(req, "Name"), names, 64);
    size_t n_spaces = strings_of(etsn_v_get(req, "Namespace"), spaces, 64);
    int64_t types = 0;
    if (!etsn_v_as_i64(etsn_v_get(req, "CommandType"), &types) || types == 0) types = 511;
    etsn_buf b = ETSN_BUF_INIT;
    for (size_t i = 0; i < n_names; i++) etsn_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    etsn_buf_append_byte(&b, 0);
    *asked = (char *)etsn_buf_steal(&b);

    mock_command extra[64];
    const mock_command *all[128], *found[128];
    size_t n_all = candidates(fx, names, n_names, extra, 64, all, 128), n_found = 0;
    for (size_t i = 0; i < n_all; i++) {
        const mock_command *c = all[i];
        if (missing(fx, c->name) || !(c->type & types) || !any_match(names, n_names, c->name))
            continue;
        if (n_spaces && !any_match(spaces, n_spaces, c->module)) continue;
        bool dup = false;
        for (size_t j = 0; j < n_found && !dup; j++) dup = !strcasecmp(found[j]->name, c->name);
        if (!dup) found[n_found++] = c;
    }
    qsort(found, n_found, sizeof *found, by_name);

    static const char *const ct[] = {"Selected.Microsoft.PowerShell.Commands.GenericMeasureInfo",
                                     "System.Management.Automation.PSCustomObject", "System.Object",
                                     NULL};
    *out = calloc(n_found + 1, sizeof **out);
    if (!*out) return -1;
    size_t n = 0;
    etsn_value *count = etsn_v_typed(ct, ETSN_COLL_NONE);
    if (count && etsn_obj_add_member(count, "Count", etsn_v_i32((int32_t)n_found)) == 0)
        (*out)[n++] = count;
    else
        etsn_v_free(count);
    for (size_t i = 0; n && i < n_found; i++) {
        etsn_value *v = command_info(found[i]);
        if (!v) break;
        (*out)[n++] = v;
    }
    if (n != n_found + 1) {
        for (size_t i = 0; i < n; i++) etsn_v_free((*out)[i]);
        free(*out);
        *out = NULL;
        return -1;
    }
    return (long)n;
}
