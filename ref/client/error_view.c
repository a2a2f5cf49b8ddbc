/* ErrorRecord views of PowerShellCore_format_ps1xml.cs, fed from the
 * members of a serialized ErrorRecord (ErrorPackage.cs ToPSObjectForRemoting:
 * Exception, FullyQualifiedErrorId, ErrorCategory_*, ErrorDetails_*,
 * SerializeExtendedInfo with the InvocationInfo_* members). */
#include "error_view.h"

#include <string.h>

static const char *member_str(const etsn_value *v, const char *name)
{
    const etsn_value *m = v ? etsn_v_get(v, name) : NULL;
    const char *s = m ? etsn_v_as_str(m) : NULL;
    return s && *s ? s : NULL;
}

/* The message line: ErrorDetails.Message when set, else Exception.Message. */
static const char *message_of(const etsn_value *rec)
{
    const char *m = member_str(rec, "ErrorDetails_Message");
    if (m) return m;
    m = member_str(etsn_v_get(rec, "Exception"), "Message");
    if (m) return m;
    return etsn_v_as_str(rec) ? etsn_v_as_str(rec) : "";
}

/* InvocationInfo.PositionMessage: with SerializeExtendedInfo the record
 * carries InvocationInfo_PositionMessage (ErrorPackage.cs
 * ConstructFromPSObjectForRemoting); a Windows server also sends the
 * InvocationInfo property itself (pypsrp's recording test_psrp_error_failed). */
static const char *position_of(const etsn_value *rec)
{
    const char *p = member_str(rec, "InvocationInfo_PositionMessage");
    if (p) return p;
    const etsn_value *inv = etsn_v_get(rec, "InvocationInfo");
    return inv && inv->kind == ETSN_V_OBJ ? member_str(inv, "PositionMessage") : NULL;
}

/* Appends text with CRLF (the server's NewLine) turned into '\n'. */
static int append_lines(etsn_buf *out, const char *text)
{
    int rc = 0;
    for (const char *p = text; *p && !rc; p++) {
        if (*p == '\r' && p[1] == '\n') continue;
        rc = etsn_buf_append_byte(out, (uint8_t)*p);
    }
    return rc;
}

/* CategoryInfo.GetMessage (ErrorCategoryInfo): the server's own text in
 * ErrorCategory_Message, else built from the parts it sends. */
static int category_info(const etsn_value *rec, etsn_buf *out)
{
    const char *m = member_str(rec, "ErrorCategory_Message");
    if (m) return etsn_buf_append_str(out, m);
    int64_t cat = 0;
    const etsn_value *c = etsn_v_get(rec, "ErrorCategory_Category");
    if (c) etsn_v_as_i64(c, &cat);
    const char *tn = member_str(rec, "ErrorCategory_TargetName");
    const char *tt = member_str(rec, "ErrorCategory_TargetType");
    const char *ac = member_str(rec, "ErrorCategory_Activity");
    const char *re = member_str(rec, "ErrorCategory_Reason");
    /* ErrorCategory 0 is NotSpecified; other names are not in the record. */
    int rc = cat ? etsn_buf_printf(out, "%lld", (long long)cat)
                 : etsn_buf_append_str(out, "NotSpecified");
    return rc | etsn_buf_printf(out, ": (%s:%s) [%s], %s", tn ? tn : "", tt ? tt : "", ac ? ac : "",
                                re ? re : "");
}

/* NormalView: message, the position lines, CategoryInfo and
 * FullyQualifiedErrorId indented by four, and a line holding one space
 * ("`n " after Exception.Message; not after ErrorDetails.Message). */
static int normal_view(const etsn_value *rec, etsn_buf *out)
{
    int rc = append_lines(out, message_of(rec));
    const char *pos = position_of(rec);
    if (pos) rc |= etsn_buf_append_byte(out, '\n') | append_lines(out, pos);
    rc |= etsn_buf_append_str(out, "\n    + CategoryInfo          : ");
    rc |= category_info(rec, out);
    const char *fqid = member_str(rec, "FullyQualifiedErrorId");
    rc |= etsn_buf_printf(out, "\n    + FullyQualifiedErrorId : %s", fqid ? fqid : "");
    if (!member_str(rec, "ErrorDetails_Message")) rc |= etsn_buf_append_str(out, "\n ");
    return rc ? -1 : 0;
}

/* ConciseView's reason: the activity, else the invocation name, else the
 * category (when not NotSpecified, whose value 0 PowerShell treats as false;
 * its name is the head of the category message), else the reason, else
 * "Error". WasThrownFromThrowStatement does not survive serialization. */
static int concise_reason(const etsn_value *rec, etsn_buf *out)
{
    const char *r = member_str(rec, "ErrorCategory_Activity");
    if (!r) r = member_str(rec, "InvocationInfo_InvocationName");
    if (r) return etsn_buf_append_str(out, r);
    int64_t cat = 0;
    const etsn_value *c = etsn_v_get(rec, "ErrorCategory_Category");
    const char *cm = member_str(rec, "ErrorCategory_Message");
    const char *colon = cm ? strstr(cm, ": (") : NULL;
    if (c && etsn_v_as_i64(c, &cat) && cat != 0 && colon)
        return etsn_buf_append(out, cm, (size_t)(colon - cm));
    r = member_str(rec, "ErrorCategory_Reason");
    return etsn_buf_append_str(out, r ? r : "Error");
}

/* ConciseView of a one-line command: "<reason>: <message>" (line
 * information is shown only for scripts and lines past the first). */
static int concise_view(const etsn_value *rec, etsn_buf *out)
{
    int rc = concise_reason(rec, out);
    rc |= etsn_buf_append_str(out, ": ");
    rc |= append_lines(out, message_of(rec));
    return rc ? -1 : 0;
}

int etsn_error_view_render(const etsn_value *record, bool concise, etsn_buf *out)
{
    return concise ? concise_view(record, out) : normal_view(record, out);
}
