#include "psrp_msgs.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const host_methods[] = {
    [1] = "GetName",
    [2] = "GetVersion",
    [3] = "GetInstanceId",
    [4] = "GetCurrentCulture",
    [5] = "GetCurrentUICulture",
    [6] = "SetShouldExit",
    [7] = "EnterNestedPrompt",
    [8] = "ExitNestedPrompt",
    [9] = "NotifyBeginApplication",
    [10] = "NotifyEndApplication",
    [11] = "ReadLine",
    [12] = "ReadLineAsSecureString",
    [13] = "Write1",
    [14] = "Write2",
    [15] = "WriteLine1",
    [16] = "WriteLine2",
    [17] = "WriteLine3",
    [18] = "WriteErrorLine",
    [19] = "WriteDebugLine",
    [20] = "WriteProgress",
    [21] = "WriteVerboseLine",
    [22] = "WriteWarningLine",
    [23] = "Prompt",
    [24] = "PromptForCredential1",
    [25] = "PromptForCredential2",
    [26] = "PromptForChoice",
    [27] = "GetForegroundColor",
    [28] = "SetForegroundColor",
    [29] = "GetBackgroundColor",
    [30] = "SetBackgroundColor",
    [31] = "GetCursorPosition",
    [32] = "SetCursorPosition",
    [33] = "GetWindowPosition",
    [34] = "SetWindowPosition",
    [35] = "GetCursorSize",
    [36] = "SetCursorSize",
    [37] = "GetBufferSize",
    [38] = "SetBufferSize",
    [39] = "GetWindowSize",
    [40] = "SetWindowSize",
    [41] = "GetWindowTitle",
    [42] = "SetWindowTitle",
    [43] = "GetMaxWindowSize",
    [44] = "GetMaxPhysicalWindowSize",
    [45] = "GetKeyAvailable",
    [46] = "ReadKey",
    [47] = "FlushInputBuffer",
    [48] = "SetBufferContents1",
    [49] = "SetBufferContents2",
    [50] = "GetBufferContents",
    [51] = "ScrollBufferContents",
    [52] = "PushRunspace",
    [53] = "PopRunspace",
    [54] = "GetIsRunspacePushed",
    [55] = "GetRunspace",
    [56] = "PromptForChoiceMultipleSelection",
};
#define N_HOST_METHODS ((int)(sizeof host_methods / sizeof host_methods[0]))

const char *etsn_host_method_name(int method_id)
{
    if (method_id < 1 || method_id >= N_HOST_METHODS) return NULL;
    return host_methods[method_id];
}

int etsn_host_method_from_name(const char *name)
{
    for (int i = 1; i < N_HOST_METHODS; i++)
        if (!strcasecmp(host_methods[i], name)) return i;
    return 0;
}

/* Adds a member and reports allocation failure through *ok. */
static void add(etsn_value *obj, const char *name, etsn_value *v, bool *ok)
{
    if (!v || etsn_obj_add_member(obj, name, v) < 0) *ok = false;
}

static etsn_value *finish(etsn_value *obj, bool ok)
{
    if (ok) return obj;
    etsn_v_free(obj);
    return NULL;
}

etsn_value *etsn_enum_value(const char *type_name, const char *to_string, int32_t value)
{
    etsn_value *v = etsn_v_obj();
    if (!v) return NULL;
    bool ok = etsn_obj_add_type(v, type_name) == 0 && etsn_obj_add_type(v, "System.Enum") == 0 &&
              etsn_obj_add_type(v, "System.ValueType") == 0 &&
              etsn_obj_add_type(v, "System.Object") == 0 &&
              etsn_obj_set_tostring(v, to_string) == 0 &&
              etsn_obj_set_base(v, etsn_v_i32(value)) == 0;
    return finish(v, ok);
}

static etsn_value *version_value(const char *s)
{
    return etsn_v_text(ETSN_V_VERSION, s, strlen(s));
}

etsn_value *etsn_msg_session_capability(const char *protocol_version)
{
    etsn_value *v = etsn_v_obj();
    if (!v) return NULL;
    bool ok = true;
    add(v, "protocolversion", version_value(protocol_version), &ok);
    add(v, "PSVersion", version_value("2.0"), &ok);
    add(v, "SerializationVersion", version_value("1.1.0.1"), &ok);
    return finish(v, ok);
}

/* {T: type, V: value} as HostDefaultData stores each entry. */
static etsn_value *host_entry(const char *type, etsn_value *value)
{
    etsn_value *e = etsn_v_obj();
    if (!e) {
        etsn_v_free(value);
        return NULL;
    }
    bool ok = true;
    add(e, "T", etsn_v_string(type), &ok);
    add(e, "V", value, &ok);
    return finish(e, ok);
}

static etsn_value *pair_value(const char *a, int x, const char *b, int y)
{
    etsn_value *v = etsn_v_obj();
    if (!v) return NULL;
    bool ok = true;
    add(v, a, etsn_v_i32(x), &ok);
    add(v, b, etsn_v_i32(y), &ok);
    return finish(v, ok);
}

static void put_entry(etsn_value *dict, int key, const char *type, etsn_value *value, bool *ok)
{
    etsn_value *entry = host_entry(type, value);
    if (!entry || etsn_obj_push_entry(dict, etsn_v_i32(key), entry) < 0) *ok = false;
}

static etsn_value *host_info_value(const etsn_host_info *h)
{
    etsn_value *v = etsn_v_obj();
    if (!v) return NULL;
    bool ok = true;
    bool present = h && h->present;
    if (present) {
        etsn_value *data = etsn_v_obj();
        ok = data && etsn_obj_add_type(data, "System.Collections.Hashtable") == 0 &&
             etsn_obj_add_type(data, "System.Object") == 0 &&
             etsn_obj_set_coll(data, ETSN_COLL_DCT) == 0;
        if (ok) {
            const char *size = "System.Management.Automation.Host.Size";
            const char *coord = "System.Management.Automation.Host.Coordinates";
            put_entry(data, 9, "System.String",
                      etsn_v_string(h->window_title ? h->window_title : ""), &ok);
            put_entry(data, 8, size,
                      pair_value("width", h->max_physical_width, "height", h->max_physical_height),
                      &ok);
            put_entry(data, 7, size,
                      pair_value("width", h->max_window_width, "height", h->max_window_height),
                      &ok);
            put_entry(data, 6, size,
                      pair_value("width", h->window_width, "height", h->window_height), &ok);
            put_entry(data, 5, size,
                      pair_value("width", h->buffer_width, "height", h->buffer_height), &ok);
            put_entry(data, 4, "System.Int32", etsn_v_i32(h->cursor_size), &ok);
            put_entry(data, 3, coord, pair_value("x", h->window_x, "y", h->window_y), &ok);
            put_entry(data, 2, coord, pair_value("x", h->cursor_x, "y", h->cursor_y), &ok);
            put_entry(data, 1, "System.ConsoleColor", etsn_v_i32(h->background), &ok);
            put_entry(data, 0, "System.ConsoleColor", etsn_v_i32(h->foreground), &ok);
        }
        etsn_value *defaults = etsn_v_obj();
        if (!defaults || !data || etsn_obj_add_member(defaults, "data", data) < 0) {
            ok = false;
            if (!defaults) etsn_v_free(data);
        }
        add(v, "_hostDefaultData", defaults, &ok);
    }
    add(v, "_isHostNull", etsn_v_bool(!present), &ok);
    add(v, "_isHostUINull", etsn_v_bool(!present), &ok);
    add(v, "_isHostRawUINull", etsn_v_bool(!present), &ok);
    add(v, "_useRunspaceHost", etsn_v_bool(!present), &ok);
    return finish(v, ok);
}

etsn_value *etsn_msg_init_runspacepool(int min, int max, const etsn_host_info *host)
{
    etsn_value *v = etsn_v_obj();
    if (!v) return NULL;
    bool ok = true;
    add(v, "MinRunspaces", etsn_v_i32(min), &ok);
    add(v, "MaxRunspaces", etsn_v_i32(max), &ok);
    add(v, "PSThreadOptions",
        etsn_enum_value("System.Management.Automation.Runspaces.PSThreadOptions", "Default", 0),
        &ok);
    add(v, "ApartmentState",
        etsn_enum_value("System.Management.Automation.Runspaces.ApartmentState", "Unknown", 2),
        &ok);
    add(v, "HostInfo", host_info_value(host), &ok);
    add(v, "ApplicationArguments", etsn_v_nil(), &ok);
    return finish(v, ok);
}

static const char *result_types_name(int v)
{
    switch (v) {
    case 0:
        return "None";
    case 1:
        return "Output";
    case 2:
        return "Error";
    case 3:
        return "Output, Error";
    default:
        return "None";
    }
}

static etsn_value *result_types(int v)
{
    return etsn_enum_value("System.Management.Automation.Runspaces.PipelineResultTypes",
                           result_types_name(v), v);
}

static const char psobject_list[] =
    "System.Collections.Generic.List`1[[System.Management.Automation.PSObject, "
    "System.Management.Automation, Version=1.0.0.0, Culture=neutral, "
    "PublicKeyToken=31bf3856ad364e35]]";

static etsn_value *typed_list(const char *type)
{
    const char *const types[] = {type, "System.Object", NULL};
    return etsn_v_typed(types, ETSN_COLL_LST);
}

static etsn_value *command_value(const etsn_command *c)
{
    etsn_value *v = etsn_v_obj();
    if (!v) return NULL;
    bool ok = true;
    add(v, "Cmd", etsn_v_string(c->text), &ok);
    add(v, "IsScript", etsn_v_bool(c->is_script), &ok);
    add(v, "UseLocalScope", c->has_use_local_scope ? etsn_v_bool(c->use_local_scope) : etsn_v_nil(),
        &ok);
    add(v, "MergeMyResult", result_types(c->merge_my_result), &ok);
    add(v, "MergeToResult", result_types(c->merge_to_result), &ok);
    add(v, "MergePreviousResults", result_types(c->merge_previous), &ok);
    etsn_value *args = typed_list(psobject_list);
    for (size_t i = 0; args && i < c->n_args; i++) {
        /* MS-PSRP 2.2.3.13: each argument is {N: name or Nil, V: value}. */
        etsn_value *a = etsn_v_obj();
        bool aok = a != NULL;
        if (aok) add(a, "N", c->args[i].name ? etsn_v_string(c->args[i].name) : etsn_v_nil(), &aok);
        if (aok)
            add(a, "V",
                c->args[i].value ? etsn_v_ref((etsn_value *)c->args[i].value) : etsn_v_nil(), &aok);
        if (!aok || etsn_obj_push_item(args, a) < 0) {
            if (!aok) etsn_v_free(a);
            ok = false;
        }
    }
    add(v, "Args", args, &ok);
    add(v, "MergeError", result_types(0), &ok);
    add(v, "MergeWarning", result_types(0), &ok);
    add(v, "MergeVerbose", result_types(0), &ok);
    add(v, "MergeDebug", result_types(0), &ok);
    add(v, "MergeInformation", result_types(0), &ok);
    return finish(v, ok);
}

etsn_value *etsn_msg_create_pipeline(const etsn_command *cmds, size_t n_cmds, bool add_to_history,
                                     const etsn_host_info *host)
{
    etsn_value *v = etsn_v_obj();
    etsn_value *ps = etsn_v_obj();
    etsn_value *list = typed_list(psobject_list);
    bool ok = v && ps && list;
    for (size_t i = 0; ok && i < n_cmds; i++) {
        etsn_value *c = command_value(&cmds[i]);
        if (!c || etsn_obj_push_item(list, c) < 0) ok = false;
    }
    if (!ok) {
        etsn_v_free(v);
        etsn_v_free(ps);
        etsn_v_free(list);
        return NULL;
    }
    add(ps, "IsNested", etsn_v_bool(false), &ok);
    add(ps, "ExtraCmds", etsn_v_nil(), &ok);
    add(ps, "Cmds", list, &ok);
    add(ps, "History", etsn_v_nil(), &ok);
    add(ps, "RedirectShellErrorOutputPipe", etsn_v_bool(false), &ok);

    add(v, "NoInput", etsn_v_bool(true), &ok);
    add(v, "ApartmentState",
        etsn_enum_value("System.Management.Automation.Runspaces.ApartmentState", "Unknown", 2),
        &ok);
    add(v, "RemoteStreamOptions",
        etsn_enum_value("System.Management.Automation.Runspaces.RemoteStreamOptions", "0", 0), &ok);
    add(v, "AddToHistory", etsn_v_bool(add_to_history), &ok);
    add(v, "HostInfo", host_info_value(host), &ok);
    add(v, "PowerShell", ps, &ok);
    add(v, "IsNested", etsn_v_bool(false), &ok);
    return finish(v, ok);
}

etsn_value *etsn_msg_get_command_metadata(const char *const *names, size_t n_names,
                                          int command_type)
{
    etsn_value *v = etsn_v_obj();
    etsn_value *list = etsn_v_obj();
    bool ok = v && list && etsn_obj_add_type(list, "System.String[]") == 0 &&
              etsn_obj_add_type(list, "System.Array") == 0 &&
              etsn_obj_add_type(list, "System.Object") == 0 &&
              etsn_obj_set_coll(list, ETSN_COLL_LST) == 0;
    for (size_t i = 0; ok && i < n_names; i++)
        if (etsn_obj_push_item(list, etsn_v_string(names[i])) < 0) ok = false;
    if (!ok) {
        etsn_v_free(v);
        etsn_v_free(list);
        return NULL;
    }
    add(v, "Name", list, &ok);
    add(v, "CommandType",
        etsn_enum_value("System.Management.Automation.CommandTypes",
                        "Alias, Function, Filter, Cmdlet, Configuration", command_type),
        &ok);
    add(v, "Namespace", etsn_v_nil(), &ok);
    add(v, "ArgumentList", etsn_v_nil(), &ok);
    return finish(v, ok);
}

static etsn_value *method_id_value(int method_id)
{
    const char *name = etsn_host_method_name(method_id);
    return etsn_enum_value("System.Management.Automation.Remoting.RemoteHostMethodId",
                           name ? name : "Unknown", method_id);
}

etsn_value *etsn_msg_host_response(int64_t call_id, int method_id, etsn_value *result,
                                   etsn_value *error)
{
    etsn_value *v = etsn_v_obj();
    if (!v) {
        etsn_v_free(result);
        etsn_v_free(error);
        return NULL;
    }
    bool ok = true;
    add(v, "ci", etsn_v_i64(call_id), &ok);
    add(v, "mi", method_id_value(method_id), &ok);
    if (result) add(v, "mr", result, &ok);
    if (error) add(v, "me", error, &ok);
    return finish(v, ok);
}

etsn_value *etsn_msg_application_private_data(const char *ps_version, const char *protocol_version)
{
    const char *prim = "System.Management.Automation.PSPrimitiveDictionary";
    etsn_value *outer = etsn_v_obj(), *table = etsn_v_obj(), *v = etsn_v_obj();
    bool ok = outer && table && v;
    etsn_value *dicts[2] = {outer, table};
    for (int i = 0; ok && i < 2; i++)
        ok = etsn_obj_add_type(dicts[i], prim) == 0 &&
             etsn_obj_add_type(dicts[i], "System.Collections.Hashtable") == 0 &&
             etsn_obj_add_type(dicts[i], "System.Object") == 0 &&
             etsn_obj_set_coll(dicts[i], ETSN_COLL_DCT) == 0;
    if (ok)
        ok = etsn_obj_push_entry(table, etsn_v_string("PSVersion"), version_value(ps_version)) ==
                 0 &&
             etsn_obj_push_entry(table, etsn_v_string("PSEdition"), etsn_v_string("Core")) == 0 &&
             etsn_obj_push_entry(table, etsn_v_string("PSRemotingProtocolVersion"),
                                 version_value(protocol_version)) == 0 &&
             etsn_obj_push_entry(table, etsn_v_string("SerializationVersion"),
                                 version_value("1.1.0.1")) == 0 &&
             etsn_obj_push_entry(table, etsn_v_string("WSManStackVersion"), version_value("3.0")) ==
                 0;
    if (!ok) {
        etsn_v_free(outer);
        etsn_v_free(table);
        etsn_v_free(v);
        return NULL;
    }
    if (etsn_obj_push_entry(outer, etsn_v_string("PSVersionTable"), table) < 0) ok = false;
    add(v, "ApplicationPrivateData", outer, &ok);
    return finish(v, ok);
}

static etsn_value *state_message(const char *name, int state, etsn_value *error)
{
    etsn_value *v = etsn_v_obj();
    if (!v) {
        etsn_v_free(error);
        return NULL;
    }
    bool ok = true;
    add(v, name, etsn_v_i32(state), &ok);
    if (error) add(v, "ExceptionAsErrorRecord", error, &ok);
    return finish(v, ok);
}

etsn_value *etsn_msg_runspacepool_state(int state, etsn_value *error)
{
    return state_message("RunspaceState", state, error);
}

etsn_value *etsn_msg_pipeline_state(int state, etsn_value *error)
{
    return state_message("PipelineState", state, error);
}

etsn_value *etsn_msg_host_call(int64_t call_id, int method_id, etsn_value *params)
{
    etsn_value *v = etsn_v_obj();
    etsn_value *mp = params ? params : typed_list("System.Collections.ArrayList");
    if (!v || !mp) {
        etsn_v_free(v);
        etsn_v_free(mp);
        return NULL;
    }
    bool ok = true;
    add(v, "ci", etsn_v_i64(call_id), &ok);
    add(v, "mi", method_id_value(method_id), &ok);
    add(v, "mp", mp, &ok);
    return finish(v, ok);
}

static etsn_value *opt_string(const char *s)
{
    return s ? etsn_v_string(s) : etsn_v_nil();
}

etsn_value *etsn_msg_error_record(const etsn_error_record *rec, const char *member_name)
{
    etsn_value *v = etsn_v_obj();
    etsn_value *ex = etsn_v_obj();
    if (!v || !ex) {
        etsn_v_free(v);
        etsn_v_free(ex);
        return NULL;
    }
    const char *ex_type = rec->exception_type ? rec->exception_type : "System.Exception";
    bool ok = etsn_obj_add_type(ex, ex_type) == 0 &&
              etsn_obj_add_type(ex, "System.Exception") == 0 &&
              etsn_obj_add_type(ex, "System.Object") == 0;
    etsn_buf ts = ETSN_BUF_INIT;
    if (ok && etsn_buf_printf(&ts, "%s: %s", ex_type, rec->message ? rec->message : "") == 0)
        ok = etsn_obj_set_tostring(ex, (const char *)ts.data) == 0;
    etsn_buf_free(&ts);
    if (ok) {
        etsn_value *msg = etsn_v_string(rec->message ? rec->message : "");
        if (!msg || etsn_obj_add_prop(ex, "Message", msg) < 0) ok = false;
    }
    if (ok)
        ok = etsn_obj_add_type(v, "System.Management.Automation.ErrorRecord") == 0 &&
             etsn_obj_add_type(v, "System.Object") == 0 &&
             etsn_obj_set_tostring(v, rec->message ? rec->message : "") == 0;
    if (!ok) {
        etsn_v_free(v);
        etsn_v_free(ex);
        return NULL;
    }
    add(v, "Exception", ex, &ok);
    add(v, "TargetObject", etsn_v_nil(), &ok);
    add(v, "FullyQualifiedErrorId", opt_string(rec->fqid), &ok);
    add(v, "InvocationInfo", etsn_v_nil(), &ok);
    add(v, "ErrorCategory_Category", etsn_v_i32(rec->category), &ok);
    add(v, "ErrorCategory_Activity", opt_string(rec->activity), &ok);
    add(v, "ErrorCategory_Reason", opt_string(rec->reason), &ok);
    add(v, "ErrorCategory_TargetName", opt_string(rec->target_name), &ok);
    add(v, "ErrorCategory_TargetType", opt_string(rec->target_type), &ok);
    etsn_buf cat = ETSN_BUF_INIT;
    etsn_buf_printf(&cat, "%s: (%s:%s) [%s], %s", rec->category_name ? rec->category_name : "",
                    rec->target_name ? rec->target_name : "",
                    rec->target_type ? rec->target_type : "", rec->activity ? rec->activity : "",
                    rec->reason ? rec->reason : "");
    add(v, "ErrorCategory_Message", etsn_v_string(cat.data ? (char *)cat.data : ""), &ok);
    etsn_buf_free(&cat);
    if (rec->position_message)
        add(v, "ErrorDetails_ScriptStackTrace", etsn_v_string(rec->position_message), &ok);
    add(v, "SerializeExtendedInfo", etsn_v_bool(false), &ok);
    if (ok && member_name) {
        free(v->name);
        v->name = strdup(member_name);
        ok = v->name != NULL;
    }
    return finish(v, ok);
}

static const char *str_member(const etsn_value *v, const char *name)
{
    const etsn_value *m = etsn_v_get(v, name);
    return m && m->kind != ETSN_V_NIL ? etsn_v_as_str(m) : NULL;
}

void etsn_error_record_read(const etsn_value *v, etsn_error_record *rec)
{
    memset(rec, 0, sizeof *rec);
    if (!v) return;
    const etsn_value *ex = etsn_v_get(v, "Exception");
    rec->message = ex ? str_member(ex, "Message") : NULL;
    if (!rec->message) rec->message = v->to_string;
    if (ex && ex->n_type_names) rec->exception_type = ex->type_names[0];
    rec->fqid = str_member(v, "FullyQualifiedErrorId");
    int64_t cat = 0;
    const etsn_value *c = etsn_v_get(v, "ErrorCategory_Category");
    if (c && etsn_v_as_i64(c, &cat)) rec->category = (int)cat;
    rec->activity = str_member(v, "ErrorCategory_Activity");
    rec->reason = str_member(v, "ErrorCategory_Reason");
    rec->target_name = str_member(v, "ErrorCategory_TargetName");
    rec->target_type = str_member(v, "ErrorCategory_TargetType");
    rec->category_name = str_member(v, "ErrorCategory_Message");
    const etsn_value *inv = etsn_v_get(v, "InvocationInfo");
    if (inv && inv->kind == ETSN_V_OBJ) rec->position_message = str_member(inv, "PositionMessage");
}
