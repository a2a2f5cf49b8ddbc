/* The interactive host: what PowerShell's console (ConsoleHostUserInterface*.cs)
 * does for each host call a server sends, with the client-side security
 * additions of RemoteHostCall.PerformSecurityChecksOnHostMessage
 * (common/WireDataFormat/RemoteHost.cs). Results are built in the shapes
 * RemoteHostEncoder produces (int, Hashtable, ArrayList, PSCredential,
 * field-bag objects). Texts are PowerShell's resources, cited where used. */
#include "host_ui.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "../core/message.h"
#include "../core/psrp_msgs.h"
#include "console.h"

/* ---- parameters ---- */

static const etsn_value *param(const etsn_value *params, size_t i)
{
    return params && i < params->n_items ? params->items[i] : NULL;
}

/* A string parameter; NULL for <Nil/> or a missing one. */
static const char *pstr(const etsn_value *params, size_t i)
{
    const etsn_value *v = param(params, i);
    return v && v->kind != ETSN_V_NIL ? etsn_v_as_str(v) : NULL;
}

static int64_t pint(const etsn_value *params, size_t i, int64_t def)
{
    int64_t n;
    const etsn_value *v = param(params, i);
    return v && etsn_v_as_i64(v, &n) ? n : def;
}

/* Field-bag objects (FieldDescription, ChoiceDescription, Coordinates, ...)
 * carry .NET's private field names ("label", "x"); other writers capitalize
 * them. Either is accepted. */
static const etsn_value *prop(const etsn_value *o, const char *name)
{
    if (!o) return NULL;
    const etsn_value *v = etsn_v_get(o, name);
    if (v) return v;
    for (size_t i = 0; i < o->n_members; i++)
        if (o->members[i]->name && strcasecmp(o->members[i]->name, name) == 0) return o->members[i];
    for (size_t i = 0; i < o->n_props; i++)
        if (o->props[i]->name && strcasecmp(o->props[i]->name, name) == 0) return o->props[i];
    return NULL;
}

static const char *prop_str(const etsn_value *o, const char *name)
{
    const etsn_value *v = prop(o, name);
    return v && v->kind != ETSN_V_NIL ? etsn_v_as_str(v) : NULL;
}

static int64_t prop_int(const etsn_value *o, const char *name, int64_t def)
{
    int64_t n;
    const etsn_value *v = prop(o, name);
    return v && etsn_v_as_i64(v, &n) ? n : def;
}

static bool empty(const char *s)
{
    return !s || !*s;
}

/* ---- errors ---- */

static etsn_value *error_value(const char *message, const char *exception_type, const char *fqid,
                               int category, const char *category_name, int method)
{
    etsn_error_record rec = {
        .message = message,
        .exception_type = exception_type,
        .fqid = fqid,
        .category = category,
        .category_name = category_name,
        .activity = method ? etsn_host_method_name(method) : NULL,
    };
    return etsn_msg_error_record(&rec, NULL);
}

/* Ctrl+C in ReadLineSafe / ReadKey: PipelineStoppedException
 * (utils/ExecutionExceptions.cs; GetErrorText.resx PipelineStoppedException). */
static etsn_value *stopped_error(etsn_host_ui *ui, int method, bool by_user)
{
    if (by_user) ui->interrupted = true;
    return error_value("The pipeline has been stopped.",
                       "System.Management.Automation.PipelineStoppedException", "PipelineStopped",
                       14, "OperationStopped", method);
}

/* PromptForChoice ended by a break (ConsoleHostUserInterfaceStrings
 * PromptCanceledError, FQID PromptForChoiceCanceled). */
static etsn_value *choice_canceled(int method)
{
    return error_value("The prompt was canceled.",
                       "System.Management.Automation.Host.PromptingException",
                       "PromptForChoiceCanceled", 14, "OperationStopped", method);
}

/* An argument the console rejects; a .NET exception without an error
 * record travels as RemoteHostExecutionException (RemoteHostEncoder
 * EncodeException). */
static etsn_value *argument_error(const char *message, int method)
{
    return error_value(message, "System.ArgumentException", "RemoteHostExecutionException", 0,
                       "NotSpecified", method);
}

etsn_value *etsn_host_ui_not_implemented(int method)
{
    /* HostInterfaceExceptionsStrings.HostFunctionNotImplemented. */
    return error_value(
        "A command that prompts the user failed because the host program or the command type "
        "does not support user interaction. Try a host program that supports user interaction, "
        "such as the PowerShell Console, and remove prompt-related commands from command types "
        "that do not support user interaction.",
        "System.Management.Automation.Host.HostException", "HostFunctionNotImplemented", 11,
        "NotImplemented", method);
}

/* ---- init / finish ---- */

void etsn_host_ui_init(etsn_host_ui *ui, FILE *out, FILE *err, int in_fd, const char *computer_name)
{
    ui->out = out;
    ui->err = err;
    ui->in_fd = in_fd;
    ui->computer_name = computer_name;
    ui->pop_requested = ui->exit_requested = ui->interrupted = false;
    ui->exit_code = 0;
    ui->priv = NULL;
    ui->terminal = isatty(in_fd) && out && isatty(fileno(out));
    /* ConsoleHostUserInterface's constructor: TERM=dumb means no VT at all;
     * xterm-mono / xtermm and NO_COLOR (any value) mean plain text. */
    const char *term = getenv("TERM");
    if (term && strcmp(term, "dumb") == 0) ui->terminal = false;
    ui->color = ui->terminal && !getenv("NO_COLOR") &&
                !(term && (strcmp(term, "xterm-mono") == 0 || strcmp(term, "xtermm") == 0));
}

/* PowerShell's console shows a remote pipeline's warning, verbose and debug
 * output only as the host calls WriteWarningLine/WriteVerboseLine/
 * WriteDebugLine: ClientRemotePowerShell.cs HandleInformationalMessageReceived
 * puts a WARNING/VERBOSE/DEBUG_RECORD into the PowerShell's informational
 * buffers, which RemotePipeline.cs never writes to the host. A server with
 * the client's host sends both for each line (InternalHostUserInterface
 * WriteWarningRecord: the buffer, then the host). etsn shows a record when
 * it arrives (a server without a host sends only that), so the host call
 * that repeats the record just shown is not written again. */
static void remember_record(etsn_host_ui *ui, int kind, const char *text)
{
    etsn_console *c = etsn_console_get(ui);
    if (!c) return;
    free(c->shown_record[kind]);
    c->shown_record[kind] = text ? strdup(text) : NULL;
}

static bool repeats_record(etsn_host_ui *ui, int kind, const char *text)
{
    etsn_console *c = etsn_console_get(ui);
    if (!c || !c->shown_record[kind]) return false;
    bool same = text && strcmp(c->shown_record[kind], text) == 0;
    free(c->shown_record[kind]);
    c->shown_record[kind] = NULL;
    return same;
}

void etsn_host_ui_end_pipeline(etsn_host_ui *ui)
{
    etsn_console_reset_progress(ui);
    etsn_console *c = ui->priv;
    for (int i = 0; c && i < 3; i++) {
        free(c->shown_record[i]);
        c->shown_record[i] = NULL;
    }
}

void etsn_host_ui_finish(etsn_host_ui *ui)
{
    etsn_console_reset_progress(ui);
    etsn_console_free(ui);
}

/* ---- output helpers ---- */

static void line(etsn_host_ui *ui, const char *text)
{
    etsn_console_write(ui, ui->out, -1, -1, text, true);
}

/* ConsoleHostUserInterfacePromptForChoice.cs PromptColor: black on light
 * backgrounds, else white; DefaultPromptColor: yellow, or blue. */
static int prompt_color(etsn_host_ui *ui)
{
    etsn_console *c = etsn_console_get(ui);
    switch (c ? c->bg : ETSN_CC_BLACK) {
    case 15:
    case 11:
    case 6:
    case 14:
    case 7:
    case 10:
        return ETSN_CC_BLACK;
    default:
        return ETSN_CC_WHITE;
    }
}

static int default_prompt_color(etsn_host_ui *ui)
{
    return prompt_color(ui) == ETSN_CC_WHITE ? ETSN_CC_YELLOW : 9 /* Blue */;
}

/* Every prompt starts so: a blank line and the caption in PromptColor, then
 * the message. */
static void caption_and_message(etsn_host_ui *ui, const char *caption, const char *message)
{
    if (!empty(caption)) {
        line(ui, "");
        etsn_console_write(ui, ui->out, prompt_color(ui), -1, caption, true);
    }
    if (!empty(message)) line(ui, message);
}

/* WriteWarningLine: "WARNING: {0}" (ConsoleHostUserInterfaceStrings
 * WarningFormatString) in $PSStyle.Formatting.Warning. */
static void prefixed(etsn_host_ui *ui, const char *style, const char *prefix, const char *text)
{
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_printf(&b, "%s%s", prefix, text ? text : "");
    etsn_console_write_styled(ui, ui->out, style, (const char *)b.data, true);
    etsn_buf_free(&b);
}

static void warning(etsn_host_ui *ui, const char *text)
{
    prefixed(ui, ETSN_STYLE_WARNING, "WARNING: ", text);
}

static char *upper_computer(etsn_host_ui *ui)
{
    char *s = strdup(empty(ui->computer_name) ? "localhost" : ui->computer_name);
    for (char *p = s; p && *p; p++) *p = (char)toupper((unsigned char)*p);
    return s;
}

/* RemotingErrorIdStrings: a warning naming the remote computer (upper case)
 * before the client reads anything sensitive for it. */
static void remote_warning(etsn_host_ui *ui, const char *fmt_before, const char *fmt_after)
{
    char *name = upper_computer(ui);
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_printf(&b, "%s%s%s", fmt_before, name ? name : "", fmt_after);
    warning(ui, (const char *)b.data);
    etsn_buf_free(&b);
    free(name);
}

#define A_SCRIPT "A script or application on the remote computer "

static void warn_read_secure(etsn_host_ui *ui)
{
    /* RemoteHostReadLineAsSecureStringPrompt. */
    remote_warning(ui, A_SCRIPT,
                   " is asking to read a line securely. Enter sensitive information, such as your "
                   "credentials, only if you trust the remote computer and the application or "
                   "script that is requesting it.");
}

static void warn_prompt_secure(etsn_host_ui *ui)
{
    /* RemoteHostPromptSecureStringPrompt. */
    remote_warning(ui, A_SCRIPT,
                   " is sending a prompt request. When you are prompted, enter sensitive "
                   "information, such as credentials or passwords, only if you trust the remote "
                   "computer and the application or script that is requesting the data.");
}

/* RemoteHost.cs ModifyCaption: "PowerShell Credential Request: {0}"
 * (RemoteHostPromptForCredentialModifiedCaption) unless the caption already
 * is CredUI's default "PowerShell credential request " (with its trailing
 * blank). */
static char *modified_caption(const char *caption)
{
    if (caption && strcasecmp(caption, "PowerShell credential request ") == 0)
        return strdup(caption);
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_printf(&b, "PowerShell Credential Request: %s", caption ? caption : "");
    return etsn_buf_steal(&b);
}

/* ModifyMessage: RemoteHostPromptForCredentialModifiedMessage. */
static char *modified_message(etsn_host_ui *ui, const char *message)
{
    char *name = upper_computer(ui);
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_printf(&b,
                    "Warning: A script or application on the remote computer %s is requesting "
                    "your credentials. Enter your credentials only if you trust the remote "
                    "computer and the application or script that is requesting them.\n\n%s",
                    name ? name : "", message ? message : "");
    free(name);
    return etsn_buf_steal(&b);
}

/* ---- secure strings ---- */

/* UTF-8 to UTF-16LE into a block sized up front (never reallocated, so no
 * copy of the secret is left behind). Invalid bytes become U+FFFD. */
static int utf16le(const uint8_t *s, size_t len, etsn_buf *out)
{
    out->cap = len * 2 + 2;
    out->data = malloc(out->cap);
    out->len = 0;
    if (!out->data) return -1;
    for (size_t i = 0; i < len;) {
        uint32_t c = s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > len) {
            c = 0xfffd;
            n = 1;
        } else if (n > 1) {
            c &= 0xffu >> (n + 1);
            for (size_t k = 1; k < n; k++) {
                if ((s[i + k] & 0xc0) != 0x80) {
                    c = 0xfffd;
                    n = 1;
                    break;
                }
                c = (c << 6) | (s[i + k] & 0x3f);
            }
        }
        i += n;
        if (c >= 0x10000) {
            c -= 0x10000;
            uint16_t hi = (uint16_t)(0xd800 + (c >> 10)), lo = (uint16_t)(0xdc00 + (c & 0x3ff));
            out->data[out->len++] = (uint8_t)hi;
            out->data[out->len++] = (uint8_t)(hi >> 8);
            out->data[out->len++] = (uint8_t)lo;
            out->data[out->len++] = (uint8_t)(lo >> 8);
        } else {
            out->data[out->len++] = (uint8_t)c;
            out->data[out->len++] = (uint8_t)(c >> 8);
        }
    }
    out->data[out->len] = 0;
    return 0;
}

static void zero_free(etsn_buf *b)
{
    if (b->data) etsn_secure_zero(b->data, b->cap);
    free(b->data);
    *b = (etsn_buf)ETSN_BUF_INIT;
}

/* The <SS> value for typed text: the session encrypts it; without a
 * session hook the UTF-16LE plaintext is carried as it is. */
static etsn_value *secure_value(etsn_host_ui *ui, const etsn_buf *utf8)
{
    etsn_buf w = ETSN_BUF_INIT;
    if (utf16le(utf8->data ? utf8->data : (const uint8_t *)"", utf8->len, &w) < 0) return NULL;
    etsn_value *v = ui->make_secure_string
                        ? ui->make_secure_string(ui->secure_ctx, w.data, w.len)
                        : etsn_v_text(ETSN_V_SECURESTRING, (const char *)w.data, w.len);
    zero_free(&w);
    return v;
}

/* ReadLineAsSecureString as pwsh's console: read, '*' echo, newline. On
 * success *out is the value (*was_empty tells an empty answer, which the
 * encrypted value cannot); on Ctrl+C *error; at end of input both NULL. */
static void read_secure(etsn_host_ui *ui, int method, etsn_value **out, etsn_value **error,
                        bool *was_empty)
{
    etsn_buf text = ETSN_BUF_INIT;
    *out = NULL;
    int rc = etsn_console_read_secret(ui, &text);
    if (was_empty) *was_empty = text.len == 0;
    if (rc == ETSN_READ_OK) {
        *out = secure_value(ui, &text);
        if (!*out) *error = stopped_error(ui, method, false);
    } else if (rc == ETSN_READ_INTERRUPTED) {
        *error = stopped_error(ui, method, true);
    } else if (rc == ETSN_READ_ERROR) {
        *error = stopped_error(ui, method, false);
    }
    zero_free(&text);
}

/* ---- PromptForCredential (ConsoleHostUserInterfaceSecurity.cs) ---- */

static etsn_value *credential_value(const char *user, etsn_value *password)
{
    etsn_value *v = etsn_v_obj();
    if (!v || etsn_obj_add_type(v, "System.Management.Automation.PSCredential") < 0 ||
        etsn_obj_add_type(v, "System.Object") < 0 ||
        etsn_obj_add_prop(v, "UserName", etsn_v_string(user)) < 0 ||
        etsn_obj_add_prop(v, "Password", password) < 0) {
        etsn_v_free(v);
        return NULL;
    }
    return v;
}

/* *cred stays NULL when the user ends input (pwsh returns null). */
static void credential_prompt(etsn_host_ui *ui, int method, const char *caption,
                              const char *message, const char *user_name, const char *target,
                              etsn_value **cred, etsn_value **error)
{
    *cred = NULL;
    caption_and_message(ui, caption, message);
    char *user = NULL;
    if (empty(user_name)) {
        /* ConsoleHostUserInterfaceSecurityResources PromptForCredential_User. */
        do {
            free(user);
            user = etsn_console_read_line(ui, "User: ");
            if (!user) return;
        } while (!*user);
    } else {
        user = strdup(user_name);
        if (!user) return;
    }
    /* PromptForCredential_Password: "Password for user {0}: ". */
    etsn_buf prompt = ETSN_BUF_INIT;
    etsn_buf_printf(&prompt, "Password for user %s: ", user);
    etsn_console_write(ui, ui->out, -1, -1, (const char *)prompt.data, false);
    etsn_buf_free(&prompt);
    etsn_value *password = NULL;
    read_secure(ui, method, &password, error, NULL);
    if (!password) {
        free(user);
        return;
    }
    line(ui, "");
    if (!empty(target)) {
        etsn_buf full = ETSN_BUF_INIT;
        etsn_buf_printf(&full, "%s\\%s", target, user);
        free(user);
        user = etsn_buf_steal(&full);
    }
    *cred = credential_value(user, password);
    free(user);
}

static void do_prompt_for_credential(etsn_host_ui *ui, int method, const etsn_value *params,
                                     etsn_value **result, etsn_value **error)
{
    /* The client rewrites caption and message before the console sees them
     * (RemoteHost.cs PerformSecurityChecksOnHostMessage). */
    char *caption = modified_caption(pstr(params, 0));
    char *message = modified_message(ui, pstr(params, 1));
    etsn_value *cred = NULL;
    credential_prompt(ui, method, caption, message, pstr(params, 2), pstr(params, 3), &cred, error);
    free(caption);
    free(message);
    if (!*error) *result = cred ? cred : etsn_v_nil();
}

/* ---- Prompt (ConsoleHostUserInterfacePrompt.cs) ---- */

typedef enum { F_STRING, F_SECURE, F_CREDENTIAL } field_kind;

typedef struct {
    const char *name;
    const char *label;
    const char *help;
    const char *type; /* parameterTypeFullName, else parameterTypeName */
    bool is_list;
    char element[256]; /* element type name of a list */
    field_kind kind;   /* of the field, or of its elements */
} field;

static field_kind kind_of(const char *t)
{
    if (!t) return F_STRING;
    if (strcmp(t, "System.Security.SecureString") == 0 || strcmp(t, "SecureString") == 0)
        return F_SECURE;
    if (strcmp(t, "System.Management.Automation.PSCredential") == 0 ||
        strcmp(t, "PSCredential") == 0)
        return F_CREDENTIAL;
    return F_STRING;
}

static void read_field(const etsn_value *d, field *f)
{
    memset(f, 0, sizeof *f);
    f->name = prop_str(d, "name");
    if (!f->name) f->name = "";
    f->label = prop_str(d, "label");
    f->help = prop_str(d, "helpMessage");
    f->type = prop_str(d, "parameterTypeFullName");
    if (empty(f->type)) f->type = prop_str(d, "parameterTypeName");
    /* Fields whose type is an IList are read item by item: arrays
     * ("System.String[]") and ArrayList. */
    size_t n = f->type ? strlen(f->type) : 0;
    if (n > 2 && strcmp(f->type + n - 2, "[]") == 0 && n - 2 < sizeof f->element) {
        f->is_list = true;
        memcpy(f->element, f->type, n - 2);
        f->element[n - 2] = 0;
    } else if (f->type && (strcmp(f->type, "System.Collections.ArrayList") == 0 ||
                           strcmp(f->type, "ArrayList") == 0)) {
        f->is_list = true;
        snprintf(f->element, sizeof f->element, "System.Object");
    }
    f->kind = kind_of(f->is_list ? f->element : f->type);
}

typedef enum { IN_VALUE, IN_END_LIST, IN_CANCEL, IN_ERROR } input_status;

/* PromptReadInput with PromptCommandMode ("!?" help, "!!" escape, "!\"\""
 * empty, "!$null"). *value is NULL for "!$null". */
static input_status read_input(etsn_host_ui *ui, const char *prompt, const field *f, bool list,
                               char **value)
{
    *value = NULL;
    for (;;) {
        char *raw = etsn_console_read_line(ui, prompt);
        if (!raw) return IN_CANCEL;
        if (!empty(f->label) && raw[0] == '!') {
            const char *cmd = raw + 1;
            if (cmd[0] == '!') {
                *value = strdup(cmd);
                free(raw);
                return IN_VALUE;
            }
            if (strcmp(cmd, "?") == 0) {
                if (empty(f->help)) {
                    /* PromptNoHelpAvailableErrorTemplate. */
                    etsn_buf b = ETSN_BUF_INIT;
                    etsn_buf_printf(&b, "No help is available for %s.", f->name);
                    line(ui, (const char *)b.data);
                    etsn_buf_free(&b);
                } else {
                    line(ui, f->help);
                }
            } else if (strcmp(cmd, "\"\"") == 0) {
                free(raw);
                *value = strdup("");
                return IN_VALUE;
            } else if (strcasecmp(cmd, "$null") == 0) {
                free(raw);
                return IN_VALUE;
            } else {
                /* PromptUnrecognizedCommandErrorTemplate. */
                etsn_buf b = ETSN_BUF_INIT;
                etsn_buf_printf(&b, "\"%s\" cannot be recognized as a valid Prompt command.", raw);
                line(ui, (const char *)b.data);
                etsn_buf_free(&b);
            }
            free(raw);
            continue;
        }
        if (list && !*raw) {
            free(raw);
            return IN_END_LIST;
        }
        *value = raw;
        return IN_VALUE;
    }
}

/* One value of a field (PromptForSingleItem). */
static input_status single_item(etsn_host_ui *ui, int method, const field *f, const char *prompt,
                                bool list, etsn_value **out, etsn_value **error)
{
    *out = NULL;
    if (f->kind == F_SECURE) {
        bool was_empty = false;
        etsn_console_write(ui, ui->out, -1, -1, prompt, false);
        read_secure(ui, method, out, error, &was_empty);
        if (*error) return IN_ERROR;
        if (!*out) return IN_CANCEL;
        if (list && was_empty) { /* an empty SecureString ends a list */
            etsn_v_free(*out);
            *out = NULL;
            return IN_END_LIST;
        }
        return IN_VALUE;
    }
    if (f->kind == F_CREDENTIAL) {
        line(ui, f->name);
        credential_prompt(ui, method, NULL, NULL, NULL, "", out, error);
        if (*error) return IN_ERROR;
        return *out ? IN_VALUE : IN_CANCEL;
    }
    char *text = NULL;
    input_status st = read_input(ui, prompt, f, list, &text);
    if (st == IN_VALUE) {
        /* Values asked for by a remote host are not converted
         * (PromptTryConvertTo with isFromRemoteHost). */
        *out = text ? etsn_v_string(text) : etsn_v_nil();
        free(text);
    }
    return st;
}

static bool parse_number(const char *s, bool integer, int64_t *i, double *d)
{
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return false;
    char *end;
    if (integer)
        *i = strtoll(s, &end, 10);
    else
        *d = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    return *end == 0;
}

/* The list a field gets: LanguagePrimitives.TryConvertTo(ArrayList,
 * fieldType) for the element types etsn knows, else the ArrayList. */
static etsn_value *list_value(const field *f, etsn_value **items, size_t n)
{
    const char *el = f->element;
    bool is_string = strcmp(el, "System.String") == 0 || strcmp(el, "String") == 0;
    bool is_i32 = strcmp(el, "System.Int32") == 0, is_i64 = strcmp(el, "System.Int64") == 0;
    bool is_dbl = strcmp(el, "System.Double") == 0;
    bool typed = f->kind != F_STRING || is_string || is_i32 || is_i64 || is_dbl;
    etsn_value **conv = calloc(n ? n : 1, sizeof *conv);
    if (!conv) return NULL;
    for (size_t i = 0; typed && i < n; i++) {
        const char *s = etsn_v_as_str(items[i]);
        int64_t iv = 0;
        double dv = 0;
        if (is_i32 || is_i64) {
            if (s && parse_number(s, true, &iv, &dv) &&
                (!is_i32 || (iv >= INT32_MIN && iv <= INT32_MAX)))
                conv[i] = is_i32 ? etsn_v_i32((int32_t)iv) : etsn_v_i64(iv);
            else
                typed = false;
        } else if (is_dbl) {
            if (s && parse_number(s, false, &iv, &dv))
                conv[i] = etsn_v_double(dv);
            else
                typed = false;
        } else {
            conv[i] = etsn_v_ref(items[i]);
        }
    }
    etsn_value *v = etsn_v_obj();
    bool ok = v != NULL;
    if (ok && typed) {
        char tn[300];
        snprintf(tn, sizeof tn, "%s[]",
                 f->kind == F_SECURE       ? "System.Security.SecureString"
                 : f->kind == F_CREDENTIAL ? "System.Management.Automation.PSCredential"
                 : is_string               ? "System.String"
                                           : el);
        ok = etsn_obj_add_type(v, tn) == 0 && etsn_obj_add_type(v, "System.Array") == 0 &&
             etsn_obj_add_type(v, "System.Object") == 0;
    } else if (ok) {
        ok = etsn_obj_add_type(v, "System.Collections.ArrayList") == 0 &&
             etsn_obj_add_type(v, "System.Object") == 0;
    }
    ok = ok && etsn_obj_set_coll(v, ETSN_COLL_LST) == 0;
    for (size_t i = 0; i < n; i++) {
        etsn_value *item = typed ? conv[i] : etsn_v_ref(items[i]);
        if (!typed) etsn_v_free(conv[i]);
        conv[i] = NULL;
        if (ok && etsn_obj_push_item(v, item) < 0)
            ok = false;
        else if (!ok)
            etsn_v_free(item);
    }
    free(conv);
    if (!ok) {
        etsn_v_free(v);
        return NULL;
    }
    return v;
}

static void do_prompt(etsn_host_ui *ui, int method, const etsn_value *params, etsn_value **result,
                      etsn_value **error)
{
    const char *caption = pstr(params, 0);
    const char *message = pstr(params, 1);
    const etsn_value *descs = param(params, 2);
    size_t n = descs ? descs->n_items : 0;
    if (n == 0) {
        /* PromptEmptyDescriptionsErrorTemplate. */
        *error = argument_error("The \"descriptions\" collection must have at least one element.",
                                method);
        return;
    }
    field *fields = calloc(n, sizeof *fields);
    if (!fields) return;
    bool has_credential = false, has_help = false;
    for (size_t i = 0; i < n; i++) {
        read_field(descs->items[i], &fields[i]);
        /* PerformSecurityChecksOnHostMessage: scalar fields typed
         * PSCredential rewrite caption and message; each SecureString field
         * adds a warning first. */
        if (!fields[i].is_list && fields[i].kind == F_CREDENTIAL) has_credential = true;
        if (!fields[i].is_list && fields[i].kind == F_SECURE) warn_prompt_secure(ui);
        if (!empty(fields[i].help)) has_help = true;
    }
    char *mod_caption = has_credential ? modified_caption(caption) : NULL;
    char *mod_message = has_credential ? modified_message(ui, message) : NULL;
    caption_and_message(ui, mod_caption ? mod_caption : caption,
                        mod_message ? mod_message : message);
    free(mod_caption);
    free(mod_message);
    if (has_help) line(ui, "(Type !? for Help.)"); /* PromptHelp */

    etsn_value *dict = etsn_v_obj();
    bool ok = dict && etsn_obj_add_type(dict, "System.Collections.Hashtable") == 0 &&
              etsn_obj_add_type(dict, "System.Object") == 0 &&
              etsn_obj_set_coll(dict, ETSN_COLL_DCT) == 0;
    bool cancel = false;
    for (size_t i = 0; ok && !cancel && !*error && i < n; i++) {
        const field *f = &fields[i];
        etsn_value *value = NULL;
        etsn_buf prompt = ETSN_BUF_INIT;
        if (f->is_list) {
            /* "Name[0]: ", "Name[1]: ", ... until an empty answer. */
            etsn_value **items = NULL;
            size_t count = 0;
            for (;;) {
                etsn_buf_reset(&prompt);
                etsn_buf_printf(&prompt, "%s[%zu]: ", f->name, count);
                etsn_value *item = NULL;
                input_status st =
                    single_item(ui, method, f, (const char *)prompt.data, true, &item, error);
                if (st != IN_VALUE) {
                    etsn_v_free(item);
                    cancel = st == IN_CANCEL;
                    break;
                }
                etsn_value **grown = realloc(items, (count + 1) * sizeof *items);
                if (!grown) {
                    etsn_v_free(item);
                    ok = false;
                    break;
                }
                items = grown;
                items[count++] = item;
            }
            if (ok && !cancel && !*error) value = list_value(f, items, count);
            for (size_t k = 0; k < count; k++) etsn_v_free(items[k]);
            free(items);
            if (ok && !cancel && !*error && !value) ok = false;
        } else {
            etsn_buf_printf(&prompt, "%s: ", f->name); /* PromptFieldPromptInputSeparatorTemplate */
            input_status st =
                single_item(ui, method, f, (const char *)prompt.data, false, &value, error);
            cancel = st == IN_CANCEL;
        }
        etsn_buf_free(&prompt);
        if (cancel || *error || !ok) {
            etsn_v_free(value);
            break;
        }
        if (etsn_obj_push_entry(dict, etsn_v_string(f->name), value) < 0) ok = false;
    }
    free(fields);
    if (*error) {
        etsn_v_free(dict);
        return;
    }
    if (cancel) {
        /* pwsh ends the line and answers an empty dictionary. */
        line(ui, "");
        etsn_v_free(dict);
        dict = etsn_v_obj();
        ok = dict && etsn_obj_add_type(dict, "System.Collections.Hashtable") == 0 &&
             etsn_obj_add_type(dict, "System.Object") == 0 &&
             etsn_obj_set_coll(dict, ETSN_COLL_DCT) == 0;
    }
    if (!ok) {
        etsn_v_free(dict);
        return;
    }
    *result = dict;
}

/* ---- PromptForChoice (ConsoleHostUserInterfacePromptForChoice.cs) ---- */

typedef struct {
    char *hotkey; /* "" when the label has no '&' */
    char *label;  /* without the '&' */
    const char *help;
} choice;

static void free_choices(choice *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].hotkey);
        free(c[i].label);
    }
    free(c);
}

static char *trim_dup(const char *s, size_t len)
{
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    return strndup(s, len);
}

/* HostUIHelperMethods.BuildHotkeysAndPlainLabels: the character after the
 * first '&' is the hot key (upper case); the label loses the '&'. */
static int build_choices(const etsn_value *list, choice **out, size_t *n_out, int method,
                         etsn_value **error)
{
    size_t n = list ? list->n_items : 0;
    choice *c = calloc(n ? n : 1, sizeof *c);
    if (!c) return -1;
    for (size_t i = 0; i < n; i++) {
        const char *label = prop_str(list->items[i], "label");
        if (!label) label = "";
        c[i].help = prop_str(list->items[i], "helpMessage");
        const char *amp = strchr(label, '&');
        if (amp) {
            etsn_buf plain = ETSN_BUF_INIT;
            etsn_buf_append(&plain, label, (size_t)(amp - label));
            etsn_buf_append_str(&plain, amp + 1);
            c[i].label = trim_dup(plain.data ? (const char *)plain.data : "", plain.len);
            etsn_buf_free(&plain);
            const unsigned char *h = (const unsigned char *)amp + 1;
            size_t hl = !*h ? 0 : *h < 0x80 ? 1 : (*h >> 5) == 6 ? 2 : (*h >> 4) == 14 ? 3 : 4;
            c[i].hotkey = strndup((const char *)h, hl);
            if (c[i].hotkey && hl == 1) {
                c[i].hotkey[0] = (char)toupper((unsigned char)c[i].hotkey[0]);
                if (isspace((unsigned char)c[i].hotkey[0])) c[i].hotkey[0] = 0;
            }
        } else {
            c[i].label = strdup(label);
            c[i].hotkey = strdup("");
        }
        if (!c[i].label || !c[i].hotkey) {
            free_choices(c, n);
            return -1;
        }
        if (strcmp(c[i].hotkey, "?") == 0) {
            /* InternalHostUserInterfaceStrings.InvalidChoiceHotKeyError. */
            *error = argument_error("Cannot process the hot key because a question mark (\"?\") "
                                    "cannot be used as a hot key.",
                                    method);
            free_choices(c, n);
            return -1;
        }
    }
    *out = c;
    *n_out = n;
    return 0;
}

/* DetermineChoicePicked: the full label first, then the hot keys, both
 * ignoring case. */
static int pick(const char *response, const choice *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(response, c[i].label) == 0) return (int)i;
    for (size_t i = 0; i < n; i++)
        if (*c[i].hotkey && strcasecmp(response, c[i].hotkey) == 0) return (int)i;
    return -1;
}

/* WriteChoiceHelper: wraps before a piece that would pass the window width
 * (less one), trimming its end. Like pwsh, the running length is not
 * reset by the line breaks the multiple-selection layout adds. */
static void choice_piece(etsn_host_ui *ui, const char *text, int fg, int *line_len, int max)
{
    int len = etsn_text_cells(text);
    if (*line_len + len > max) {
        line(ui, "");
        *line_len = len;
        size_t n = strlen(text);
        while (n && isspace((unsigned char)text[n - 1])) n--;
        char *t = strndup(text, n);
        etsn_console_write(ui, ui->out, fg, -1, t ? t : "", false);
        free(t);
    } else {
        *line_len += len;
        etsn_console_write(ui, ui->out, fg, -1, text, false);
    }
}

/* WriteChoicePrompt. defaults[i] marks default choices, in the order given
 * by order[0..n_order). */
static void choice_prompt(etsn_host_ui *ui, const choice *c, size_t n, const bool *defaults,
                          const int *order, size_t n_order, bool multi)
{
    int max = etsn_console_width(ui) - 1, len = 0;
    for (size_t i = 0; i < n; i++) {
        etsn_buf b = ETSN_BUF_INIT;
        etsn_buf_printf(&b, "[%s] %s  ", c[i].hotkey, c[i].label);
        choice_piece(ui, (const char *)b.data,
                     defaults[i] ? default_prompt_color(ui) : prompt_color(ui), &len, max);
        etsn_buf_free(&b);
        if (multi) line(ui, "");
    }
    choice_piece(ui, "[?] Help ", -1, &len, max); /* PromptForChoiceHelp */
    if (multi) line(ui, "");
    etsn_buf d = ETSN_BUF_INIT;
    if (n_order) {
        etsn_buf list = ETSN_BUF_INIT;
        for (size_t k = 0; k < n_order; k++) {
            const choice *ch = &c[order[k]];
            etsn_buf_printf(&list, "%s%s", k ? "," : "", *ch->hotkey ? ch->hotkey : ch->label);
        }
        const char *l = list.data ? (const char *)list.data : "";
        /* DefaultChoicePrompt, DefaultChoiceForMultipleChoices,
         * DefaultChoicesForMultipleChoices. */
        if (n_order > 1)
            etsn_buf_printf(&d, "(default choices are %s)", l);
        else if (multi)
            etsn_buf_printf(&d, "(default is \"%s\")", l);
        else
            etsn_buf_printf(&d, "(default is \"%s\"): ", l);
        etsn_buf_free(&list);
    }
    choice_piece(ui, d.data ? (const char *)d.data : "", -1, &len, max);
    etsn_buf_free(&d);
}

static void show_choice_help(etsn_host_ui *ui, const choice *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        etsn_buf b = ETSN_BUF_INIT;
        etsn_buf_printf(&b, "%s - %s", *c[i].hotkey ? c[i].hotkey : c[i].label,
                        c[i].help ? c[i].help : "");
        line(ui, (const char *)b.data);
        etsn_buf_free(&b);
    }
}

/* The answer, trimmed; NULL at end of input. */
static char *choice_answer(etsn_host_ui *ui, const char *prompt)
{
    char *raw = etsn_console_read_line(ui, prompt);
    if (!raw) return NULL;
    char *t = trim_dup(raw, strlen(raw));
    bool was_empty = !*raw;
    free(raw);
    /* A blank-only answer is not an empty one in pwsh (Length checked
     * before Trim); keep them apart with a single space. */
    if (t && !*t && !was_empty) {
        free(t);
        t = strdup(" ");
    }
    return t;
}

static void do_prompt_for_choice(etsn_host_ui *ui, int method, const etsn_value *params,
                                 etsn_value **result, etsn_value **error)
{
    const etsn_value *list = param(params, 2);
    int64_t def = pint(params, 3, -1);
    size_t n = list ? list->n_items : 0;
    if (n == 0) {
        *error = argument_error("\"choices\" should have at least one element.", method);
        return;
    }
    if (def < -1 || def >= (int64_t)n) {
        *error = argument_error(
            "\"defaultChoice\" must be a valid index into \"choice\" or -1 for no default choice.",
            method);
        return;
    }
    choice *c = NULL;
    if (build_choices(list, &c, &n, method, error) < 0) return;
    caption_and_message(ui, pstr(params, 0), pstr(params, 1));
    bool *defaults = calloc(n, sizeof *defaults);
    int order[1] = {(int)def};
    if (!defaults) {
        free_choices(c, n);
        return;
    }
    if (def >= 0) defaults[def] = true;
    for (;;) {
        choice_prompt(ui, c, n, defaults, order, def >= 0 ? 1 : 0, false);
        char *answer = choice_answer(ui, "");
        if (!answer) {
            *error = choice_canceled(method);
            break;
        }
        int picked = -2;
        if (!*answer) {
            if (def >= 0) picked = (int)def;
        } else if (strcmp(answer, "?") == 0) {
            show_choice_help(ui, c, n);
        } else {
            picked = pick(answer, c, n);
        }
        free(answer);
        if (picked >= 0) {
            *result = etsn_v_i32(picked);
            break;
        }
    }
    free(defaults);
    free_choices(c, n);
}

static void do_prompt_for_choice_multi(etsn_host_ui *ui, int method, const etsn_value *params,
                                       etsn_value **result, etsn_value **error)
{
    const etsn_value *list = param(params, 2);
    const etsn_value *defs = param(params, 3);
    size_t n = list ? list->n_items : 0;
    if (n == 0) {
        *error = argument_error("\"choices\" should have at least one element.", method);
        return;
    }
    bool *defaults = calloc(n, sizeof *defaults);
    int *order = calloc(n, sizeof *order);
    size_t n_order = 0;
    if (!defaults || !order) {
        free(defaults);
        free(order);
        return;
    }
    for (size_t i = 0; defs && defs->kind != ETSN_V_NIL && i < defs->n_items; i++) {
        int64_t d = -1;
        etsn_v_as_i64(defs->items[i], &d);
        if (d < 0 || d >= (int64_t)n) {
            /* InvalidDefaultChoiceForMultipleSelection. */
            etsn_buf b = ETSN_BUF_INIT;
            etsn_buf_printf(&b,
                            "\"defaultChoice\" must be a valid index into \"choices\". \"%lld\" "
                            "is not a valid index.",
                            (long long)d);
            *error = argument_error((const char *)b.data, method);
            etsn_buf_free(&b);
            free(defaults);
            free(order);
            return;
        }
        if (!defaults[d]) order[n_order++] = (int)d;
        defaults[d] = true;
    }
    choice *c = NULL;
    if (build_choices(list, &c, &n, method, error) < 0) {
        free(defaults);
        free(order);
        return;
    }
    caption_and_message(ui, pstr(params, 0), pstr(params, 1));
    choice_prompt(ui, c, n, defaults, order, n_order, true);
    if (n_order) line(ui, "");
    int *picked = calloc(n ? n * 4 + 1 : 1, sizeof *picked);
    size_t n_picked = 0, cap = n * 4 + 1;
    bool ok = picked != NULL;
    while (ok) {
        etsn_buf prompt = ETSN_BUF_INIT;
        etsn_buf_printf(&prompt, "Choice[%zu]: ", n_picked); /* ChoiceMessage */
        char *answer = choice_answer(ui, (const char *)prompt.data);
        etsn_buf_free(&prompt);
        if (!answer) {
            *error = choice_canceled(method);
            break;
        }
        if (!*answer) {
            free(answer);
            if (n_picked == 0)
                for (size_t k = 0; k < n_order; k++) picked[n_picked++] = order[k];
            break;
        }
        if (strcmp(answer, "?") == 0) {
            show_choice_help(ui, c, n);
        } else {
            int p = pick(answer, c, n);
            if (p >= 0) {
                if (n_picked == cap) {
                    int *g = realloc(picked, cap * 2 * sizeof *g);
                    if (!g)
                        ok = false;
                    else {
                        picked = g;
                        cap *= 2;
                    }
                }
                if (ok) picked[n_picked++] = p;
            }
        }
        free(answer);
    }
    if (ok && !*error) {
        /* Collection<int> travels as an ArrayList (EncodeCollection). */
        etsn_value *v = etsn_v_obj();
        bool good = v && etsn_obj_add_type(v, "System.Collections.ArrayList") == 0 &&
                    etsn_obj_add_type(v, "System.Object") == 0 &&
                    etsn_obj_set_coll(v, ETSN_COLL_LST) == 0;
        for (size_t k = 0; good && k < n_picked; k++)
            good = etsn_obj_push_item(v, etsn_v_i32(picked[k])) == 0;
        if (good)
            *result = v;
        else
            etsn_v_free(v);
    }
    free(picked);
    free(defaults);
    free(order);
    free_choices(c, n);
}

/* ---- raw UI ---- */

static bool coords(const etsn_value *v, int64_t *x, int64_t *y)
{
    if (!v || !prop(v, "x") || !prop(v, "y")) return false;
    *x = prop_int(v, "x", 0);
    *y = prop_int(v, "y", 0);
    return true;
}

static void cell_sgr(etsn_host_ui *ui, const etsn_value *cell, etsn_buf *seq)
{
    /* BufferCell colours, through the same mapping as Write2. */
    static const int map[16] = {30, 34, 32, 36, 31, 35, 33, 37, 90, 94, 92, 96, 91, 95, 93, 97};
    etsn_console *c = etsn_console_get(ui);
    if (!ui->color || !c) return;
    int64_t fg = prop_int(cell, "foregroundColor", c->fg),
            bg = prop_int(cell, "backgroundColor", c->bg);
    etsn_buf_append_str(seq, "\x1b[0m");
    if (fg >= 0 && fg < 16 && fg != c->default_fg) etsn_buf_printf(seq, "\x1b[%dm", map[fg]);
    if (bg >= 0 && bg < 16 && bg != c->default_bg) etsn_buf_printf(seq, "\x1b[%dm", map[bg] + 10);
}

static void cell_char(const etsn_value *cell, etsn_buf *seq)
{
    int64_t ch = prop_int(cell, "character", ' ');
    if (ch < 0x20 || ch == 0x7f) ch = ' ';
    char u[4];
    size_t n = ch < 0x80 ? (u[0] = (char)ch, 1)
               : ch < 0x800
                   ? (u[0] = (char)(0xc0 | (ch >> 6)), u[1] = (char)(0x80 | (ch & 0x3f)), 2)
                   : (u[0] = (char)(0xe0 | (ch >> 12)), u[1] = (char)(0x80 | ((ch >> 6) & 0x3f)),
                      u[2] = (char)(0x80 | (ch & 0x3f)), 3);
    etsn_buf_append(seq, u, n);
}

enum { MAX_CELLS_SIDE = 1000 }; /* bounds what a server can make us draw */

/* SetBufferContents(Rectangle, BufferCell): all -1 is Clear-Host's "whole
 * buffer"; other rectangles are filled on the screen, cursor kept. */
static void set_buffer_fill(etsn_host_ui *ui, const etsn_value *params)
{
    const etsn_value *r = param(params, 0), *cell = param(params, 1);
    int64_t l = prop_int(r, "left", -1), t = prop_int(r, "top", -1), rt = prop_int(r, "right", -1),
            b = prop_int(r, "bottom", -1);
    if (!ui->terminal) return;
    etsn_console_hide_progress(ui);
    etsn_buf seq = ETSN_BUF_INIT;
    if (l == -1 && t == -1 && rt == -1 && b == -1) {
        etsn_buf_append_str(&seq, "\x1b[H\x1b[2J\x1b[3J"); /* what `clear` prints */
        etsn_console *c = etsn_console_get(ui);
        if (c) c->col = 0;
    } else if (l >= 0 && t >= 0 && rt >= l && b >= t && rt - l < MAX_CELLS_SIDE &&
               b - t < MAX_CELLS_SIDE) {
        etsn_buf_append_str(&seq, "\x1b"
                                  "7");
        cell_sgr(ui, cell, &seq);
        for (int64_t y = t; y <= b; y++) {
            etsn_buf_printf(&seq, "\x1b[%lld;%lldH", (long long)y + 1, (long long)l + 1);
            for (int64_t x = l; x <= rt; x++) cell_char(cell, &seq);
        }
        if (ui->color) etsn_buf_append_str(&seq, "\x1b[0m");
        etsn_buf_append_str(&seq, "\x1b"
                                  "8");
    }
    if (seq.len) etsn_console_control(ui, (const char *)seq.data);
    etsn_buf_free(&seq);
    etsn_console_show_progress(ui);
}

/* SetBufferContents(Coordinates, BufferCell[,]): the array travels as
 * {mae: elements, mal: lengths} (RemoteHostEncoder.EncodeArray). */
static void set_buffer_cells(etsn_host_ui *ui, const etsn_value *params)
{
    int64_t x, y;
    const etsn_value *arr = param(params, 1);
    const etsn_value *mae = prop(arr, "mae"), *mal = prop(arr, "mal");
    if (!ui->terminal || !coords(param(params, 0), &x, &y) || !mae || !mal || mal->n_items != 2 ||
        x < 0 || y < 0)
        return;
    int64_t rows = 0, cols = 0;
    etsn_v_as_i64(mal->items[0], &rows);
    etsn_v_as_i64(mal->items[1], &cols);
    if (rows <= 0 || cols <= 0 || rows > MAX_CELLS_SIDE || cols > MAX_CELLS_SIDE ||
        (size_t)(rows * cols) > mae->n_items)
        return;
    etsn_console_hide_progress(ui);
    etsn_buf seq = ETSN_BUF_INIT;
    etsn_buf_append_str(&seq, "\x1b"
                              "7");
    for (int64_t r = 0; r < rows; r++) {
        etsn_buf_printf(&seq, "\x1b[%lld;%lldH", (long long)(y + r + 1), (long long)x + 1);
        for (int64_t k = 0; k < cols; k++) {
            const etsn_value *cell = mae->items[r * cols + k];
            /* Trailing halves of wide characters (BufferCellType 2) are
             * covered by the leading half. */
            if (prop_int(cell, "bufferCellType", 0) == 2) continue;
            cell_sgr(ui, cell, &seq);
            cell_char(cell, &seq);
        }
    }
    if (ui->color) etsn_buf_append_str(&seq, "\x1b[0m");
    etsn_buf_append_str(&seq, "\x1b"
                              "8");
    etsn_console_control(ui, (const char *)seq.data);
    etsn_buf_free(&seq);
    etsn_console_show_progress(ui);
}

static void set_cursor(etsn_host_ui *ui, const etsn_value *params)
{
    int64_t x, y;
    if (!ui->terminal || !coords(param(params, 0), &x, &y) || x < 0 || y < 0) return;
    etsn_console_hide_progress(ui);
    char seq[48];
    snprintf(seq, sizeof seq, "\x1b[%lld;%lldH", (long long)y + 1, (long long)x + 1);
    etsn_console_control(ui, seq);
    etsn_console *c = etsn_console_get(ui);
    if (c) c->col = (int)x;
    etsn_console_show_progress(ui);
}

static void set_title(etsn_host_ui *ui, const char *title)
{
    if (!ui->terminal) return;
    etsn_buf seq = ETSN_BUF_INIT;
    etsn_buf_append_str(&seq, "\x1b]0;");
    /* Control characters would end or corrupt the sequence. */
    for (const char *p = title ? title : ""; *p; p++)
        if ((unsigned char)*p >= 0x20 && *p != 0x7f) etsn_buf_append_byte(&seq, (uint8_t)*p);
    etsn_buf_append_byte(&seq, '\a');
    etsn_console_control(ui, (const char *)seq.data);
    etsn_buf_free(&seq);
}

/* KeyInfo as RemoteHostEncoder.EncodeClassOrStruct writes it: a property
 * bag of the struct's private fields; the enum travels as its number. */
static etsn_value *key_value(const etsn_key *k, bool key_down)
{
    etsn_value *v = etsn_v_obj();
    if (!v || etsn_obj_add_member(v, "virtualKeyCode", etsn_v_i32(k->virtual_key_code)) < 0 ||
        etsn_obj_add_member(v, "character", etsn_v_int(ETSN_V_CHAR, (int64_t)k->character)) < 0 ||
        etsn_obj_add_member(v, "controlKeyState", etsn_v_i32(k->control_key_state)) < 0 ||
        etsn_obj_add_member(v, "keyDown", etsn_v_bool(key_down)) < 0) {
        etsn_v_free(v);
        return NULL;
    }
    return v;
}

static void do_read_key(etsn_host_ui *ui, int method, const etsn_value *params, etsn_value **result,
                        etsn_value **error)
{
    int options = (int)pint(params, 0, 4);
    etsn_key k;
    int rc = etsn_console_read_key(ui, options, &k);
    if (rc == ETSN_READ_OK)
        *result = key_value(&k, (options & 4) != 0);
    else
        *error = stopped_error(ui, method, rc == ETSN_READ_INTERRUPTED);
}

/* ---- the dispatcher ---- */

static void write_progress(etsn_host_ui *ui, int64_t source_id, const etsn_value *record)
{
    etsn_progress_record rec;
    if (etsn_progress_record_read(record, &rec)) etsn_console_progress(ui, source_id, &rec);
}

bool etsn_host_ui_call(etsn_host_ui *ui, int method, const etsn_value *params, etsn_value **result,
                       etsn_value **error)
{
    *result = NULL;
    *error = NULL;
    switch (method) {
    case 6: /* SetShouldExit(int) */
        ui->exit_requested = true;
        ui->exit_code = (int)pint(params, 0, 0);
        return true;
    case 53: /* PopRunspace */
        ui->pop_requested = true;
        return true;
    case 11: { /* ReadLine: null at end of input, as pwsh's */
        char *l = etsn_console_read_line(ui, "");
        *result = l ? etsn_v_string(l) : etsn_v_nil();
        free(l);
        return true;
    }
    case 12: { /* ReadLineAsSecureString */
        warn_read_secure(ui);
        etsn_value *v = NULL;
        read_secure(ui, method, &v, error, NULL);
        if (!*error) *result = v ? v : etsn_v_nil();
        return true;
    }
    case 13: /* Write1(value) */
        etsn_console_write(ui, ui->out, -1, -1, pstr(params, 0), false);
        return true;
    case 14: /* Write2(foregroundColor, backgroundColor, value) */
    case 17: /* WriteLine3(foregroundColor, backgroundColor, value) */
        etsn_console_write(ui, ui->out, (int)pint(params, 0, -1), (int)pint(params, 1, -1),
                           pstr(params, 2), method == 17);
        return true;
    case 15: /* WriteLine1() */
        line(ui, "");
        return true;
    case 16: /* WriteLine2(value) */
        line(ui, pstr(params, 0));
        return true;
    case 18: { /* WriteErrorLine(value): $PSStyle.Formatting.Error unless the
                * server coloured the text itself */
        const char *t = pstr(params, 0);
        etsn_console_write_styled(ui, ui->err, t && strchr(t, '\x1b') ? NULL : ETSN_STYLE_ERROR, t,
                                  true);
        return true;
    }
    case 19: /* WriteDebugLine: DebugFormatString */
        if (!repeats_record(ui, ETSN_ECHO_DEBUG, pstr(params, 0)))
            prefixed(ui, ETSN_STYLE_DEBUG, "DEBUG: ", pstr(params, 0));
        return true;
    case 21: /* WriteVerboseLine: VerboseFormatString */
        if (!repeats_record(ui, ETSN_ECHO_VERBOSE, pstr(params, 0)))
            prefixed(ui, ETSN_STYLE_VERBOSE, "VERBOSE: ", pstr(params, 0));
        return true;
    case 22: /* WriteWarningLine: WarningFormatString */
        if (!repeats_record(ui, ETSN_ECHO_WARNING, pstr(params, 0))) warning(ui, pstr(params, 0));
        return true;
    case 20: /* WriteProgress(sourceId, record) */
        write_progress(ui, pint(params, 0, 0), param(params, 1));
        return true;
    case 23:
        do_prompt(ui, method, params, result, error);
        break;
    case 24: /* PromptForCredential1(caption, message, userName, targetName) */
    case 25: /* PromptForCredential2(..., allowedCredentialTypes, options) */
        do_prompt_for_credential(ui, method, params, result, error);
        break;
    case 26:
        do_prompt_for_choice(ui, method, params, result, error);
        break;
    case 56:
        do_prompt_for_choice_multi(ui, method, params, result, error);
        break;
    case 28:   /* SetForegroundColor */
    case 30: { /* SetBackgroundColor */
        etsn_console *c = etsn_console_get(ui);
        int64_t cc = pint(params, 0, -1);
        if (c && cc >= 0 && cc < 16) *(method == 28 ? &c->fg : &c->bg) = (int)cc;
        return true;
    }
    case 32: /* SetCursorPosition(Coordinates) */
        set_cursor(ui, params);
        return true;
    case 34: /* SetWindowPosition, SetCursorSize, SetBufferSize,
              * SetWindowSize: a terminal emulator owns these */
    case 36:
    case 38:
    case 40:
        return true;
    case 42: /* SetWindowTitle */
        set_title(ui, pstr(params, 0));
        return true;
    case 46: /* ReadKey(options) */
        do_read_key(ui, method, params, result, error);
        break;
    case 47: /* FlushInputBuffer */
        if (ui->terminal) tcflush(ui->in_fd, TCIFLUSH);
        return true;
    case 48: /* SetBufferContents(Rectangle, BufferCell) */
        set_buffer_fill(ui, params);
        return true;
    case 49: /* SetBufferContents(Coordinates, BufferCell[,]) */
        set_buffer_cells(ui, params);
        return true;
    case 51: /* ScrollBufferContents: the screen's contents are unknown here */
        return true;
    default:
        return false;
    }
    /* A prompt that could not build its answer (memory): an error rather
     * than no answer at all. */
    if (!*result && !*error) *error = stopped_error(ui, method, false);
    return true;
}

/* ---- records outside Out-Default ---- */

static bool tagged_pshost(const etsn_value *record)
{
    const etsn_value *tags = etsn_v_get(record, "Tags");
    for (size_t i = 0; tags && i < tags->n_items; i++) {
        const char *t = etsn_v_as_str(tags->items[i]);
        if (t && strcmp(t, "PSHOST") == 0) return true;
    }
    return false;
}

void etsn_host_ui_record(etsn_host_ui *ui, uint32_t message_type, const etsn_value *record)
{
    const char *style = NULL, *prefix = NULL;
    int kind = ETSN_ECHO_WARNING;
    switch (message_type) {
    case ETSN_MSG_ERROR_RECORD: {
        /* ConciseView's first line: "<command>: <message>", in
         * $PSStyle.Formatting.Error. */
        etsn_error_record rec;
        etsn_error_record_read(record, &rec);
        const char *msg = rec.message ? rec.message : etsn_v_as_str(record);
        etsn_buf b = ETSN_BUF_INIT;
        if (!empty(rec.activity))
            etsn_buf_printf(&b, "%s: %s", rec.activity, msg ? msg : "");
        else
            etsn_buf_append_str(&b, msg ? msg : "");
        etsn_console_write_styled(ui, ui->err, ETSN_STYLE_ERROR, b.data ? (const char *)b.data : "",
                                  true);
        etsn_buf_free(&b);
        return;
    }
    case ETSN_MSG_WARNING_RECORD:
        style = ETSN_STYLE_WARNING, prefix = "WARNING: ";
        break;
    case ETSN_MSG_VERBOSE_RECORD:
        style = ETSN_STYLE_VERBOSE, prefix = "VERBOSE: ", kind = ETSN_ECHO_VERBOSE;
        break;
    case ETSN_MSG_DEBUG_RECORD:
        style = ETSN_STYLE_DEBUG, prefix = "DEBUG: ", kind = ETSN_ECHO_DEBUG;
        break;
    case ETSN_MSG_PROGRESS_RECORD:
        write_progress(ui, 0, record);
        return;
    case ETSN_MSG_INFORMATION_RECORD: {
        /* Write-Host's records (tag PSHOST) were already written through
         * Write2/WriteLine3 host calls; showing them again would double
         * every line. */
        if (tagged_pshost(record)) return;
        const etsn_value *data = etsn_v_get(record, "MessageData");
        etsn_buf b = ETSN_BUF_INIT;
        etsn_v_display(data ? data : record, &b);
        line(ui, b.data ? (const char *)b.data : "");
        etsn_buf_free(&b);
        return;
    }
    default:
        return;
    }
    const etsn_value *msg = etsn_v_get(record, "InformationalRecord_Message");
    const char *text = msg ? etsn_v_as_str(msg) : etsn_v_as_str(record);
    prefixed(ui, style, prefix, text);
    remember_record(ui, kind, text);
}
