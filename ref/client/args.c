/* PowerShell parameter binding for Enter-PSSession, redone in C. The order of
 * steps, the order of parameters and every message follow PowerShell's source;
 * the comments name the place. */
#include "args.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FQ ETSN_ENTER_PSSESSION_FQID_SUFFIX

/* ---- parameter metadata ------------------------------------------------ */

enum {
    S_CN = 1u << ETSN_PSET_COMPUTER_NAME,
    S_SESSION = 1u << ETSN_PSET_SESSION,
    S_URI = 1u << ETSN_PSET_URI,
    S_INSTANCE = 1u << ETSN_PSET_INSTANCE_ID,
    S_ID = 1u << ETSN_PSET_ID,
    S_NAME = 1u << ETSN_PSET_NAME,
    S_VMID = 1u << ETSN_PSET_VM_ID,
    S_VMNAME = 1u << ETSN_PSET_VM_NAME,
    S_CONTAINER = 1u << ETSN_PSET_CONTAINER_ID,
    S_SSH = 1u << ETSN_PSET_SSH_HOST,
    S_ALL = (1u << ETSN_PSET_COUNT) - 1,
};

typedef enum {
    T_STRING,
    T_SWITCH,
    T_INT,
    T_GUID,
    T_URI,
    T_CRED,
    T_AUTH,
    T_PSSESSION,
    T_SESSIONOPT,
    T_HASHTABLE,
    T_ACTIONPREF,
} ptype;

enum { V_NOTEMPTY = 1, V_PORT = 2 };

typedef struct {
    const char *name;
    const char *alias[2];
    ptype type;
    unsigned sets;      /* sets the parameter belongs to (S_ALL: common) */
    unsigned mandatory; /* sets in which it is mandatory */
    unsigned pos_sets;  /* sets in which it has a position */
    int pos;
    unsigned validate;
    bool common;
} pdef;

/* In the order .NET reflection lists EnterPSSessionCommand's properties:
 * those declared in PushRunspaceCommand.cs first, in declaration order, then
 * the ones only PSRemotingBaseCmdlet (PSRemotingCmdlet.cs) declares, then the
 * common parameters (CommonCommandParameters.cs). This order is the order of
 * "Possible matches include:" and of missing mandatory parameter lists. */
enum {
    P_HOSTNAME,
    P_OPTIONS,
    P_COMPUTERNAME,
    P_SESSION,
    P_CONNECTIONURI,
    P_INSTANCEID,
    P_ID,
    P_NAME,
    P_ENABLENETWORKACCESS,
    P_VMID,
    P_VMNAME,
    P_CREDENTIAL,
    P_CONTAINERID,
    P_CONFIGURATIONNAME,
    P_RUNASADMINISTRATOR,
    P_PORT,
    P_USESSL,
    P_APPLICATIONNAME,
    P_ALLOWREDIRECTION,
    P_SESSIONOPTION,
    P_AUTHENTICATION,
    P_CERTIFICATETHUMBPRINT,
    P_USERNAME,
    P_KEYFILEPATH,
    P_SUBSYSTEM,
    P_CONNECTINGTIMEOUT,
    P_SSHTRANSPORT,
    P_VERBOSE,
    P_DEBUG,
    P_ERRORACTION,
    P_WARNINGACTION,
    P_INFORMATIONACTION,
    P_PROGRESSACTION,
    P_ERRORVARIABLE,
    P_WARNINGVARIABLE,
    P_INFORMATIONVARIABLE,
    P_OUTVARIABLE,
    P_OUTBUFFER,
    P_PIPELINEVARIABLE,
    P_COUNT
};

static const pdef PARAMS[P_COUNT] = {
    [P_HOSTNAME] = {"HostName", {0}, T_STRING, S_SSH, S_SSH, S_SSH, 0, V_NOTEMPTY, false},
    [P_OPTIONS] = {"Options", {0}, T_HASHTABLE, S_SSH, 0, 0, -1, 0, false},
    [P_COMPUTERNAME] = {"ComputerName", {"Cn"}, T_STRING, S_CN, S_CN, S_CN, 0, V_NOTEMPTY, false},
    [P_SESSION] = {"Session", {0}, T_PSSESSION, S_SESSION, 0, S_SESSION, 0, 0, false},
    [P_CONNECTIONURI] = {"ConnectionUri", {"URI", "CU"}, T_URI, S_URI, 0, S_URI, 1, 0, false},
    [P_INSTANCEID] = {"InstanceId", {0}, T_GUID, S_INSTANCE, 0, 0, -1, 0, false},
    [P_ID] = {"Id", {0}, T_INT, S_ID, 0, S_ID, 0, 0, false},
    [P_NAME] = {"Name", {0}, T_STRING, S_NAME, 0, 0, -1, 0, false},
    [P_ENABLENETWORKACCESS] =
        {"EnableNetworkAccess", {0}, T_SWITCH, S_CN | S_URI, 0, 0, -1, 0, false},
    [P_VMID] = {"VMId", {"VMGuid"}, T_GUID, S_VMID, S_VMID, S_VMID, 0, 0, false},
    [P_VMNAME] = {"VMName", {0}, T_STRING, S_VMNAME, S_VMNAME, S_VMNAME, 0, V_NOTEMPTY, false},
    [P_CREDENTIAL] = {"Credential",
                      {0},
                      T_CRED,
                      S_CN | S_URI | S_VMID | S_VMNAME,
                      S_VMID | S_VMNAME,
                      S_VMID | S_VMNAME,
                      1,
                      0,
                      false},
    [P_CONTAINERID] =
        {"ContainerId", {0}, T_STRING, S_CONTAINER, S_CONTAINER, S_CONTAINER, 0, V_NOTEMPTY, false},
    [P_CONFIGURATIONNAME] = {"ConfigurationName",
                             {0},
                             T_STRING,
                             S_CN | S_URI | S_CONTAINER | S_VMID | S_VMNAME,
                             0,
                             0,
                             -1,
                             0,
                             false},
    [P_RUNASADMINISTRATOR] = {"RunAsAdministrator", {0}, T_SWITCH, S_CONTAINER, 0, 0, -1, 0, false},
    [P_PORT] = {"Port", {0}, T_INT, S_CN | S_SSH, 0, 0, -1, V_PORT, false},
    [P_USESSL] = {"UseSSL", {0}, T_SWITCH, S_CN, 0, 0, -1, 0, false},
    [P_APPLICATIONNAME] = {"ApplicationName", {0}, T_STRING, S_CN, 0, 0, -1, 0, false},
    [P_ALLOWREDIRECTION] = {"AllowRedirection", {0}, T_SWITCH, S_URI, 0, 0, -1, 0, false},
    [P_SESSIONOPTION] = {"SessionOption", {0}, T_SESSIONOPT, S_CN | S_URI, 0, 0, -1, 0, false},
    [P_AUTHENTICATION] = {"Authentication", {0}, T_AUTH, S_CN | S_URI, 0, 0, -1, 0, false},
    [P_CERTIFICATETHUMBPRINT] =
        {"CertificateThumbprint", {0}, T_STRING, S_CN | S_URI, 0, 0, -1, 0, false},
    [P_USERNAME] = {"UserName", {0}, T_STRING, S_SSH, 0, 0, -1, V_NOTEMPTY, false},
    [P_KEYFILEPATH] =
        {"KeyFilePath", {"IdentityFilePath"}, T_STRING, S_SSH, 0, 0, -1, V_NOTEMPTY, false},
    [P_SUBSYSTEM] = {"Subsystem", {0}, T_STRING, S_SSH, 0, 0, -1, 0, false},
    [P_CONNECTINGTIMEOUT] = {"ConnectingTimeout", {0}, T_INT, S_SSH, 0, 0, -1, 0, false},
    [P_SSHTRANSPORT] = {"SSHTransport", {0}, T_SWITCH, S_SSH, 0, 0, -1, 0, false},
    [P_VERBOSE] = {"Verbose", {"vb"}, T_SWITCH, S_ALL, 0, 0, -1, 0, true},
    [P_DEBUG] = {"Debug", {"db"}, T_SWITCH, S_ALL, 0, 0, -1, 0, true},
    [P_ERRORACTION] = {"ErrorAction", {"ea"}, T_ACTIONPREF, S_ALL, 0, 0, -1, 0, true},
    [P_WARNINGACTION] = {"WarningAction", {"wa"}, T_ACTIONPREF, S_ALL, 0, 0, -1, 0, true},
    [P_INFORMATIONACTION] = {"InformationAction", {"infa"}, T_ACTIONPREF, S_ALL, 0, 0, -1, 0, true},
    [P_PROGRESSACTION] = {"ProgressAction", {"proga"}, T_ACTIONPREF, S_ALL, 0, 0, -1, 0, true},
    [P_ERRORVARIABLE] = {"ErrorVariable", {"ev"}, T_STRING, S_ALL, 0, 0, -1, 0, true},
    [P_WARNINGVARIABLE] = {"WarningVariable", {"wv"}, T_STRING, S_ALL, 0, 0, -1, 0, true},
    [P_INFORMATIONVARIABLE] = {"InformationVariable", {"iv"}, T_STRING, S_ALL, 0, 0, -1, 0, true},
    [P_OUTVARIABLE] = {"OutVariable", {"ov"}, T_STRING, S_ALL, 0, 0, -1, 0, true},
    [P_OUTBUFFER] = {"OutBuffer", {"ob"}, T_INT, S_ALL, 0, 0, -1, 0, true},
    [P_PIPELINEVARIABLE] = {"PipelineVariable", {"pv"}, T_STRING, S_ALL, 0, 0, -1, 0, true},
};

static const char *const SET_NAMES[ETSN_PSET_COUNT] = {
    "ComputerName", "Session", "Uri",    "InstanceId",  "Id",
    "Name",         "VMId",    "VMName", "ContainerId", "SSHHost",
};

/* .NET type names as Type.ToString() prints them in binder messages. */
static const char *type_name(ptype t)
{
    switch (t) {
    case T_STRING:
        return "System.String";
    case T_SWITCH:
        return "System.Management.Automation.SwitchParameter";
    case T_INT:
        return "System.Int32";
    case T_GUID:
        return "System.Guid";
    case T_URI:
        return "System.Uri";
    case T_CRED:
        return "System.Management.Automation.PSCredential";
    case T_AUTH:
        return "System.Management.Automation.Runspaces.AuthenticationMechanism";
    case T_PSSESSION:
        return "System.Management.Automation.Runspaces.PSSession";
    case T_SESSIONOPT:
        return "System.Management.Automation.Remoting.PSSessionOption";
    case T_HASHTABLE:
        return "System.Collections.Hashtable";
    case T_ACTIONPREF:
        return "System.Management.Automation.ActionPreference";
    }
    return "System.Object";
}

/* Enum.GetNames order (by value). */
static const char *const AUTH_NAMES[] = {
    "Default", "Basic",  "Negotiate", "NegotiateWithImplicitCredential",
    "Credssp", "Digest", "Kerberos"};
static const etsn_auth_kind AUTH_KINDS[] = {
    ETSN_AUTH_DEFAULT, ETSN_AUTH_BASIC,  ETSN_AUTH_NEGOTIATE, ETSN_AUTH_NEGOTIATE_IMPLICIT,
    ETSN_AUTH_CREDSSP, ETSN_AUTH_DIGEST, ETSN_AUTH_KERBEROS};
static const char *const ACTION_NAMES[] = {"SilentlyContinue", "Stop",    "Continue", "Inquire",
                                           "Ignore",           "Suspend", "Break"};

/* ---- errors ------------------------------------------------------------- */

static int fail(etsn_error *err, const char *id, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(etsn_error *err, const char *id, const char *category, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    snprintf(err->fqid, sizeof err->fqid, "%s%s", id, FQ);
    snprintf(err->category, sizeof err->category, "%s", category);
    return -1;
}

static int oom(etsn_error *err)
{
    return fail(err, "OutOfMemory", "ResourceUnavailable", "Out of memory.");
}

/* ---- tokens -------------------------------------------------------------- */

typedef struct {
    const char *raw;  /* the argv element */
    const char *name; /* parameter name as typed (no dash), NULL: positional */
    size_t name_len;
    const char *value; /* argument text, NULL if none yet */
    bool colon;        /* -Name:value form */
    bool numeric;      /* positional token PowerShell would parse as an Int32 */
    int32_t ival;
    int param;         /* resolved parameter, -1 if unknown */
    bool switch_only;  /* a switch given without a value */
    const char *shown; /* name used in messages about this argument */
    char shown_buf[64];
    bool consumed; /* taken as another parameter's value */
} token;

/* PowerShell's dashes: '-', en dash, em dash, horizontal bar (CharExtensions.IsDash). */
static size_t dash_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] == '-') return 1;
    if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0x93 || u[2] == 0x94 || u[2] == 0x95)) return 3;
    return 0;
}

/* A PowerShell number literal in command mode that fits Int32 ([+-]digits or
 * 0x hex): such a token binds positionally to an Int32 parameter before any
 * string parameter, as `Enter-PSSession 5` does (-Id 5). */
static bool int_literal(const char *s, int32_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = (*p++ == '-');
    if (!*p) return false;
    errno = 0;
    char *end;
    long long v;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        if (!isxdigit((unsigned char)p[2])) return false;
        unsigned long long u = strtoull(p + 2, &end, 16);
        if (*end || errno || u > 0xFFFFFFFFull) return false;
        v = (long long)(int32_t)(uint32_t)u; /* PowerShell hex Int32 literals wrap */
    } else {
        for (const char *q = p; *q; q++)
            if (!isdigit((unsigned char)*q)) return false;
        v = strtoll(p, &end, 10);
        if (errno) return false;
    }
    if (neg) v = -v;
    if (v < INT32_MIN || v > INT32_MAX) return false;
    *out = (int32_t)v;
    return true;
}

/* ---- name resolution (MergedCommandParameterMetadata.GetMatchingParameter) */

static bool prefix_ci(const char *full, const char *name, size_t len)
{
    return strlen(full) >= len && strncasecmp(full, name, len) == 0;
}

/* Returns the parameter index, -1 if none, -2 after an ambiguity error. */
static int resolve(const char *name, size_t len, etsn_error *err)
{
    int matches[P_COUNT];
    int n = 0;
    if (len == 0) return -1;
    for (int i = 0; i < P_COUNT; i++) {
        if (!prefix_ci(PARAMS[i].name, name, len)) continue;
        if (strlen(PARAMS[i].name) == len) return i; /* exact match wins */
        matches[n++] = i;
    }
    for (int i = 0; i < P_COUNT; i++) {
        for (int a = 0; a < 2 && PARAMS[i].alias[a]; a++) {
            if (!prefix_ci(PARAMS[i].alias[a], name, len)) continue;
            if (strlen(PARAMS[i].alias[a]) == len) return i;
            bool seen = false;
            for (int k = 0; k < n; k++) seen |= matches[k] == i;
            if (!seen) matches[n++] = i;
        }
    }
    if (n == 1) return matches[0];
    if (n == 0) return -1;
    /* Prefer the cmdlet's own parameters over common parameters. */
    int own = -1, owncount = 0;
    for (int k = 0; k < n; k++)
        if (!PARAMS[matches[k]].common) own = matches[k], owncount++;
    if (owncount == 1) return own;
    char list[1024] = "";
    size_t used = 0;
    for (int k = 0; k < n; k++) {
        int w = snprintf(list + used, sizeof list - used, " -%s", PARAMS[matches[k]].name);
        if (w > 0 && (size_t)w < sizeof list - used) used += (size_t)w;
    }
    fail(err, "AmbiguousParameter", "InvalidArgument",
         "Parameter cannot be processed because the parameter name '%.*s' is ambiguous. "
         "Possible matches include:%s.",
         (int)len, name, list);
    return -2;
}

/* ---- conversions (LanguagePrimitives) ----------------------------------- */

typedef struct {
    int32_t i;
    bool b;
    uint8_t guid[16];
    int auth;
} value;

static int convert_fail(etsn_error *err, const char *pname, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* CannotConvertArgumentNoMessage: "Cannot bind parameter '{1}'. {6}". */
static int convert_fail(etsn_error *err, const char *pname, const char *fmt, ...)
{
    char inner[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(inner, sizeof inner, fmt, ap);
    va_end(ap);
    return fail(err, "CannotConvertArgumentNoMessage", "InvalidArgument",
                "Cannot bind parameter '%s'. %s", pname, inner);
}

static const char *skip_ws(const char *s)
{
    while (isspace((unsigned char)*s)) s++;
    return s;
}

/* Round half to even, as Convert.ToInt32(double) does. */
static bool double_to_int32(double d, int32_t *out)
{
    if (!isfinite(d)) return false;
    double r = nearbyint(d); /* default rounding mode is to-nearest-even */
    if (r < (double)INT32_MIN || r > (double)INT32_MAX) return false;
    *out = (int32_t)r;
    return true;
}

/* String to Int32 as ConvertStringToInteger does: "" is 0, PowerShell number
 * syntax (hex, kb/mb/gb/tb/pb multipliers, decimals rounded), else the .NET
 * FormatException/OverflowException text. */
static int to_int32(const char *text, const char *pname, int32_t *out, etsn_error *err)
{
    if (!*text) {
        *out = 0;
        return 0;
    }
    const char *s = skip_ws(text);
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char buf[256];
    if (n == 0 || n >= sizeof buf) goto bad_format;
    memcpy(buf, s, n);
    buf[n] = 0;
    double mult = 1;
    static const char *const suf[] = {"kb", "mb", "gb", "tb", "pb"};
    for (int k = 0; k < 5; k++) {
        if (n > 2 && strcasecmp(buf + n - 2, suf[k]) == 0) {
            mult = ldexp(1.0, 10 * (k + 1));
            buf[n - 2] = 0;
            break;
        }
    }
    char *end;
    int32_t v;
    if (int_literal(buf, &v) && mult == 1) {
        *out = v;
        return 0;
    }
    /* Digits only but too large: Int32.Parse's OverflowException. */
    {
        const char *p = buf;
        if (*p == '+' || *p == '-') p++;
        bool digits = *p != 0;
        for (const char *q = p; *q; q++) digits &= isdigit((unsigned char)*q) != 0;
        if (digits && mult == 1)
            return convert_fail(err, pname,
                                "Cannot convert value \"%s\" to type \"System.Int32\". Error: "
                                "\"Value was either too large or too small for an Int32.\"",
                                text);
    }
    if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
        errno = 0;
        unsigned long long u = strtoull(buf + 2, &end, 16);
        if (!*end && !errno && end != buf + 2 && double_to_int32((double)u * mult, &v)) {
            *out = v;
            return 0;
        }
        goto bad_format;
    }
    if (strpbrk(buf, "0123456789") && !strpbrk(buf, "xXnN")) { /* no hex, inf, nan */
        errno = 0;
        double d = strtod(buf, &end);
        if (!*end && !errno && double_to_int32(d * mult, &v)) {
            *out = v;
            return 0;
        }
    }
bad_format:
    return convert_fail(err, pname,
                        "Cannot convert value \"%s\" to type \"System.Int32\". Error: \"The input "
                        "string '%s' was not in a correct format.\"",
                        text, text);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool hex_run(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i += 2) {
        int h = hexval(s[i]), l = hexval(s[i + 1]);
        if (h < 0 || l < 0) return false;
        out[i / 2] = (uint8_t)(h << 4 | l);
    }
    return true;
}

/* Guid.Parse (formats D, N, B, P) with .NET's failure texts. */
static const char *parse_guid(const char *text, uint8_t g[16])
{
    static const char *const inv_len =
        "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).";
    static const char *const bad_char = "Guid string should only contain hexadecimal characters.";
    const char *s = skip_ws(text);
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n < 32) return "Unrecognized Guid format.";
    char d[40];
    if (s[0] == '(' || s[0] == '{') {
        if (s[0] == '{' && s[9] != '-') return "Unrecognized Guid format."; /* X format */
        char close = s[0] == '(' ? ')' : '}';
        if (n != 38) return inv_len;
        if (s[37] != close)
            return s[0] == '{'
                       ? "Could not find the ending brace."
                       : "Could not find the ending parenthesis."; /* Format_GuidEndParen? */
        memcpy(d, s + 1, 36);
        n = 36;
    } else {
        if (n > 36) return inv_len;
        memcpy(d, s, n);
    }
    d[n] = 0;
    char hex[33];
    if (d[8] == '-') {
        if (n != 36) return inv_len;
        if (d[13] != '-' || d[18] != '-' || d[23] != '-')
            return "Dashes are in the wrong position for GUID parsing.";
        memcpy(hex, d, 8);
        memcpy(hex + 8, d + 9, 4);
        memcpy(hex + 12, d + 14, 4);
        memcpy(hex + 16, d + 19, 4);
        memcpy(hex + 20, d + 24, 12);
    } else {
        if (n != 32) return inv_len;
        memcpy(hex, d, 32);
    }
    if (!hex_run(hex, 32, g)) return bad_char;
    return NULL;
}

static void guid_text(const uint8_t g[16], char out[37])
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[0],
             g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13],
             g[14], g[15]);
}

/* EnumSingleTypeConverter.BaseConvertFrom for a non-[Flags] enum. */
static int to_enum(const char *text, const char *pname, ptype t, const char *const *names,
                   int count, int *out, etsn_error *err)
{
    const char *tn = type_name(t);
    const char *s = skip_ws(text);
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n == 0)
        return convert_fail(err, pname,
                            "Cannot convert the \"%s\" value of type \"System.String\" to type "
                            "\"%s\".",
                            text, tn);
    char v[256];
    if (n >= sizeof v) n = sizeof v - 1;
    memcpy(v, s, n);
    v[n] = 0;
    char list[256] = "";
    for (int i = 0; i < count; i++) {
        strcat(list, names[i]);
        if (i + 1 < count) strcat(list, ",");
    }
    int32_t num;
    if ((isdigit((unsigned char)v[0]) || v[0] == '+' || v[0] == '-') && int_literal(v, &num) &&
        num >= 0 && num < count) {
        *out = num;
        return 0;
    }
    if (strchr(v, ','))
        return convert_fail(err, pname,
                            "Cannot convert value \"%s\" to type \"%s\" because no commas are "
                            "allowed for this enumeration.",
                            text, tn);
    bool wild = strpbrk(v, "*?[") != NULL;
    int found = -1;
    for (int j = 0; j < count; j++) {
        bool m = wild ? fnmatch(v, names[j], FNM_CASEFOLD) == 0 : strcasecmp(v, names[j]) == 0;
        if (!m) continue;
        if (found >= 0)
            /* PowerShell names the second match with the index of the input
             * entry (always 0 here), so it always says the first enum name. */
            return convert_fail(err, pname,
                                "Cannot convert value \"%s\" to type \"%s\" because at least two "
                                "matches were found (%s, %s) and only one match is allowed for "
                                "this enumeration.",
                                text, tn, names[found], names[0]);
        found = j;
    }
    if (found < 0)
        return convert_fail(err, pname,
                            "Cannot convert value \"%s\" to type \"%s\" due to enumeration values "
                            "that are not valid. Specify one of the following enumeration values "
                            "and try again. The possible enumeration values are \"%s\".",
                            v, tn, list);
    *out = found;
    return 0;
}

/* ---- the binder ---------------------------------------------------------- */

typedef struct {
    token *tok;
    int ntok;
    unsigned current; /* _currentParameterSetFlag */
    bool bound[P_COUNT];
    etsn_args *out;
    etsn_error *err;
} binder;

static char *dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ValidateSpecifiedAuthentication (PSRemotingCmdlet.cs), run by the setters of
 * Credential, CertificateThumbprint and Authentication. */
static int check_auth_pairs(binder *b, int p)
{
    etsn_args *o = b->out;
    const char *a = NULL, *c = NULL;
    if (o->has_credential && o->certificate_thumbprint)
        a = "CertificateThumbPrint", c = "Credential";
    else if (o->auth != ETSN_AUTH_DEFAULT && o->certificate_thumbprint)
        a = "CertificateThumbPrint", c = o->auth_name;
    else if (o->auth == ETSN_AUTH_NEGOTIATE_IMPLICIT && o->has_credential)
        a = "Credential", c = o->auth_name;
    if (!a) return 0;
    return fail(b->err, "ParameterBindingFailed", "WriteError",
                "Cannot bind parameter '%s' to the target. Exception setting \"%s\": \"A %s "
                "cannot be specified when %s is specified.\"",
                PARAMS[p].name, PARAMS[p].name, a, c);
}

static int set_string(char **slot, const char *v, etsn_error *err)
{
    free(*slot);
    *slot = dup(v);
    return *slot ? 0 : oom(err);
}

/* Converts, validates and stores one argument (ParameterBinderBase.BindParameter).
 * coerce=false is the binder's first positional pass: only an exact type fits,
 * and the return is 1 when the argument does not fit. */
static int bind_value(binder *b, int p, token *t, bool coerce)
{
    const pdef *d = &PARAMS[p];
    const char *v = t->value;
    etsn_args *o = b->out;
    etsn_error *err = b->err;
    value val = {0};

    if (!coerce) {
        bool fits;
        if (t->numeric)
            fits = d->type == T_INT;
        else
            fits = d->type == T_STRING || d->type == T_CRED;
        if (!fits) return 1;
    }

    switch (d->type) {
    case T_STRING:
    case T_CRED:
        break;
    case T_SWITCH:
        if (t->switch_only) {
            val.b = true;
        } else if (strcasecmp(v, "$true") == 0 || strcasecmp(v, "$false") == 0) {
            val.b = strcasecmp(v, "$true") == 0;
        } else if (int_literal(v, &val.i)) {
            val.b = val.i != 0;
        } else {
            /* CannotConvertArgument; {7} is empty, hence the trailing space. */
            return fail(err, "CannotConvertArgument", "InvalidArgument",
                        "Cannot convert 'System.String' to the type '%s' required by parameter "
                        "'%s'. ",
                        type_name(T_SWITCH), d->name);
        }
        break;
    case T_INT:
        if (t->numeric)
            val.i = t->ival;
        else if (to_int32(v, d->name, &val.i, err) < 0)
            return -1;
        break;
    case T_GUID: {
        const char *why = parse_guid(v, val.guid);
        if (why)
            return convert_fail(err, d->name,
                                "Cannot convert value \"%s\" to type \"System.Guid\". Error: "
                                "\"%s\"",
                                v, why);
        break;
    }
    case T_URI:
        break; /* checked when the endpoint is built, as WSManConnectionInfo does */
    case T_AUTH:
        if (to_enum(v, d->name, T_AUTH, AUTH_NAMES, 7, &val.auth, err) < 0) return -1;
        break;
    case T_ACTIONPREF:
        if (to_enum(v, d->name, T_ACTIONPREF, ACTION_NAMES, 7, &val.auth, err) < 0) return -1;
        break;
    case T_PSSESSION:
    case T_SESSIONOPT:
    case T_HASHTABLE:
        /* No conversion from a string exists (ExtendedTypeSystem InvalidCastException). */
        return convert_fail(err, d->name,
                            "Cannot convert the \"%s\" value of type \"%s\" to type \"%s\".", v,
                            t->numeric ? "System.Int32" : "System.String", type_name(d->type));
    }

    /* Validation attributes: [ValidateNotNullOrEmpty], [ValidateRange(1, 65535)]. */
    if ((d->validate & V_NOTEMPTY) && (d->type == T_STRING) && v[0] == 0)
        return fail(err, "ParameterArgumentValidationError", "InvalidData",
                    "Cannot validate argument on parameter '%s'. The argument is null or empty. "
                    "Provide an argument that is not null or empty, and then try the command "
                    "again.",
                    d->name);
    if (d->validate & V_PORT) {
        if (val.i < 1)
            return fail(err, "ParameterArgumentValidationError", "InvalidData",
                        "Cannot validate argument on parameter '%s'. The %d argument is less than "
                        "the minimum allowed range of 1. Supply an argument that is greater than "
                        "or equal to 1 and then try the command again.",
                        d->name, val.i);
        if (val.i > 65535)
            return fail(err, "ParameterArgumentValidationError", "InvalidData",
                        "Cannot validate argument on parameter '%s'. The %d argument is greater "
                        "than the maximum allowed range of 65535. Supply an argument that is less "
                        "than or equal to 65535 and then try the command again.",
                        d->name, val.i);
    }

    /* Store (the property setter). */
    int rc = 0;
    switch (p) {
    case P_COMPUTERNAME:
        rc = set_string(&o->computer_name, v, err);
        break;
    case P_CONNECTIONURI:
        rc = set_string(&o->connection_uri, v, err);
        break;
    case P_NAME:
        rc = set_string(&o->name, v, err);
        break;
    case P_VMNAME:
        rc = set_string(&o->vm_name, v, err);
        break;
    case P_CONTAINERID:
        rc = set_string(&o->container_id, v, err);
        break;
    case P_CONFIGURATIONNAME:
        rc = set_string(&o->configuration_name, v, err);
        break;
    case P_APPLICATIONNAME:
        rc = set_string(&o->application_name, v, err);
        break;
    case P_CERTIFICATETHUMBPRINT:
        if ((rc = set_string(&o->certificate_thumbprint, v, err)) == 0) rc = check_auth_pairs(b, p);
        break;
    case P_CREDENTIAL:
        o->has_credential = true;
        if ((rc = set_string(&o->credential_user, v, err)) == 0) rc = check_auth_pairs(b, p);
        break;
    case P_AUTHENTICATION:
        o->has_authentication = true;
        o->auth = AUTH_KINDS[val.auth];
        o->auth_name = AUTH_NAMES[val.auth];
        rc = check_auth_pairs(b, p);
        break;
    case P_INSTANCEID:
        o->has_instance_id = true;
        memcpy(o->instance_id, val.guid, 16);
        guid_text(val.guid, o->instance_id_text);
        break;
    case P_VMID:
        o->has_vm_id = true;
        memcpy(o->vm_id, val.guid, 16);
        guid_text(val.guid, o->vm_id_text);
        break;
    case P_ID:
        o->has_id = true;
        o->id = val.i;
        break;
    case P_PORT:
        o->has_port = true;
        o->port = val.i;
        break;
    case P_USESSL:
        o->use_ssl = val.b;
        break;
    case P_ALLOWREDIRECTION:
        o->allow_redirection = val.b;
        break;
    case P_ENABLENETWORKACCESS:
        o->enable_network_access = val.b;
        break;
    case P_RUNASADMINISTRATOR:
        o->run_as_administrator = val.b;
        break;
    case P_VERBOSE:
        o->verbose = val.b;
        break;
    case P_DEBUG:
        o->debug = val.b;
        break;
    default:
        break; /* SSH-only and ignored common parameters */
    }
    if (rc < 0) return -1;

    /* CmdletParameterBinderController.BindParameter narrows the valid sets. */
    b->bound[p] = true;
    if (d->sets != S_ALL) b->current &= d->sets;
    return 0;
}

static int missing_argument(binder *b, int p)
{
    return fail(b->err, "MissingArgument", "InvalidArgument",
                "Missing an argument for parameter '%s'. Specify a parameter of type '%s' and try "
                "again.",
                PARAMS[p].name, type_name(PARAMS[p].type));
}

/* ParameterBinderController.ReparseUnboundArguments: pair "-Name value". */
static int reparse(binder *b)
{
    for (int i = 0; i < b->ntok; i++) {
        token *t = &b->tok[i];
        if (t->consumed || !t->name || t->colon) continue;
        int p = resolve(t->name, t->name_len, b->err);
        if (p == -2) return -1;
        if (p < 0) continue;
        t->param = p;
        /* A reparsed argument carries the parameter's full name from now on. */
        t->shown = PARAMS[p].name;
        if (PARAMS[p].type == T_SWITCH) {
            t->switch_only = true;
            continue;
        }
        if (i + 1 >= b->ntok) return missing_argument(b, p);
        token *next = &b->tok[i + 1];
        if (next->name) {
            int q = resolve(next->name, next->name_len, b->err);
            if (q == -2) return -1;
            if (q >= 0 || next->colon) return missing_argument(b, p);
            t->value = next->raw; /* "-Unknown" becomes the value, as typed */
        } else {
            t->value = next->raw;
            t->numeric = next->numeric;
            t->ival = next->ival;
        }
        next->consumed = true;
        i++;
    }
    return 0;
}

/* ParameterBinderController.BindNamedParameters. */
static int bind_named(binder *b)
{
    for (int i = 0; i < b->ntok; i++) {
        token *t = &b->tok[i];
        if (t->consumed || !t->name) continue;
        int p = t->param;
        if (p < 0) {
            p = resolve(t->name, t->name_len, b->err);
            if (p == -2) return -1;
            if (p < 0) continue; /* reported later as NamedParameterNotFound */
            t->param = p;
        }
        if (!t->value && !t->switch_only) {
            /* "-Name:" at the very end. */
            return missing_argument(b, p);
        }
        if (b->bound[p])
            return fail(b->err, "ParameterAlreadyBound", "InvalidArgument",
                        "Cannot bind parameter because parameter '%s' is specified more than "
                        "once. To provide multiple values to parameters that can accept multiple "
                        "values, use the array syntax. For example, \"-parameter "
                        "value1,value2,value3\".",
                        t->shown);
        if (bind_value(b, p, t, true) < 0) return -1;
        t->consumed = true;
    }
    return 0;
}

static unsigned popcount(unsigned v)
{
    unsigned n = 0;
    for (; v; v &= v - 1) n++;
    return n;
}

/* Tries the parameters at one position, in metadata order, limited to sets. */
static int bind_at_position(binder *b, int pos, unsigned sets, token *arg, bool coerce,
                            etsn_error *first_err, bool *have_err)
{
    for (int p = 0; p < P_COUNT; p++) {
        const pdef *d = &PARAMS[p];
        if (b->bound[p] || d->pos != pos || !(d->pos_sets & sets & b->current)) continue;
        etsn_error e;
        etsn_error_clear(&e);
        binder tmp = *b;
        tmp.err = &e;
        int rc = bind_value(&tmp, p, arg, coerce);
        if (rc == 0) {
            memcpy(b->bound, tmp.bound, sizeof b->bound);
            b->current = tmp.current;
            return 1;
        }
        if (rc < 0) {
            if (!*have_err) *first_err = e, *have_err = true;
            if (strcmp(e.fqid, "OutOfMemory" FQ) == 0) {
                *b->err = e;
                return -1;
            }
        }
    }
    return 0;
}

/* ParameterBinderController.BindPositionalParameters. */
static int bind_positional(binder *b, int *unbound_index, etsn_error *pos_err, bool *have_pos_err)
{
    int next = 0;
    for (int pos = 0; pos <= 1; pos++) {
        bool any = false;
        for (int p = 0; p < P_COUNT; p++)
            any |= !b->bound[p] && PARAMS[p].pos == pos && (PARAMS[p].pos_sets & b->current);
        if (!any) continue;
        while (next < b->ntok && (b->tok[next].consumed || b->tok[next].name)) next++;
        if (next >= b->ntok) break;
        token *arg = &b->tok[next];
        arg->value = arg->raw;
        int r = 0;
        bool dflt = (b->current & S_CN) != 0;
        if (dflt) r = bind_at_position(b, pos, S_CN, arg, false, pos_err, have_pos_err);
        if (r == 0) r = bind_at_position(b, pos, S_ALL, arg, false, pos_err, have_pos_err);
        if (r == 0 && dflt) r = bind_at_position(b, pos, S_CN, arg, true, pos_err, have_pos_err);
        if (r == 0) r = bind_at_position(b, pos, S_ALL, arg, true, pos_err, have_pos_err);
        if (r < 0) return -1;
        if (r > 0)
            arg->consumed = true;
        else if (*unbound_index < 0)
            *unbound_index = next;
        next++;
    }
    return 0;
}

/* ---- endpoint ------------------------------------------------------------ */

static const char SHELL_PREFIX[] = "http://schemas.microsoft.com/powershell/";

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return true;
    return false;
}

/* WSManConnectionInfo.ResolveShellUri after PSRemotingBaseCmdlet.ResolveShell. */
static char *resolve_shell(const char *configuration)
{
    const char *shell = configuration;
    if (!shell || !*shell) shell = getenv("ETSN_SESSION_CONFIGURATION_NAME");
    if (!shell || !*shell) shell = "Microsoft.PowerShell";
    char *r = NULL;
    if (contains_ci(shell, SHELL_PREFIX)) return dup(shell);
    if (asprintf(&r, "%s%s", SHELL_PREFIX, shell) < 0) return NULL;
    return r;
}

static bool is_ipv6(const char *h)
{
    char tmp[128];
    size_t n = strcspn(h, "%"); /* IPAddress.TryParse accepts a scope id */
    if (n >= sizeof tmp || !strchr(h, ':')) return false;
    memcpy(tmp, h, n);
    tmp[n] = 0;
    struct in6_addr a;
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

static int bad_host(etsn_error *err)
{
    /* An uncaught UriFormatException from UriBuilder in ProcessRecord. */
    return fail(err, "System.UriFormatException", "NotSpecified",
                "Invalid URI: The hostname could not be parsed.");
}

static bool host_chars_ok(const char *h)
{
    if (!*h) return false;
    for (const unsigned char *p = (const unsigned char *)h; *p; p++)
        if (*p <= ' ' || strchr("/\\?#@[]:<>\"%^`{|}", *p)) return false;
    return true;
}

static int build_computer_name(etsn_args *o, etsn_error *err)
{
    /* WSManConnectionInfo.ConstructUri */
    const char *cn = o->computer_name;
    char *host;
    if (strcmp(cn, ".") == 0) {
        host = strdup("localhost");
    } else {
        const char *s = skip_ws(cn);
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1])) n--;
        host = strndup(s, n);
    }
    if (!host) return oom(err);
    bool bracketed = host[0] == '[';
    char *bare = bracketed ? strndup(host + 1, strlen(host) > 1 ? strlen(host) - 2 : 0) : dup(host);
    if (!bare) {
        free(host);
        return oom(err);
    }
    bool v6 = is_ipv6(bare);
    if ((bracketed && (!v6 || host[strlen(host) - 1] != ']')) || (!v6 && !host_chars_ok(bare))) {
        free(host);
        free(bare);
        return bad_host(err);
    }
    if (v6 && !bracketed) {
        char *b = NULL;
        if (asprintf(&b, "[%s]", host) < 0) b = NULL;
        free(host);
        host = b;
        if (!host) {
            free(bare);
            return oom(err);
        }
    }
    o->display_name = host;
    o->host = bare;
    o->scheme = strdup(o->use_ssl ? "https" : "http");
    /* Port 0 (not given) means WinRM's default ports 5985/5986. */
    o->endpoint_port = o->has_port ? o->port : (o->use_ssl ? 5986 : 5985);
    /* PSRemotingBaseCmdlet.ResolveAppName; UriBuilder adds the leading '/'. */
    const char *app = o->application_name;
    if (!app || !*app) app = getenv("ETSN_SESSION_APPLICATION_NAME");
    if (!app || !*app) app = "WSMan";
    if (asprintf(&o->url_path, "%s%s", app[0] == '/' ? "" : "/", app) < 0) o->url_path = NULL;
    if (!o->scheme || !o->url_path) return oom(err);
    if (asprintf(&o->endpoint_url, "%s://%s:%d%s", o->scheme, o->display_name, o->endpoint_port,
                 o->url_path) < 0) {
        o->endpoint_url = NULL;
        return oom(err);
    }
    return 0;
}

static int uri_fail(etsn_error *err, const char *fmt, const char *arg)
{
    /* WriteErrorCreateRemoteRunspaceFailed: FQID CreateRemoteRunspaceFailed. */
    return fail(err, "CreateRemoteRunspaceFailed", "InvalidArgument", fmt, arg);
}

static int build_connection_uri(etsn_args *o, etsn_error *err)
{
    const char *u = skip_ws(o->connection_uri);
    size_t ulen = strlen(u);
    while (ulen && isspace((unsigned char)u[ulen - 1])) ulen--;
    char *s = strndup(u, ulen);
    if (!s) return oom(err);
    int rc = -1;
    /* Scheme, as System.Uri finds one; "/x" is an absolute file URI on Unix. */
    size_t sl = 0;
    if (isalpha((unsigned char)s[0])) {
        sl = 1;
        while (isalnum((unsigned char)s[sl]) || (s[sl] && strchr("+-.", s[sl]))) sl++;
        if (s[sl] != ':') sl = 0;
    }
    if (sl == 0 && s[0] != '/') {
        rc = fail(err, "CreateRemoteRunspaceFailed", "InvalidArgument", "%s",
                  "Relative URIs are not supported in the creation of remote sessions.");
        goto out;
    }
    char scheme[64];
    if (sl == 0) {
        strcpy(scheme, "file");
    } else {
        size_t n = sl < sizeof scheme ? sl : sizeof scheme - 1;
        for (size_t i = 0; i < n; i++) scheme[i] = (char)tolower((unsigned char)s[i]);
        scheme[n] = 0;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        rc = uri_fail(err,
                      "%s is not a valid schema value. Valid values are \"http\" and \"https\".",
                      scheme);
        goto out;
    }
    const char *p = s + sl + 1;
    if (strncmp(p, "//", 2) != 0) {
        rc = convert_fail(
            err, "ConnectionUri",
            "Cannot convert value \"%s\" to type \"System.Uri\". Error: \"Invalid URI: "
            "The hostname could not be parsed.\"",
            o->connection_uri);
        goto out;
    }
    p += 2;
    size_t alen = strcspn(p, "/?#");
    char *auth = strndup(p, alen);
    if (!auth) {
        rc = oom(err);
        goto out;
    }
    const char *rest = p + alen;
    char *hp = strrchr(auth, '@');
    hp = hp ? hp + 1 : auth; /* user info is not used for the connection */
    char *portstr = NULL;
    char host[512];
    if (hp[0] == '[') {
        char *close = strchr(hp, ']');
        if (!close) goto bad_hostname;
        size_t hl = (size_t)(close - hp + 1);
        if (hl >= sizeof host) goto bad_hostname;
        memcpy(host, hp, hl);
        host[hl] = 0;
        host[hl - 1] = 0;
        if (!is_ipv6(host + 1)) goto bad_hostname;
        host[hl - 1] = ']';
        if (close[1] == ':')
            portstr = close + 2;
        else if (close[1])
            goto bad_hostname;
    } else {
        char *colon = strchr(hp, ':');
        size_t hl = colon ? (size_t)(colon - hp) : strlen(hp);
        if (hl >= sizeof host) goto bad_hostname;
        memcpy(host, hp, hl);
        host[hl] = 0;
        if (colon) portstr = colon + 1;
        if (!host_chars_ok(host)) goto bad_hostname;
    }
    /* System.Uri lower-cases the host; PowerShell shows Uri.Host in the prompt. */
    for (char *c = host; *c; c++) *c = (char)tolower((unsigned char)*c);
    int port = strcmp(scheme, "https") == 0 ? 443 : 80;
    if (portstr && *portstr) {
        char *end;
        errno = 0;
        long v = strtol(portstr, &end, 10);
        if (*end || errno || v < 0 || v > 65535 || !isdigit((unsigned char)portstr[0])) {
            free(auth);
            rc = convert_fail(err, "ConnectionUri",
                              "Cannot convert value \"%s\" to type \"System.Uri\". Error: "
                              "\"Invalid URI: Invalid port specified.\"",
                              o->connection_uri);
            goto out;
        }
        port = (int)v;
    }
    free(auth);
    o->scheme = strdup(scheme);
    o->display_name = strdup(host);
    o->host = host[0] == '[' ? strndup(host + 1, strlen(host) - 2) : strdup(host);
    o->endpoint_port = port;
    /* WSManConnectionInfo.UpdateUri: a bare "/" path means the default
     * application "/wsman"; anything else is used as given. */
    if (*rest == 0 || strcmp(rest, "/") == 0)
        o->url_path = strdup("/wsman");
    else
        o->url_path = strndup(rest, strcspn(rest, "#"));
    if (!o->scheme || !o->display_name || !o->host || !o->url_path) {
        rc = oom(err);
        goto out;
    }
    if (o->url_path[0] != '/') {
        char *fixed = NULL;
        if (asprintf(&fixed, "/%s", o->url_path) < 0) {
            rc = oom(err);
            goto out;
        }
        free(o->url_path);
        o->url_path = fixed;
    }
    if (asprintf(&o->endpoint_url, "%s://%s:%d%s", o->scheme, o->display_name, port, o->url_path) <
        0) {
        o->endpoint_url = NULL;
        rc = oom(err);
        goto out;
    }
    rc = 0;
    goto out;
bad_hostname:
    free(auth);
    rc = convert_fail(err, "ConnectionUri",
                      "Cannot convert value \"%s\" to type \"System.Uri\". Error: \"Invalid URI: "
                      "The hostname could not be parsed.\"",
                      o->connection_uri);
out:
    free(s);
    return rc;
}

/* ---- entry points -------------------------------------------------------- */

static int finish(binder *b)
{
    etsn_args *o = b->out;
    etsn_error *err = b->err;
    unsigned cur = b->current;

    /* ValidateParameterSets(false, setDefault: true). */
    if (cur == 0)
        return fail(err, "AmbiguousParameterSet", "InvalidArgument",
                    "Parameter set cannot be resolved using the specified named parameters. One or "
                    "more parameters issued cannot be used together or an insufficient number of "
                    "parameters were provided.");
    if (popcount(cur) > 1) {
        if (cur & S_CN) {
            cur = S_CN;
        } else {
            /* ResolveParameterSetAmbiguityBasedOnMandatoryParameters */
            unsigned rem = cur;
            for (int p = 0; p < P_COUNT; p++)
                if (!b->bound[p]) rem &= ~PARAMS[p].mandatory;
            if (popcount(rem) != 1)
                return fail(err, "AmbiguousParameterSet", "InvalidArgument",
                            "Parameter set cannot be resolved using the specified named "
                            "parameters. One or more parameters issued cannot be used together "
                            "or an insufficient number of parameters were provided.");
            cur = rem;
        }
    }
    int set = __builtin_ctz(cur);
    o->set = (etsn_param_set)set;
    o->set_name = SET_NAMES[set];

    /* Mandatory parameters. pwsh prompts for them ("Supply values for the
     * following parameters:"); etsn behaves as pwsh -NonInteractive. */
    char missing[512] = "";
    for (int p = 0; p < P_COUNT; p++) {
        if (b->bound[p] || !(PARAMS[p].mandatory & cur)) continue;
        strcat(missing, " ");
        strcat(missing, PARAMS[p].name);
    }
    if (missing[0])
        return fail(err, "MissingMandatoryParameter", "InvalidArgument",
                    "Cannot process command because of one or more missing mandatory "
                    "parameters:%s.",
                    missing);

    switch (o->set) {
    case ETSN_PSET_COMPUTER_NAME:
    case ETSN_PSET_URI:
        o->resource_uri = resolve_shell(o->configuration_name);
        if (!o->resource_uri) return oom(err);
        if (o->set == ETSN_PSET_URI) {
            if (!o->connection_uri) {
                /* WSManConnectionInfo.ConnectionUri's setter:
                 * PSTraceSource.NewArgumentNullException("value"). */
                return fail(err, "CreateRemoteRunspaceFailed", "InvalidArgument",
                            "Cannot process argument because the value of argument \"value\" is "
                            "null. Change the value of argument \"value\" to a non-null value.");
            }
            return build_connection_uri(o, err);
        }
        return build_computer_name(o, err);
    case ETSN_PSET_VM_ID:
    case ETSN_PSET_VM_NAME:
    case ETSN_PSET_CONTAINER_ID:
        o->vm_configuration_name = dup(o->configuration_name ? o->configuration_name : "");
        o->display_name = dup(o->set == ETSN_PSET_VM_ID     ? o->vm_id_text
                              : o->set == ETSN_PSET_VM_NAME ? o->vm_name
                                                            : o->container_id);
        if (!o->vm_configuration_name || !o->display_name) return oom(err);
        return 0;
    case ETSN_PSET_SSH_HOST:
        return fail(err, "SSHTransportNotSupported", "NotImplemented",
                    "etsn does not support the SSH transport (-HostName); use -ComputerName or "
                    "-ConnectionUri.");
    default:
        return 0;
    }
}

int etsn_args_parse(int argc, char **argv, etsn_args *out, etsn_error *err)
{
    memset(out, 0, sizeof *out);
    etsn_error_clear(err);
    out->set = ETSN_PSET_COMPUTER_NAME;
    out->set_name = SET_NAMES[0];
    out->auth = ETSN_AUTH_DEFAULT;
    out->auth_name = AUTH_NAMES[0];

    /* etsn's own GNU options, before "--" only. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0) out->show_help = true;
        if (strcmp(argv[i], "--version") == 0) out->show_version = true;
    }
    if (out->show_help || out->show_version) return 0;

    binder b = {0};
    b.out = out;
    b.err = err;
    b.current = S_ALL;
    b.tok = calloc(argc > 0 ? (size_t)argc : 1, sizeof *b.tok);
    if (!b.tok) return oom(err);
    bool end_of_params = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!end_of_params && strcmp(a, "--") == 0) {
            end_of_params = true; /* PowerShell's end-of-parameters token */
            continue;
        }
        token *t = &b.tok[b.ntok++];
        t->raw = a;
        t->param = -1;
        size_t dl = end_of_params ? 0 : dash_len(a);
        /* A parameter token: a dash then a name that does not start like a
         * number; "-5" and "-" stay arguments. */
        if (dl && a[dl] && a[dl] != ':' && !isdigit((unsigned char)a[dl]) && a[dl] != '.') {
            t->name = a + dl;
            const char *colon = strchr(t->name, ':');
            t->name_len = colon ? (size_t)(colon - t->name) : strlen(t->name);
            snprintf(t->shown_buf, sizeof t->shown_buf, "%.*s", (int)t->name_len, t->name);
            t->shown = t->shown_buf;
            if (colon) {
                t->colon = true;
                if (colon[1]) {
                    t->value = colon + 1;
                } else if (i + 1 < argc) {
                    t->value = argv[++i]; /* "-Name: value" */
                }
            }
        } else {
            t->numeric = int_literal(a, &t->ival);
            t->value = a;
        }
    }

    int rc = -1;
    int unbound = -1;
    etsn_error pos_err;
    bool have_pos_err = false;
    if (reparse(&b) < 0 || bind_named(&b) < 0) goto out;
    if (bind_positional(&b, &unbound, &pos_err, &have_pos_err) < 0) goto out;

    /* ValidateParameterSets(true, false): only "no set left" is fatal here. */
    if (b.current == 0) {
        fail(err, "AmbiguousParameterSet", "InvalidArgument",
             "Parameter set cannot be resolved using the specified named parameters. One or more "
             "parameters issued cannot be used together or an insufficient number of parameters "
             "were provided.");
        goto out;
    }

    /* VerifyArgumentsProcessed: the first argument nothing took. */
    for (int i = 0; i < b.ntok; i++) {
        token *t = &b.tok[i];
        if (t->consumed) continue;
        if (t->name) {
            fail(err, "NamedParameterNotFound", "InvalidArgument",
                 "A parameter cannot be found that matches parameter name '%s'.", t->shown);
        } else if (have_pos_err && i == unbound) {
            *err = pos_err;
        } else {
            fail(err, "PositionalParameterNotFound", "InvalidArgument",
                 "A positional parameter cannot be found that accepts argument '%s'.", t->raw);
        }
        goto out;
    }

    rc = finish(&b);
out:
    free(b.tok);
    return rc;
}

void etsn_args_free(etsn_args *a)
{
    if (!a) return;
    char **strs[] = {&a->computer_name,
                     &a->connection_uri,
                     &a->name,
                     &a->vm_name,
                     &a->container_id,
                     &a->credential_user,
                     &a->configuration_name,
                     &a->application_name,
                     &a->certificate_thumbprint,
                     &a->resource_uri,
                     &a->endpoint_url,
                     &a->scheme,
                     &a->host,
                     &a->url_path,
                     &a->display_name,
                     &a->vm_configuration_name};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

int etsn_args_format_error_color(const etsn_error *err, const char *command_name, bool color,
                                 etsn_buf *out)
{
    /* ConciseView, single-line invocation: "${errorColor}${reason}: ${message}${resetcolor}",
     * reason = the command's name (PowerShellCore_format_ps1xml.cs). */
    const char *cmd = command_name ? command_name : "Enter-PSSession";
    return etsn_buf_printf(out, "%s%s: %s%s\n", color ? "\x1b[31;1m" : "", cmd, err->message,
                           color ? "\x1b[0m" : "");
}

int etsn_args_format_error(const etsn_error *err, const char *command_name, etsn_buf *out)
{
    return etsn_args_format_error_color(err, command_name, false, out);
}

const char *etsn_args_usage(void)
{
    return "Usage: etsn [-ComputerName] <String> [-Credential <user>] [-Port <Int32>] [-UseSSL]\n"
           "            [-ApplicationName <String>] [-ConfigurationName <String>]\n"
           "            [-Authentication <AuthenticationMechanism>] [-CertificateThumbprint "
           "<String>]\n"
           "            [-EnableNetworkAccess]\n"
           "       etsn [[-ConnectionUri] <Uri>] [-Credential <user>] [-ConfigurationName "
           "<String>]\n"
           "            [-AllowRedirection] [-Authentication <AuthenticationMechanism>]\n"
           "       etsn [-InstanceId <Guid>] | [[-Id] <Int32>] | [-Name <String>]\n"
           "       etsn [-VMId] <Guid> -Credential <user> [-ConfigurationName <String>]\n"
           "       etsn [-VMName] <String> -Credential <user> [-ConfigurationName <String>]\n"
           "       etsn [-ContainerId] <String> [-ConfigurationName <String>] "
           "[-RunAsAdministrator]\n"
           "       etsn --help | --version\n"
           "Parameters follow PowerShell's Enter-PSSession; see docs/cli.md.\n";
}
