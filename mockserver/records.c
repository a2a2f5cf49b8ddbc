#include "records.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../ref/core/message.h"
#include "../ref/core/psrp_msgs.h"

/* The InvocationInfo_* members InvocationInfo.ToPSObjectForRemoting adds for
 * a script typed as one command (as in pypsrp's recording
 * test_psrp_stream_output_invocation), and InformationalRecord's
 * PipelineIterationInfo. */
static int add_invocation(etsn_value *o, const mock_invocation *inv, const char *iteration_name)
{
    static const char *const bp[] = {
        "System.Management.Automation.PSBoundParametersDictionary",
        "System.Collections.Generic.Dictionary`2[[System.String, mscorlib, Version=4.0.0.0, "
        "Culture=neutral, PublicKeyToken=b77a5c561934e089],[System.Object, mscorlib, "
        "Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
        "System.Object", NULL};
    static const char *const ia[] = {"System.Int32[]", "System.Array", "System.Object", NULL};
    static const char *const ua[] = {"System.Collections.Generic.List`1[[System.Object, mscorlib, "
                                     "Version=4.0.0.0, Culture=neutral, "
                                     "PublicKeyToken=b77a5c561934e089]]",
                                     "System.Object", NULL};
    static const char *const ro[] = {
        "System.Collections.ObjectModel.ReadOnlyCollection`1[[System.Int32, mscorlib, "
        "Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
        "System.Object", NULL};
    etsn_value *iter = etsn_v_typed(ia, ETSN_COLL_LST);
    etsn_value *iter2 = etsn_v_typed(ro, ETSN_COLL_LST);
    for (int i = 0; i < 2; i++) {
        if (iter) etsn_obj_push_item(iter, etsn_v_i32(0));
        if (iter2) etsn_obj_push_item(iter2, etsn_v_i32(0));
    }
    const char *script = inv->script ? inv->script : "";
    bool ok = !etsn_obj_add_member(o, "InvocationInfo_BoundParameters",
                                   etsn_v_typed(bp, ETSN_COLL_DCT)) &&
              !etsn_obj_add_member(
                  o, "InvocationInfo_CommandOrigin",
                  etsn_enum_value("System.Management.Automation.CommandOrigin", "Runspace", 0)) &&
              !etsn_obj_add_member(o, "InvocationInfo_ExpectingInput", etsn_v_bool(false)) &&
              !etsn_obj_add_member(o, "InvocationInfo_InvocationName", etsn_v_string("")) &&
              !etsn_obj_add_member(o, "InvocationInfo_Line", etsn_v_string("")) &&
              !etsn_obj_add_member(o, "InvocationInfo_OffsetInLine", etsn_v_i32(0)) &&
              !etsn_obj_add_member(o, "InvocationInfo_HistoryId", etsn_v_i64(inv->history_id)) &&
              !etsn_obj_add_member(o, "InvocationInfo_PipelineIterationInfo", iter) &&
              !etsn_obj_add_member(o, "InvocationInfo_PipelineLength", etsn_v_i32(1)) &&
              !etsn_obj_add_member(o, "InvocationInfo_PipelinePosition", etsn_v_i32(1)) &&
              !etsn_obj_add_member(o, "InvocationInfo_PSScriptRoot", etsn_v_string("")) &&
              !etsn_obj_add_member(o, "InvocationInfo_PSCommandPath", etsn_v_nil()) &&
              !etsn_obj_add_member(o, "InvocationInfo_PositionMessage", etsn_v_string("")) &&
              !etsn_obj_add_member(o, "InvocationInfo_ScriptLineNumber", etsn_v_i32(0)) &&
              !etsn_obj_add_member(o, "InvocationInfo_ScriptName", etsn_v_string("")) &&
              !etsn_obj_add_member(o, "InvocationInfo_UnboundArguments",
                                   etsn_v_typed(ua, ETSN_COLL_LST)) &&
              !etsn_obj_add_member(o, "SerializeExtent", etsn_v_bool(false)) &&
              !etsn_obj_add_member(
                  o, "CommandInfo_CommandType",
                  etsn_enum_value("System.Management.Automation.CommandTypes", "Script", 64)) &&
              !etsn_obj_add_member(o, "CommandInfo_Definition", etsn_v_string(script)) &&
              !etsn_obj_add_member(o, "CommandInfo_Name", etsn_v_string("")) &&
              !etsn_obj_add_member(
                  o, "CommandInfo_Visibility",
                  etsn_enum_value("System.Management.Automation.SessionStateEntryVisibility",
                                  "Public", 0)) &&
              !etsn_obj_add_member(o, iteration_name, iter2);
    return ok ? 0 : -1;
}

etsn_value *mock_informational_record(uint32_t type, const char *text, const mock_invocation *inv)
{
    const char *tn = type == ETSN_MSG_WARNING_RECORD ? "System.Management.Automation.WarningRecord"
                     : type == ETSN_MSG_VERBOSE_RECORD
                         ? "System.Management.Automation.VerboseRecord"
                         : "System.Management.Automation.DebugRecord";
    const char *const t[] = {tn, "System.Management.Automation.InformationalRecord",
                             "System.Object", NULL};
    etsn_value *o = etsn_v_typed(t, ETSN_COLL_NONE);
    if (!o || etsn_obj_set_tostring(o, text) < 0 ||
        etsn_obj_add_member(o, "InformationalRecord_Message", etsn_v_string(text)) < 0 ||
        etsn_obj_add_member(o, "InformationalRecord_SerializeInvocationInfo",
                            etsn_v_bool(inv != NULL)) < 0 ||
        (inv && add_invocation(o, inv, "InformationalRecord_PipelineIterationInfo") < 0)) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

etsn_value *mock_information_record(const mock_fixture *fx, const fx_step *s)
{
    static const char *const t[] = {"System.Management.Automation.InformationRecord",
                                    "System.Object", NULL};
    static const char *const lt[] = {
        "System.Collections.Generic.List`1[[System.String, mscorlib, Version=4.0.0.0, "
        "Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
        "System.Object", NULL};
    etsn_value *o = etsn_v_typed(t, ETSN_COLL_NONE);
    etsn_value *tags = etsn_v_typed(lt, ETSN_COLL_LST);
    bool ok = o && tags && !etsn_obj_set_tostring(o, s->text);
    for (size_t i = 0; ok && i < s->n_tags; i++)
        ok = !etsn_obj_push_item(tags, etsn_v_string(s->tags[i]));
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.0000000+00:00", &tm);
    char user[300];
    const fx_user *u = fx->n_users ? &fx->users[0] : NULL;
    snprintf(user, sizeof user, "%s%s%s", u && *u->domain ? u->domain : "",
             u && *u->domain ? "\\" : "", u ? u->name : "");
    if (ok) {
        ok = !etsn_obj_add_member(o, "MessageData", etsn_v_string(s->text)) &&
             !etsn_obj_add_member(o, "Source", etsn_v_string(s->source ? s->source : "")) &&
             !etsn_obj_add_member(o, "TimeGenerated",
                                  etsn_v_text(ETSN_V_DATETIME, when, strlen(when))) &&
             !etsn_obj_add_member(o, "Tags", tags) &&
             !etsn_obj_add_member(o, "User", etsn_v_string(user)) &&
             !etsn_obj_add_member(o, "Computer", etsn_v_string(fx->computer)) &&
             !etsn_obj_add_member(o, "ProcessId", etsn_v_uint(ETSN_V_U32, 4242)) &&
             !etsn_obj_add_member(o, "NativeThreadId", etsn_v_uint(ETSN_V_U32, 1)) &&
             !etsn_obj_add_member(o, "ManagedThreadId", etsn_v_uint(ETSN_V_U32, 1));
        tags = NULL;
    }
    etsn_v_free(tags);
    if (!ok) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

int mock_error_record_extend(etsn_value *rec, const mock_invocation *inv)
{
    etsn_value *ex = etsn_v_get(rec, "Exception");
    static const char *const dt[] = {"System.Collections.ListDictionaryInternal", "System.Object",
                                     NULL};
    if (ex && (etsn_obj_add_prop(ex, "Data", etsn_v_typed(dt, ETSN_COLL_DCT)) < 0 ||
               etsn_obj_add_prop(ex, "InnerException", etsn_v_nil()) < 0 ||
               etsn_obj_add_prop(ex, "TargetSite", etsn_v_nil()) < 0 ||
               etsn_obj_add_prop(ex, "StackTrace", etsn_v_nil()) < 0 ||
               etsn_obj_add_prop(ex, "HelpLink", etsn_v_nil()) < 0 ||
               etsn_obj_add_prop(ex, "Source", etsn_v_nil()) < 0 ||
               /* COR_E_SYSTEM: what PowerShell's SystemException-derived errors carry */
               etsn_obj_add_prop(ex, "HResult", etsn_v_i32(-2146233087)) < 0))
        return -1;
    if (!inv) return 0;
    etsn_value *sei = etsn_v_get(rec, "SerializeExtendedInfo");
    if (sei && sei->kind == ETSN_V_BOOL) sei->num.b = true;
    if (add_invocation(rec, inv, "PipelineIterationInfo") < 0) return -1;
    if (!etsn_v_get(rec, "ErrorDetails_ScriptStackTrace") &&
        etsn_obj_add_member(rec, "ErrorDetails_ScriptStackTrace",
                            etsn_v_string("at <ScriptBlock>, <No file>: line 1")) < 0)
        return -1;
    return 0;
}

/* Windows sends the ErrorRecord's InvocationInfo property as an object even
 * when SerializeExtendedInfo is false (pypsrp's recording
 * test_psrp_error_failed: MyCommand, ScriptLineNumber, Line, PositionMessage
 * with the server's CRLF, InvocationName, ...). */
static etsn_value *invocation_object(const char *line, const char *position)
{
    static const char *const types[] = {"System.Management.Automation.InvocationInfo",
                                        "System.Object", NULL};
    etsn_value *o = etsn_v_typed(types, ETSN_COLL_NONE);
    etsn_buf crlf = ETSN_BUF_INIT;
    for (const char *c = position; *c; c++) {
        if (*c == '\n' && (c == position || c[-1] != '\r')) etsn_buf_append_byte(&crlf, '\r');
        etsn_buf_append_byte(&crlf, (uint8_t)*c);
    }
    bool ok = o && etsn_buf_append_byte(&crlf, 0) == 0 &&
              !etsn_obj_set_tostring(o, "System.Management.Automation.InvocationInfo") &&
              !etsn_obj_add_prop(o, "MyCommand", etsn_v_string(line)) &&
              !etsn_obj_add_prop(o, "ScriptLineNumber", etsn_v_i32(1)) &&
              !etsn_obj_add_prop(o, "ScriptName", etsn_v_string("")) &&
              !etsn_obj_add_prop(o, "Line", etsn_v_string(line)) &&
              !etsn_obj_add_prop(o, "PositionMessage", etsn_v_string((char *)crlf.data)) &&
              !etsn_obj_add_prop(o, "InvocationName", etsn_v_string(""));
    etsn_buf_free(&crlf);
    if (!ok) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

int mock_error_record_invocation(etsn_value *rec, const char *line, const char *position)
{
    for (size_t i = 0; i < rec->n_members; i++) {
        etsn_value *m = rec->members[i];
        if (!m->name || strcmp(m->name, "InvocationInfo") != 0) continue;
        etsn_value *o = invocation_object(line ? line : "", position);
        if (!o || !(o->name = strdup("InvocationInfo"))) {
            etsn_v_free(o);
            return -1;
        }
        etsn_v_free(m);
        rec->members[i] = o;
        return 0;
    }
    return 0;
}
