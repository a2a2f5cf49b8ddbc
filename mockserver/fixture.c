#include "fixture.h"
#include "metadata.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "../ref/core/buf.h"
#include "../ref/core/message.h"
#include "../ref/core/psrp_msgs.h"
#include "winrs.h"

typedef struct {
    const char *file;
    char *err;
    size_t errlen;
    const char *protocol; /* the <server protocol=>, read before the pipelines */
} lctx;

static int fail(lctx *c, const xmlNode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(lctx *c, const xmlNode *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%ld: %s", c->file, n ? xmlGetLineNo(n) : 0L, msg);
    return -1;
}

static const char *const categories[] = {
    "NotSpecified",        "OpenError",           "CloseError",       "DeviceError",
    "DeadlockDetected",    "InvalidArgument",     "InvalidData",      "InvalidOperation",
    "InvalidResult",       "InvalidType",         "MetadataError",    "NotImplemented",
    "NotInstalled",        "ObjectNotFound",      "OperationStopped", "OperationTimeout",
    "SyntaxError",         "ParserError",         "PermissionDenied", "ResourceBusy",
    "ResourceExists",      "ResourceUnavailable", "ReadError",        "WriteError",
    "FromStdErr",          "SecurityError",       "ProtocolError",    "ConnectionError",
    "AuthenticationError", "LimitsExceeded",      "QuotaExceeded",    "NotEnabled",
};

int fx_error_category(const char *name)
{
    if (!name) return -1;
    for (size_t i = 0; i < sizeof categories / sizeof *categories; i++)
        if (!strcasecmp(categories[i], name)) return (int)i;
    return -1;
}

/* ---- small helpers ---- */

static bool is_el(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static char *get_attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v) return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    return s;
}

/* Rejects attributes outside the allowed list (typos in a fixture should not
 * pass silently). */
static int check_attrs(lctx *c, const xmlNode *n, const char *const *allowed)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (!strcmp(allowed[i], (const char *)a->name)) ok = true;
        if (!ok) return fail(c, n, "<%s>: unknown attribute '%s'", n->name, a->name);
    }
    return 0;
}

static bool parse_bool(const char *s, bool *out)
{
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes")) {
        *out = true;
        return true;
    }
    if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no")) {
        *out = false;
        return true;
    }
    return false;
}

static int bool_attr(lctx *c, const xmlNode *n, const char *name, bool *out)
{
    char *v = get_attr(n, name);
    if (!v) return 0;
    bool ok = parse_bool(v, out);
    free(v);
    if (!ok) return fail(c, n, "<%s %s=...>: expected true or false", n->name, name);
    return 0;
}

/* Text of the node's own text children (not of nested elements). */
static char *own_text(const xmlNode *n)
{
    etsn_buf b = ETSN_BUF_INIT;
    for (const xmlNode *t = n->children; t; t = t->next)
        if (t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE)
            etsn_buf_append_str(&b, (const char *)t->content);
    if (!b.data) return strdup("");
    return etsn_buf_steal(&b);
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return false;
    return true;
}

static char *trim_dup(const char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1])) len--;
    return strndup(s, len);
}

static int split_list(const char *s, char ***out, size_t *n)
{
    char *copy = strdup(s);
    if (!copy) return -1;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", \t\n", &save); tok; tok = strtok_r(NULL, ", \t\n", &save)) {
        char **v = realloc(*out, (*n + 1) * sizeof *v);
        if (!v) {
            free(copy);
            return -1;
        }
        *out = v;
        if (!(v[(*n)++] = strdup(tok))) {
            free(copy);
            return -1;
        }
    }
    free(copy);
    return 0;
}

/* ---- freeing ---- */

static void free_error(fx_error *e)
{
    free(e->message);
    free(e->exception_type);
    free(e->fqid);
    free(e->category_name);
    free(e->activity);
    free(e->reason);
    free(e->target_name);
    free(e->target_type);
    free(e->position);
    for (size_t i = 0; i < e->n_lines; i++) free(e->lines[i]);
    free(e->lines);
}

void fx_steps_free(fx_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fx_step *s = &steps[i];
        free(s->id);
        free(s->expect);
        for (size_t j = 0; j < s->n_values; j++) etsn_v_free(s->values[j]);
        free(s->values);
        free(s->text);
        for (size_t j = 0; j < s->n_lines; j++) free(s->lines[j]);
        free(s->lines);
        free_error(&s->error);
        fx_steps_free(s->children, s->n_children);
        for (size_t j = 0; j < s->n_fields; j++) {
            free(s->fields[j].name);
            free(s->fields[j].text);
            for (size_t k = 0; k < s->fields[j].n_items; k++) free(s->fields[j].items[k]);
            free(s->fields[j].items);
        }
        free(s->fields);
        free(s->expect_user);
        if (s->expect_password) {
            etsn_secure_zero(s->expect_password, strlen(s->expect_password));
            free(s->expect_password);
        }
        free(s->source);
        for (size_t j = 0; j < s->n_tags; j++) free(s->tags[j]);
        free(s->tags);
    }
    free(steps);
}

void mock_fixture_free(mock_fixture *fx)
{
    if (!fx) return;
    for (size_t i = 0; i < fx->n_replies; i++) {
        free(fx->replies[i].action);
        free(fx->replies[i].relates_to);
        free(fx->replies[i].shell_id);
        free(fx->replies[i].envelope);
    }
    free(fx->replies);
    free(fx->name);
    free(fx->description);
    free(fx->computer);
    free(fx->protocol);
    free(fx->ps_version);
    free(fx->path);
    free(fx->location);
    free(fx->resource_uri);
    mock_winrs_fixture_free(fx->winrs);
    free(fx->edition);
    for (size_t i = 0; i < fx->n_missing; i++) free(fx->missing_commands[i]);
    free(fx->missing_commands);
    for (size_t i = 0; i < fx->n_extra; i++) free(fx->extra_commands[i]);
    free(fx->extra_commands);
    for (size_t i = 0; i < fx->n_users; i++) {
        free(fx->users[i].domain);
        free(fx->users[i].name);
        if (fx->users[i].password) {
            etsn_secure_zero(fx->users[i].password, strlen(fx->users[i].password));
            free(fx->users[i].password);
        }
    }
    free(fx->users);
    for (size_t i = 0; i < fx->n_pipelines; i++) {
        free(fx->pipelines[i].command);
        free(fx->pipelines[i].description);
        fx_steps_free(fx->pipelines[i].steps, fx->pipelines[i].n_steps);
    }
    free(fx->pipelines);
    for (size_t i = 0; i < fx->n_expects; i++) {
        free(fx->expects[i].id);
        free(fx->expects[i].description);
    }
    free(fx->expects);
    for (size_t i = 0; i < fx->n_completions; i++) {
        fx_completion *c = &fx->completions[i];
        free(c->input);
        for (size_t j = 0; j < c->n_matches; j++) {
            free(c->matches[j].text);
            free(c->matches[j].list_item);
            free(c->matches[j].tooltip);
            free(c->matches[j].type_name);
        }
        free(c->matches);
    }
    free(fx->completions);
    free(fx);
}

/* ---- steps ---- */

static int add_value(fx_step *s, etsn_value *v)
{
    etsn_value **nv = realloc(s->values, (s->n_values + 1) * sizeof *nv);
    if (!nv) {
        etsn_v_free(v);
        return -1;
    }
    s->values = nv;
    s->values[s->n_values++] = v;
    return 0;
}

/* Element children parsed as CLIXML values; or, with none, the text as one
 * string (when allow_text). */
static int parse_values(lctx *c, const xmlNode *n, fx_step *s, bool allow_text)
{
    bool any = false;
    for (xmlNode *ch = n->children; ch; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE) continue;
        any = true;
        char err[256] = "";
        etsn_value *v = etsn_clixml_from_node(ch, NULL, err, sizeof err);
        if (!v) return fail(c, ch, "<%s>: bad CLIXML value <%s>: %s", n->name, ch->name, err);
        if (add_value(s, v) < 0) return fail(c, ch, "out of memory");
    }
    if (any) return 0;
    char *t = own_text(n);
    if (!t) return fail(c, n, "out of memory");
    if (blank(t) && !allow_text) {
        free(t);
        return 0;
    }
    if (!allow_text) {
        free(t);
        return fail(c, n, "<%s>: text is not allowed here; use CLIXML elements", n->name);
    }
    if (blank(t) && n->children == NULL) {
        free(t);
        return 0; /* <host-call method="WriteLine1"/> */
    }
    etsn_value *v = etsn_v_string(t);
    free(t);
    if (!v || add_value(s, v) < 0) return fail(c, n, "out of memory");
    return 0;
}

/* Appends an element's text to a list of lines (<line> children). */
static int add_line(lctx *c, const xmlNode *n, char ***lines, size_t *cnt)
{
    char **v = realloc(*lines, (*cnt + 1) * sizeof *v);
    if (!v) return fail(c, n, "out of memory");
    *lines = v;
    if (!(v[*cnt] = own_text(n))) return fail(c, n, "out of memory");
    (*cnt)++;
    return 0;
}

/* <output>: CLIXML values (or text: one String) and optionally <line>s, the
 * text Out-Default writes for them on a console. An object that is neither
 * a primitive nor has a ToString needs <line>s: nothing else says how the
 * server would format it. */
static int parse_output(lctx *c, const xmlNode *n, fx_step *s)
{
    static const char *const allowed[] = {NULL};
    if (check_attrs(c, n, allowed) < 0) return -1;
    s->kind = FX_OUTPUT;
    bool any_value = false;
    for (xmlNode *ch = n->children; ch; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE) continue;
        if (is_el(ch, "line")) {
            if (add_line(c, ch, &s->lines, &s->n_lines) < 0) return -1;
            continue;
        }
        any_value = true;
        char err[256] = "";
        etsn_value *v = etsn_clixml_from_node(ch, NULL, err, sizeof err);
        if (!v) return fail(c, ch, "<output>: bad CLIXML value <%s>: %s", ch->name, err);
        if (add_value(s, v) < 0) return fail(c, ch, "out of memory");
        if (v->kind == ETSN_V_OBJ && !v->to_string && !v->base && !s->n_lines) {
            bool lines_follow = false;
            for (xmlNode *m = ch->next; m; m = m->next)
                if (m->type == XML_ELEMENT_NODE && is_el(m, "line")) lines_follow = true;
            if (!lines_follow)
                return fail(c, ch,
                            "<output>: an object without <ToString> needs <line> children (how "
                            "Out-Default formats it on a console)");
        }
    }
    if (!any_value && !s->n_lines && parse_values(c, n, s, true) < 0) return -1;
    if (!s->n_values) {
        etsn_value *v = etsn_v_string("");
        if (!v || add_value(s, v) < 0) return fail(c, n, "out of memory");
    }
    return 0;
}

static int parse_error(lctx *c, const xmlNode *n, fx_error *e)
{
    static const char *const allowed[] = {
        "message",         "exception-type", "fqid",   "category",
        "category-number", "activity",       "reason", "target-name",
        "target-type",     "position",       NULL};
    if (check_attrs(c, n, allowed) < 0) return -1;
    e->message = get_attr(n, "message");
    if (!e->message) return fail(c, n, "<error-record> needs message=");
    e->exception_type = get_attr(n, "exception-type");
    e->fqid = get_attr(n, "fqid");
    e->category_name = get_attr(n, "category");
    e->activity = get_attr(n, "activity");
    e->reason = get_attr(n, "reason");
    e->target_name = get_attr(n, "target-name");
    e->target_type = get_attr(n, "target-type");
    e->position = get_attr(n, "position");
    char *num = get_attr(n, "category-number");
    if (num) {
        char *end;
        long v = strtol(num, &end, 10);
        bool bad = *num == 0 || *end || v < 0 || v > 1000;
        free(num);
        if (bad) return fail(c, n, "<error-record category-number=...>: not a number");
        e->category = (int)v;
    } else if (e->category_name) {
        e->category = fx_error_category(e->category_name);
        if (e->category < 0)
            return fail(c, n, "<error-record category=\"%s\">: unknown ErrorCategory",
                        e->category_name);
    }
    if (!e->category_name) e->category_name = strdup(categories[0]);
    if (!e->fqid) e->fqid = strdup("");
    if (!e->reason) {
        /* Reason defaults to the short exception type name, as in PowerShell. */
        const char *t = e->exception_type ? e->exception_type : "Exception";
        const char *dot = strrchr(t, '.');
        e->reason = strdup(dot ? dot + 1 : t);
    }
    for (xmlNode *ch = n->children; ch; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE) continue;
        if (!is_el(ch, "line")) return fail(c, ch, "<error-record>: unexpected <%s>", ch->name);
        if (add_line(c, ch, &e->lines, &e->n_lines) < 0) return -1;
    }
    return 0;
}

static int parse_state_name(const char *s, int *out)
{
    static const char *const names[] = {"NotStarted", "Running", "Stopping",    "Stopped",
                                        "Completed",  "Failed",  "Disconnected"};
    for (int i = 0; i < 7; i++)
        if (!strcasecmp(names[i], s)) {
            *out = i;
            return 0;
        }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && v <= 6) {
        *out = (int)v;
        return 0;
    }
    return -1;
}

/* Methods whose result the client sends back (MS-PSRP 2.2.3.17): the rest are
 * void and use ci = -100. */
static bool method_returns(int m)
{
    switch (m) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 11:
    case 12:
    case 23:
    case 24:
    case 25:
    case 26:
    case 27:
    case 29:
    case 31:
    case 33:
    case 35:
    case 37:
    case 39:
    case 41:
    case 43:
    case 44:
    case 45:
    case 46:
    case 50:
    case 54:
    case 55:
    case 56:
        return true;
    default:
        return false;
    }
}

/* ---- readable host-call parameters ----
 * PowerShell's server encodes host-call parameters with RemoteHostEncoder:
 * structs and FieldDescription/ChoiceDescription become property bags of
 * their private fields (no type names), Collection<T> and IEnumerable<int>
 * become ArrayLists, enums become Int32. The helpers below build exactly
 * those shapes from short elements, so a fixture never spells them out. */

static etsn_value *fx_array_list(void)
{
    static const char *const t[] = {"System.Collections.ArrayList", "System.Object", NULL};
    return etsn_v_typed(t, ETSN_COLL_LST);
}

static const char *const console_colors[] = {
    "Black",      "DarkBlue", "DarkGreen", "DarkCyan", "DarkRed", "DarkMagenta",
    "DarkYellow", "Gray",     "DarkGray",  "Blue",     "Green",   "Cyan",
    "Red",        "Magenta",  "Yellow",    "White",
};

/* An Int32 from a number or a name (ConsoleColor names, or one of the
 * given enum names). */
static int parse_int_or_name(const char *s, const char *const *names, size_t n_names, long *out)
{
    while (isspace((unsigned char)*s)) s++;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (*s && !errno) {
        while (isspace((unsigned char)*end)) end++;
        if (!*end) {
            *out = v;
            return 0;
        }
    }
    char *t = trim_dup(s);
    if (!t) return -1;
    for (size_t i = 0; names && i < n_names; i++)
        if (!strcasecmp(names[i], t)) {
            free(t);
            *out = (long)i;
            return 0;
        }
    free(t);
    return -1;
}

static int int_attr(lctx *c, const xmlNode *n, const char *name, long def, long *out)
{
    char *v = get_attr(n, name);
    if (!v) {
        *out = def;
        return 0;
    }
    int rc = parse_int_or_name(v, console_colors, 16, out);
    free(v);
    if (rc < 0) return fail(c, n, "<%s %s=...>: not a number", n->name, name);
    return 0;
}

static int add_member(etsn_value *o, const char *name, etsn_value *v)
{
    return etsn_obj_add_member(o, name, v);
}

/* FieldDescription's private fields, in declaration order, as
 * EncodeClassOrStruct writes them (null fields are left out). */
static etsn_value *field_description(lctx *c, const xmlNode *n)
{
    static const char *const allowed[] = {"name",      "type",     "label", "help",
                                          "mandatory", "assembly", NULL};
    if (check_attrs(c, n, allowed) < 0) return NULL;
    char *name = get_attr(n, "name");
    if (!name || !*name) {
        free(name);
        fail(c, n, "<field> needs name=");
        return NULL;
    }
    char *type = get_attr(n, "type");
    char *label = get_attr(n, "label");
    char *help = get_attr(n, "help");
    char *assembly = get_attr(n, "assembly");
    bool mandatory = true;
    etsn_value *o = NULL;
    if (bool_attr(c, n, "mandatory", &mandatory) < 0) goto out;
    o = etsn_v_obj();
    if (!o) goto out;
    bool ok = !add_member(o, "name", etsn_v_string(name)) &&
              !add_member(o, "label", etsn_v_string(label ? label : ""));
    if (ok && type) {
        /* FieldDescription.SetParameterType: Type.Name, Type.FullName,
         * Type.Assembly.FullName. */
        const char *dot = strrchr(type, '.');
        const char *asmname = assembly;
        bool pwsh = c->protocol && !strcmp(c->protocol, "2.4");
        if (!asmname) {
            if (!strncmp(type, "System.Management.Automation.", 29))
                asmname = pwsh ? "System.Management.Automation, Version=7.6.0.0, Culture=neutral, "
                                 "PublicKeyToken=31bf3856ad364e35"
                               : "System.Management.Automation, Version=3.0.0.0, Culture=neutral, "
                                 "PublicKeyToken=31bf3856ad364e35";
            else
                asmname = pwsh ? "System.Private.CoreLib, Version=10.0.0.0, Culture=neutral, "
                                 "PublicKeyToken=7cec85d7bea7798e"
                               : "mscorlib, Version=4.0.0.0, Culture=neutral, "
                                 "PublicKeyToken=b77a5c561934e089";
        }
        ok = !add_member(o, "parameterTypeName", etsn_v_string(dot ? dot + 1 : type)) &&
             !add_member(o, "parameterTypeFullName", etsn_v_string(type)) &&
             !add_member(o, "parameterAssemblyFullName", etsn_v_string(asmname));
    }
    ok = ok && !add_member(o, "helpMessage", etsn_v_string(help ? help : "")) &&
         !add_member(o, "isMandatory", etsn_v_bool(mandatory)) &&
         !add_member(o, "metadata", fx_array_list()) &&
         !add_member(o, "modifiedByRemotingProtocol", etsn_v_bool(false)) &&
         !add_member(o, "isFromRemoteHost", etsn_v_bool(false));
    if (!ok) {
        etsn_v_free(o);
        o = NULL;
        fail(c, n, "out of memory");
    }
out:
    free(name);
    free(type);
    free(label);
    free(help);
    free(assembly);
    return o;
}

static etsn_value *choice_description(lctx *c, const xmlNode *n)
{
    static const char *const allowed[] = {"label", "help", NULL};
    if (check_attrs(c, n, allowed) < 0) return NULL;
    char *label = get_attr(n, "label");
    char *help = get_attr(n, "help");
    etsn_value *o = NULL;
    if (!label) {
        fail(c, n, "<choice> needs label= (an & marks the hot key: \"&amp;Yes\")");
    } else if (!(o = etsn_v_obj()) || add_member(o, "label", etsn_v_string(label)) < 0 ||
               add_member(o, "helpMessage", etsn_v_string(help ? help : "")) < 0) {
        etsn_v_free(o);
        o = NULL;
        fail(c, n, "out of memory");
    }
    free(label);
    free(help);
    return o;
}

static etsn_value *int_list(lctx *c, const xmlNode *n, const char *text)
{
    etsn_value *l = fx_array_list();
    char **parts = NULL;
    size_t np = 0;
    if (!l || split_list(text, &parts, &np) < 0) {
        etsn_v_free(l);
        fail(c, n, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < np; i++) {
        long v;
        if (l && parse_int_or_name(parts[i], NULL, 0, &v) < 0) {
            fail(c, n, "<%s>: '%s' is not a number", n->name, parts[i]);
            etsn_v_free(l);
            l = NULL;
        } else if (l && etsn_obj_push_item(l, etsn_v_i32((int32_t)v)) < 0) {
            etsn_v_free(l);
            l = NULL;
            fail(c, n, "out of memory");
        }
        free(parts[i]);
    }
    free(parts);
    return l;
}

/* Coordinates, Size, Rectangle and BufferCell: structs whose private fields
 * carry their lower-case names. */
static etsn_value *struct_value(lctx *c, const xmlNode *n, const char *const *fields,
                                const long *defaults)
{
    if (check_attrs(c, n, fields) < 0) return NULL;
    etsn_value *o = etsn_v_obj();
    if (!o) return NULL;
    for (size_t i = 0; fields[i]; i++) {
        long v;
        if (int_attr(c, n, fields[i], defaults[i], &v) < 0 ||
            add_member(o, fields[i], etsn_v_i32((int32_t)v)) < 0) {
            etsn_v_free(o);
            return NULL;
        }
    }
    return o;
}

static etsn_value *buffer_cell(lctx *c, const xmlNode *n)
{
    static const char *const allowed[] = {"char", "foreground", "background", "type", NULL};
    if (check_attrs(c, n, allowed) < 0) return NULL;
    char *ch = get_attr(n, "char");
    long fg, bg, type;
    etsn_value *o = NULL;
    if (int_attr(c, n, "foreground", 7, &fg) < 0 || int_attr(c, n, "background", 0, &bg) < 0 ||
        int_attr(c, n, "type", 0, &type) < 0)
        goto out;
    o = etsn_v_obj();
    /* BufferCell's fields: character (a Char), foregroundColor,
     * backgroundColor, bufferCellType. */
    unsigned char c0 = ch && *ch ? (unsigned char)ch[0] : ' ';
    if (!o || add_member(o, "character", etsn_v_int(ETSN_V_CHAR, c0)) < 0 ||
        add_member(o, "foregroundColor", etsn_v_i32((int32_t)fg)) < 0 ||
        add_member(o, "backgroundColor", etsn_v_i32((int32_t)bg)) < 0 ||
        add_member(o, "bufferCellType", etsn_v_i32((int32_t)type)) < 0) {
        etsn_v_free(o);
        o = NULL;
    }
out:
    free(ch);
    return o;
}

/* BufferCell[,] as EncodeArray writes it: {mae: elements row by row,
 * mal: the lengths}. <cells rows= cols= char= .../> fills it uniformly. */
static etsn_value *buffer_cells(lctx *c, const xmlNode *n)
{
    static const char *const allowed[] = {"rows", "cols", "char", "foreground", "background", NULL};
    if (check_attrs(c, n, allowed) < 0) return NULL;
    long rows, cols;
    if (int_attr(c, n, "rows", 1, &rows) < 0 || int_attr(c, n, "cols", 1, &cols) < 0) return NULL;
    if (rows < 1 || cols < 1 || rows * cols > 100000) {
        fail(c, n, "<cells>: rows and cols must be 1.. and at most 100000 cells");
        return NULL;
    }
    etsn_value *o = etsn_v_obj(), *mae = fx_array_list(), *mal = fx_array_list();
    bool ok = o && mae && mal;
    for (long i = 0; ok && i < rows * cols; i++) {
        /* the cell helper checks attributes it does not know: reuse it on a
         * node that only has the cell's own attributes is not possible, so
         * build the cell here */
        char *ch = get_attr(n, "char");
        long fg, bg;
        ok = !int_attr(c, n, "foreground", 7, &fg) && !int_attr(c, n, "background", 0, &bg);
        etsn_value *cell = ok ? etsn_v_obj() : NULL;
        unsigned char c0 = ch && *ch ? (unsigned char)ch[0] : ' ';
        free(ch);
        ok = cell && !add_member(cell, "character", etsn_v_int(ETSN_V_CHAR, c0)) &&
             !add_member(cell, "foregroundColor", etsn_v_i32((int32_t)fg)) &&
             !add_member(cell, "backgroundColor", etsn_v_i32((int32_t)bg)) &&
             !add_member(cell, "bufferCellType", etsn_v_i32(0));
        if (!ok) {
            etsn_v_free(cell);
            break;
        }
        ok = !etsn_obj_push_item(mae, cell);
    }
    ok = ok && !etsn_obj_push_item(mal, etsn_v_i32((int32_t)rows)) &&
         !etsn_obj_push_item(mal, etsn_v_i32((int32_t)cols));
    if (ok) {
        ok = !add_member(o, "mae", mae) && !add_member(o, "mal", mal);
        mae = mal = NULL;
    }
    etsn_v_free(mae);
    etsn_v_free(mal);
    if (!ok) {
        etsn_v_free(o);
        return NULL;
    }
    return o;
}

static int parse_expect_field(lctx *c, const xmlNode *n, fx_step *s)
{
    static const char *const allowed[] = {"name", NULL};
    if (check_attrs(c, n, allowed) < 0) return -1;
    fx_expect_field *f = realloc(s->fields, (s->n_fields + 1) * sizeof *f);
    if (!f) return fail(c, n, "out of memory");
    s->fields = f;
    f = &f[s->n_fields++];
    memset(f, 0, sizeof *f);
    f->name = get_attr(n, "name");
    if (!f->name || !*f->name) return fail(c, n, "<expect-field> needs name=");
    for (xmlNode *ch = n->children; ch; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE) continue;
        if (!is_el(ch, "item")) return fail(c, ch, "<expect-field>: only <item> elements");
        char **v = realloc(f->items, (f->n_items + 1) * sizeof *v);
        if (!v) return fail(c, ch, "out of memory");
        f->items = v;
        if (!(f->items[f->n_items++] = own_text(ch))) return fail(c, ch, "out of memory");
        f->is_list = true;
    }
    if (!f->is_list && !(f->text = own_text(n))) return fail(c, n, "out of memory");
    return 0;
}

/* Parameters each host method carries (MS-PSRP 2.2.3.17 and what a
 * PowerShell server sends); -1 where the fixture decides. */
static int method_param_count(int m)
{
    switch (m) {
    case 11:
    case 12:
    case 15:
    case 47:
    case 53:
        return 0;
    case 6:
    case 13:
    case 16:
    case 18:
    case 19:
    case 21:
    case 22:
    case 28:
    case 30:
    case 32:
    case 34:
    case 36:
    case 38:
    case 40:
    case 42:
    case 46:
        return 1;
    case 20:
    case 48:
    case 49:
        return 2;
    case 14:
    case 17:
    case 23:
        return 3;
    case 24:
    case 26:
    case 51:
    case 56:
        return 4;
    case 25:
        return 6;
    default:
        return -1;
    }
}

static bool text_helper(const xmlNode *n)
{
    return is_el(n, "caption") || is_el(n, "message") || is_el(n, "user") || is_el(n, "target") ||
           is_el(n, "text");
}

static bool int_helper(const xmlNode *n)
{
    return is_el(n, "options") || is_el(n, "allowed-types") || is_el(n, "color") || is_el(n, "int");
}

/* The host call's parameters (mp items) from its children, in order:
 * helper elements and CLIXML values may be mixed. Consecutive <field> or
 * <choice> elements form one ArrayList parameter. */
static int parse_host_params(lctx *c, const xmlNode *n, fx_step *s)
{
    bool any = false;
    for (xmlNode *ch = n->children; ch; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE) continue;
        any = true;
        etsn_value *v = NULL;
        if (is_el(ch, "expect-field")) {
            if (parse_expect_field(c, ch, s) < 0) return -1;
            continue;
        }
        if (is_el(ch, "expect-credential")) {
            static const char *const allowed[] = {"user", "password", NULL};
            if (check_attrs(c, ch, allowed) < 0) return -1;
            free(s->expect_user);
            free(s->expect_password);
            s->expect_user = get_attr(ch, "user");
            s->expect_password = get_attr(ch, "password");
            if (!s->expect_user && !s->expect_password)
                return fail(c, ch, "<expect-credential> needs user= and/or password=");
            continue;
        }
        if (text_helper(ch)) {
            static const char *const allowed[] = {"nil", NULL};
            if (check_attrs(c, ch, allowed) < 0) return -1;
            bool nil = false;
            if (bool_attr(c, ch, "nil", &nil) < 0) return -1;
            char *t = own_text(ch);
            if (!t) return fail(c, ch, "out of memory");
            v = nil ? etsn_v_nil() : etsn_v_string(t);
            free(t);
        } else if (int_helper(ch) || is_el(ch, "default")) {
            static const char *const allowed[] = {NULL};
            if (check_attrs(c, ch, allowed) < 0) return -1;
            char *t = own_text(ch);
            if (!t) return fail(c, ch, "out of memory");
            if (is_el(ch, "default") && s->method_id == 56) {
                v = int_list(c, ch, t); /* IEnumerable<int> defaultChoices */
                free(t);
                if (!v) return -1;
            } else {
                long num;
                int rc = parse_int_or_name(t, console_colors, 16, &num);
                if (rc < 0) fail(c, ch, "<%s>: '%s' is not a number or colour", ch->name, t);
                free(t);
                if (rc < 0) return -1;
                v = etsn_v_i32((int32_t)num);
            }
        } else if (is_el(ch, "field") || is_el(ch, "choice")) {
            const char *kind = (const char *)ch->name;
            v = fx_array_list();
            if (!v) return fail(c, ch, "out of memory");
            xmlNode *last = ch;
            for (xmlNode *g = ch; g; g = g->next) {
                if (g->type != XML_ELEMENT_NODE) continue;
                if (strcmp((const char *)g->name, kind)) break;
                etsn_value *item =
                    is_el(g, "field") ? field_description(c, g) : choice_description(c, g);
                if (!item || etsn_obj_push_item(v, item) < 0) {
                    etsn_v_free(v);
                    return -1;
                }
                last = g;
            }
            ch = last;
        } else if (is_el(ch, "coordinates")) {
            static const char *const f[] = {"x", "y", NULL};
            static const long d[] = {0, 0};
            v = struct_value(c, ch, f, d);
        } else if (is_el(ch, "size")) {
            static const char *const f[] = {"width", "height", NULL};
            static const long d[] = {0, 0};
            v = struct_value(c, ch, f, d);
        } else if (is_el(ch, "rectangle")) {
            static const char *const f[] = {"left", "top", "right", "bottom", NULL};
            static const long d[] = {0, 0, 0, 0};
            v = struct_value(c, ch, f, d);
        } else if (is_el(ch, "buffer-cell")) {
            v = buffer_cell(c, ch);
        } else if (is_el(ch, "cells")) {
            v = buffer_cells(c, ch);
        } else {
            char err[256] = "";
            v = etsn_clixml_from_node(ch, NULL, err, sizeof err);
            if (!v) return fail(c, ch, "<%s>: bad CLIXML value <%s>: %s", n->name, ch->name, err);
        }
        if (!v) return c->err[0] ? -1 : fail(c, ch, "out of memory");
        if (add_value(s, v) < 0) return fail(c, ch, "out of memory");
    }
    if (!any) return parse_values(c, n, s, true);
    return 0;
}

/* Fills what PowerShell's server always sends but a fixture may leave out,
 * then checks the count. */
static int complete_host_params(lctx *c, const xmlNode *n, fx_step *s)
{
    long fg = -1, bg = -1;
    if (int_attr(c, n, "foreground", -1, &fg) < 0 || int_attr(c, n, "background", -1, &bg) < 0)
        return -1;
    if (fg >= 0 || bg >= 0) {
        if (s->method_id != 14 && s->method_id != 17)
            return fail(c, n, "<host-call>: foreground=/background= are for Write2 and WriteLine3");
        if (s->n_values != 1)
            return fail(c, n, "<host-call>: with foreground=/background= give only the text");
        etsn_value **nv = realloc(s->values, 3 * sizeof *nv);
        if (!nv) return fail(c, n, "out of memory");
        s->values = nv;
        nv[2] = nv[0];
        nv[0] = etsn_v_i32((int32_t)(fg >= 0 ? fg : 7));
        nv[1] = etsn_v_i32((int32_t)(bg >= 0 ? bg : 0));
        s->n_values = 3;
        if (!nv[0] || !nv[1]) return fail(c, n, "out of memory");
    }
    if (s->n_values == 0 && method_param_count(s->method_id) == 1 &&
        (s->method_id == 13 || s->method_id == 16 || s->method_id == 18 || s->method_id == 19 ||
         s->method_id == 21 || s->method_id == 22 || s->method_id == 42)) {
        /* <host-call method="WriteLine2"/>: an empty line */
        if (add_value(s, etsn_v_string("")) < 0) return fail(c, n, "out of memory");
    }
    if (s->method_id == 25 && s->n_values == 4) {
        /* PSCredentialTypes.Default (Generic|Domain = 3),
         * PSCredentialUIOptions.Default (ValidateUserNameSyntax = 1) */
        if (add_value(s, etsn_v_i32(3)) < 0 || add_value(s, etsn_v_i32(1)) < 0)
            return fail(c, n, "out of memory");
    }
    if (s->method_id == 46 && s->n_values == 0) {
        /* RawUI.ReadKey() without options: IncludeKeyDown (4) */
        if (add_value(s, etsn_v_i32(4)) < 0) return fail(c, n, "out of memory");
    }
    if ((s->method_id == 26 || s->method_id == 56) && s->n_values == 3) {
        /* no <default>: -1 (none) or an empty list */
        etsn_value *d = s->method_id == 26 ? etsn_v_i32(-1) : fx_array_list();
        if (!d || add_value(s, d) < 0) return fail(c, n, "out of memory");
    }
    int want = method_param_count(s->method_id);
    if (want >= 0 && s->n_values != (size_t)want)
        return fail(c, n,
                    "<host-call method=\"%s\">: PowerShell sends %d parameter(s), the fixture "
                    "gives %zu",
                    etsn_host_method_name(s->method_id), want, s->n_values);
    return 0;
}

static int parse_via(lctx *c, const xmlNode *n, fx_step *s)
{
    char *v = get_attr(n, "via");
    s->via = FX_VIA_MESSAGE;
    if (!v) return 0;
    int rc = 0;
    if (!strcmp(v, "host-call"))
        s->via = FX_VIA_HOST_CALL;
    else if (!strcmp(v, "both"))
        s->via = FX_VIA_BOTH;
    else if (strcmp(v, "message"))
        rc = fail(c, n, "<%s via=\"%s\">: message, host-call or both", n->name, v);
    free(v);
    return rc;
}

/* A ProgressRecord as ProgressRecord.ToPSObjectForRemoting writes it (the
 * same bag for PROGRESS_RECORD and for WriteProgress's second parameter). */
static int parse_progress(lctx *c, const xmlNode *n, fx_step *s)
{
    static const char *const allowed[] = {"activity", "status",    "percent",   "id",
                                          "parent",   "seconds",   "operation", "completed",
                                          "via",      "source-id", NULL};
    if (check_attrs(c, n, allowed) < 0) return -1;
    s->kind = FX_PROGRESS;
    if (parse_via(c, n, s) < 0) return -1;
    long percent, id, parent, seconds, source;
    bool completed = false;
    if (int_attr(c, n, "percent", -1, &percent) < 0 || int_attr(c, n, "id", 0, &id) < 0 ||
        int_attr(c, n, "parent", -1, &parent) < 0 || int_attr(c, n, "seconds", -1, &seconds) < 0 ||
        int_attr(c, n, "source-id", 0, &source) < 0 || bool_attr(c, n, "completed", &completed) < 0)
        return -1;
    s->source_id = source;
    char *activity = get_attr(n, "activity");
    char *status = get_attr(n, "status");
    char *op = get_attr(n, "operation");
    etsn_value *o = etsn_v_obj();
    /* An empty activity is sent as " " (PowerShell keeps older clients happy). */
    bool ok = o &&
              !add_member(o, "Activity", etsn_v_string(activity && *activity ? activity : " ")) &&
              !add_member(o, "ActivityId", etsn_v_i32((int32_t)id)) &&
              !add_member(o, "StatusDescription", etsn_v_string(status ? status : "Processing")) &&
              !add_member(o, "CurrentOperation", op ? etsn_v_string(op) : etsn_v_nil()) &&
              !add_member(o, "ParentActivityId", etsn_v_i32((int32_t)parent)) &&
              !add_member(o, "PercentComplete", etsn_v_i32((int32_t)percent)) &&
              !add_member(o, "Type",
                          etsn_enum_value("System.Management.Automation.ProgressRecordType",
                                          completed ? "Completed" : "Processing", completed)) &&
              !add_member(o, "SecondsRemaining", etsn_v_i32((int32_t)seconds));
    free(activity);
    free(status);
    free(op);
    if (!ok) {
        etsn_v_free(o);
        return fail(c, n, "out of memory");
    }
    if (add_value(s, o) < 0) return fail(c, n, "out of memory");
    return 0;
}

/* <warning>, <verbose>, <debug>: WARNING_RECORD etc. (or the host's
 * WriteWarningLine etc.); <information>: INFORMATION_RECORD. */
static int parse_stream(lctx *c, const xmlNode *n, fx_step *s)
{
    bool info = is_el(n, "information");
    static const char *const allowed[] = {"via", NULL};
    static const char *const allowed_info[] = {"source", "tags", NULL};
    if (check_attrs(c, n, info ? allowed_info : allowed) < 0) return -1;
    s->kind = FX_STREAM;
    if (!info && parse_via(c, n, s) < 0) return -1;
    s->stream = is_el(n, "warning")   ? ETSN_MSG_WARNING_RECORD
                : is_el(n, "verbose") ? ETSN_MSG_VERBOSE_RECORD
                : is_el(n, "debug")   ? ETSN_MSG_DEBUG_RECORD
                                      : ETSN_MSG_INFORMATION_RECORD;
    for (const xmlNode *ch = n->children; ch; ch = ch->next)
        if (ch->type == XML_ELEMENT_NODE) return fail(c, ch, "<%s> holds text only", n->name);
    s->text = own_text(n);
    if (!s->text) return fail(c, n, "out of memory");
    if (info) {
        s->source = get_attr(n, "source");
        char *tags = get_attr(n, "tags");
        int rc = tags ? split_list(tags, &s->tags, &s->n_tags) : 0;
        free(tags);
        if (rc < 0) return fail(c, n, "out of memory");
    }
    return 0;
}

static int parse_steps(lctx *c, const xmlNode *parent, fx_step **out, size_t *n_out, int depth);

static int parse_step(lctx *c, const xmlNode *n, fx_step *s, int depth)
{
    s->line = (int)xmlGetLineNo(n);
    if (is_el(n, "host-call")) {
        static const char *const allowed[] = {"method",     "id",         "expect",
                                              "foreground", "background", NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_HOST_CALL;
        char *m = get_attr(n, "method");
        if (!m) return fail(c, n, "<host-call> needs method=");
        char *end;
        long num = strtol(m, &end, 10);
        if (*m && !*end)
            s->method_id = (int)num;
        else
            s->method_id = etsn_host_method_from_name(m);
        bool bad = s->method_id <= 0 || !etsn_host_method_name(s->method_id);
        if (bad) {
            fail(c, n, "<host-call method=\"%s\">: unknown host method", m);
            free(m);
            return -1;
        }
        free(m);
        s->wants_answer = method_returns(s->method_id);
        s->id = get_attr(n, "id");
        s->expect = get_attr(n, "expect");
        if (s->expect && !strcmp(s->expect, "error")) s->expect_error = true;
        if ((s->id || s->expect) && !s->wants_answer)
            return fail(c, n, "<host-call method=\"%s\">: a void method gets no answer to expect",
                        etsn_host_method_name(s->method_id));
        if (parse_host_params(c, n, s) < 0) return -1;
        if ((s->n_fields || s->expect_user || s->expect_password) && !s->wants_answer)
            return fail(c, n, "<host-call method=\"%s\">: a void method gets no answer to expect",
                        etsn_host_method_name(s->method_id));
        return complete_host_params(c, n, s);
    }
    if (is_el(n, "sleep")) {
        static const char *const allowed[] = {"ms", NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_SLEEP;
        long ms;
        char *v = get_attr(n, "ms");
        int rc = v ? parse_int_or_name(v, NULL, 0, &ms) : -1;
        free(v);
        if (rc < 0 || ms < 0 || ms > 3600000)
            return fail(c, n, "<sleep ms=...>: a number of milliseconds (0..3600000)");
        s->ms = (uint32_t)ms;
        return 0;
    }
    if (is_el(n, "progress")) return parse_progress(c, n, s);
    if (is_el(n, "warning") || is_el(n, "verbose") || is_el(n, "debug") || is_el(n, "information"))
        return parse_stream(c, n, s);
    if (is_el(n, "incomplete-input")) {
        static const char *const allowed[] = {"message", "fqid", NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_INCOMPLETE;
        s->has_error = true;
        fx_error *e = &s->error;
        e->message = get_attr(n, "message");
        if (!e->message)
            e->message = strdup("Missing closing '}' in statement block or type definition.");
        e->fqid = get_attr(n, "fqid");
        if (!e->fqid) e->fqid = strdup("IncompleteParseException");
        e->exception_type = strdup("System.Management.Automation.IncompleteParseException");
        e->category_name = strdup("ParserError");
        e->category = 17;
        /* The console's test: CategoryInfo.Reason == "IncompleteParseException". */
        e->reason = strdup("IncompleteParseException");
        e->activity = strdup("");
        e->target_name = strdup("");
        e->target_type = strdup("");
        if (!e->message || !e->fqid || !e->exception_type || !e->category_name || !e->reason ||
            !e->activity || !e->target_name || !e->target_type)
            return fail(c, n, "out of memory");
        return 0;
    }
    if (is_el(n, "break-session")) {
        static const char *const allowed[] = {"mode", "message", NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_BREAK;
        char *mode = get_attr(n, "mode");
        if (mode && strcmp(mode, "broken") && strcmp(mode, "vanish")) {
            free(mode);
            return fail(c, n, "<break-session mode=...>: broken or vanish");
        }
        s->vanish = mode && !strcmp(mode, "vanish");
        free(mode);
        fx_error *e = &s->error;
        s->has_error = true;
        e->message = get_attr(n, "message");
        if (!e->message)
            e->message =
                strdup("The WSMan provider host process did not return a proper response.  A "
                       "provider in the host process may have behaved improperly.");
        e->exception_type =
            strdup("System.Management.Automation.Remoting.PSRemotingTransportException");
        e->fqid = strdup("PSSessionStateBroken");
        e->category_name = strdup("OpenError");
        e->category = 1;
        e->reason = strdup("PSRemotingTransportException");
        if (!e->message || !e->exception_type || !e->fqid || !e->category_name || !e->reason)
            return fail(c, n, "out of memory");
        return 0;
    }
    if (is_el(n, "secure-string")) {
        static const char *const allowed[] = {NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_SECURE;
        s->text = own_text(n);
        return s->text ? 0 : fail(c, n, "out of memory");
    }
    if (is_el(n, "input")) {
        static const char *const allowed[] = {NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_INPUT;
        return 0;
    }
    if (is_el(n, "public-key-request")) {
        static const char *const allowed[] = {NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_KEY_REQUEST;
        return 0;
    }
    if (is_el(n, "output")) return parse_output(c, n, s);
    if (is_el(n, "error-line")) {
        static const char *const allowed[] = {NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_ERROR_LINE;
        s->text = own_text(n);
        return s->text ? 0 : fail(c, n, "out of memory");
    }
    if (is_el(n, "error-record")) {
        s->kind = FX_ERROR_RECORD;
        s->has_error = true;
        return parse_error(c, n, &s->error);
    }
    if (is_el(n, "message")) {
        static const char *const allowed[] = {"type", NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_MESSAGE;
        char *t = get_attr(n, "type");
        if (!t) return fail(c, n, "<message> needs type=");
        s->message_type = etsn_message_type_from_name(t);
        if (!s->message_type) {
            char *end;
            unsigned long v = strtoul(t, &end, 0);
            if (*t && !*end) s->message_type = (uint32_t)v;
        }
        if (!s->message_type) {
            fail(c, n, "<message type=\"%s\">: unknown message type", t);
            free(t);
            return -1;
        }
        free(t);
        if (parse_values(c, n, s, false) < 0) return -1;
        if (s->n_values != 1) return fail(c, n, "<message> holds exactly one CLIXML value");
        return 0;
    }
    if (is_el(n, "wait-signal")) {
        static const char *const allowed[] = {NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_WAIT_SIGNAL;
        return 0;
    }
    if (is_el(n, "repeat")) {
        static const char *const allowed[] = {"count", NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_REPEAT;
        if (depth + 1 > FX_MAX_DEPTH)
            return fail(c, n, "<repeat> nested deeper than %d", FX_MAX_DEPTH);
        char *cnt = get_attr(n, "count");
        if (!cnt) return fail(c, n, "<repeat> needs count=");
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cnt, &end, 10);
        bool bad = !*cnt || *end || errno || cnt[0] == '-';
        free(cnt);
        if (bad) return fail(c, n, "<repeat count=...>: not a non-negative number");
        s->count = v;
        return parse_steps(c, n, &s->children, &s->n_children, depth + 1);
    }
    if (is_el(n, "state")) {
        static const char *const allowed[] = {"value", NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_STATE;
        char *v = get_attr(n, "value");
        if (!v) {
            char *t = own_text(n);
            v = t ? trim_dup(t) : NULL;
            free(t);
        }
        if (!v) return fail(c, n, "out of memory");
        int rc = parse_state_name(v, &s->state);
        if (rc < 0) fail(c, n, "<state>: unknown pipeline state '%s'", v);
        free(v);
        if (rc < 0) return -1;
        for (xmlNode *ch = n->children; ch; ch = ch->next) {
            if (ch->type != XML_ELEMENT_NODE) continue;
            if (!is_el(ch, "error-record") || s->has_error)
                return fail(c, ch, "<state> may hold one <error-record>");
            s->has_error = true;
            if (parse_error(c, ch, &s->error) < 0) return -1;
        }
        return 0;
    }
    return fail(c, n, "unknown pipeline step <%s>", n->name);
}

static int parse_steps(lctx *c, const xmlNode *parent, fx_step **out, size_t *n_out, int depth)
{
    size_t n = 0;
    bool in_pipeline = is_el(parent, "pipeline");
    for (xmlNode *ch = parent->children; ch; ch = ch->next)
        if (ch->type == XML_ELEMENT_NODE)
            n++;
        else if (ch->type == XML_TEXT_NODE && !blank((const char *)ch->content))
            return fail(c, ch, "<%s>: stray text", parent->name);
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out) return fail(c, parent, "out of memory");
    *n_out = 0;
    for (xmlNode *ch = parent->children; ch; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE) continue;
        if (in_pipeline && is_el(ch, "command")) continue; /* the pipeline's text */
        fx_step *s = &(*out)[(*n_out)++];
        if (parse_step(c, ch, s, depth) < 0) return -1;
        if (s->kind == FX_STATE && ch->next) {
            for (xmlNode *r = ch->next; r; r = r->next)
                if (r->type == XML_ELEMENT_NODE)
                    return fail(c, r, "<%s> after <state>: the pipeline has ended", r->name);
        }
    }
    return 0;
}

/* ---- top level ---- */

static int set_str(char **dst, const xmlNode *n, const char *name)
{
    char *v = get_attr(n, name);
    if (!v) return 0;
    free(*dst);
    *dst = v;
    return 0;
}

/* An optional whole-number attribute in [lo, hi]; *out untouched when absent. */
static int uint_attr(lctx *c, const xmlNode *n, const char *name, long lo, long hi, uint32_t *out)
{
    char *s = get_attr(n, name);
    if (!s) return 0;
    long v;
    int rc = parse_int_or_name(s, NULL, 0, &v);
    free(s);
    if (rc < 0 || v < lo || v > hi)
        return fail(c, n, "<server %s=...>: a number from %ld to %ld", name, lo, hi);
    *out = (uint32_t)v;
    return 0;
}

static int parse_server(lctx *c, const xmlNode *n, mock_fixture *fx)
{
    static const char *const allowed[] = {
        "computer",        "protocol",         "ps-version", "path",
        "location",        "resource-uri",     "edition",    "busy-ms",
        "create-delay-ms", "missing-commands", "commands",   "public-key-request",
        "max-envelope-kb", "language-mode",    NULL};
    if (check_attrs(c, n, allowed) < 0) return -1;
    if (bool_attr(c, n, "public-key-request", &fx->request_public_key) < 0) return -1;
    if (uint_attr(c, n, "busy-ms", 0, 3600000, &fx->busy_ms) < 0 ||
        uint_attr(c, n, "create-delay-ms", 0, 600000, &fx->create_delay_ms) < 0 ||
        uint_attr(c, n, "max-envelope-kb", 32, 65535, &fx->max_envelope_kb) < 0)
        return -1;
    char *lm = get_attr(n, "language-mode");
    if (lm) {
        bool none = !strcasecmp(lm, "NoLanguage"), full = !strcasecmp(lm, "FullLanguage");
        free(lm);
        if (!none && !full)
            return fail(c, n, "<server language-mode=...>: FullLanguage or NoLanguage");
        fx->no_language = none;
    }
    set_str(&fx->computer, n, "computer");
    set_str(&fx->protocol, n, "protocol");
    set_str(&fx->ps_version, n, "ps-version");
    set_str(&fx->path, n, "path");
    set_str(&fx->location, n, "location");
    set_str(&fx->resource_uri, n, "resource-uri");
    set_str(&fx->edition, n, "edition");
    if (fx->path && fx->path[0] != '/') return fail(c, n, "<server path=...> must start with /");
    if (fx->protocol && strcmp(fx->protocol, "2.0") && strcmp(fx->protocol, "2.1") &&
        strcmp(fx->protocol, "2.2") && strcmp(fx->protocol, "2.3") && strcmp(fx->protocol, "2.4"))
        return fail(c, n, "<server protocol=\"%s\">: expected 2.0 to 2.4", fx->protocol);
    char *v = get_attr(n, "missing-commands");
    if (v) {
        int rc = split_list(v, &fx->missing_commands, &fx->n_missing);
        free(v);
        if (rc < 0) return fail(c, n, "out of memory");
    }
    v = get_attr(n, "commands");
    if (v) {
        int rc = split_list(v, &fx->extra_commands, &fx->n_extra);
        free(v);
        if (rc < 0) return fail(c, n, "out of memory");
    }
    return 0;
}

static int parse_user(lctx *c, const xmlNode *n, mock_fixture *fx)
{
    static const char *const allowed[] = {"name", "password", NULL};
    if (check_attrs(c, n, allowed) < 0) return -1;
    char *name = get_attr(n, "name");
    char *pw = get_attr(n, "password");
    if (!name || !pw || !*name) {
        free(name);
        if (pw) etsn_secure_zero(pw, strlen(pw));
        free(pw);
        return fail(c, n, "<user> needs name= and password=");
    }
    fx_user *u = realloc(fx->users, (fx->n_users + 1) * sizeof *u);
    if (!u) {
        free(name);
        etsn_secure_zero(pw, strlen(pw));
        free(pw);
        return fail(c, n, "out of memory");
    }
    fx->users = u;
    u = &fx->users[fx->n_users++];
    u->password = pw;
    char *bs = strchr(name, '\\');
    if (bs) {
        u->domain = strndup(name, (size_t)(bs - name));
        u->name = strdup(bs + 1);
        free(name);
    } else {
        u->domain = strdup("");
        u->name = name;
    }
    if (!u->domain || !u->name) return fail(c, n, "out of memory");
    if (strchr(u->name, ':') || strchr(u->domain, ':') || strchr(pw, '\n') || strchr(u->name, '\n'))
        return fail(c, n, "<user>: ':' and newlines cannot appear in a user file entry");
    return 0;
}

static const char *const completion_types[] = {
    "Text",      "History", "Command",       "ProviderItem",   "ProviderContainer",
    "Property",  "Method",  "ParameterName", "ParameterValue", "Variable",
    "Namespace", "Type",    "Keyword",       "DynamicKeyword",
};

static int parse_completion(lctx *c, const xmlNode *n, mock_fixture *fx)
{
    static const char *const allowed[] = {"input", "cursor", "replacement-index",
                                          "replacement-length", NULL};
    if (check_attrs(c, n, allowed) < 0) return -1;
    fx_completion *cp = realloc(fx->completions, (fx->n_completions + 1) * sizeof *cp);
    if (!cp) return fail(c, n, "out of memory");
    fx->completions = cp;
    cp = &cp[fx->n_completions++];
    memset(cp, 0, sizeof *cp);
    cp->line = (int)xmlGetLineNo(n);
    cp->input = get_attr(n, "input");
    if (!cp->input) return fail(c, n, "<completion> needs input=");
    long v;
    if (int_attr(c, n, "cursor", -1, &v) < 0) return -1;
    cp->cursor = (int)v;
    if (cp->cursor > (int)strlen(cp->input))
        return fail(c, n, "<completion cursor=...> is past the end of input");
    if (int_attr(c, n, "replacement-index", -1, &v) < 0) return -1;
    cp->replacement_index = (int)v;
    if (int_attr(c, n, "replacement-length", -1, &v) < 0) return -1;
    cp->replacement_length = (int)v;
    for (xmlNode *ch = n->children; ch; ch = ch->next) {
        if (ch->type == XML_TEXT_NODE && !blank((const char *)ch->content))
            return fail(c, ch, "<completion>: stray text");
        if (ch->type != XML_ELEMENT_NODE) continue;
        if (!is_el(ch, "match")) return fail(c, ch, "<completion>: unexpected <%s>", ch->name);
        static const char *const ma[] = {"type", "list-item", "tooltip", NULL};
        if (check_attrs(c, ch, ma) < 0) return -1;
        fx_match *m = realloc(cp->matches, (cp->n_matches + 1) * sizeof *m);
        if (!m) return fail(c, ch, "out of memory");
        cp->matches = m;
        m = &m[cp->n_matches++];
        memset(m, 0, sizeof *m);
        m->text = own_text(ch);
        m->list_item = get_attr(ch, "list-item");
        m->tooltip = get_attr(ch, "tooltip");
        char *t = get_attr(ch, "type");
        long tv = -1;
        if (t && parse_int_or_name(t, completion_types,
                                   sizeof completion_types / sizeof *completion_types, &tv) < 0) {
            fail(c, ch, "<match type=\"%s\">: unknown CompletionResultType", t);
            free(t);
            return -1;
        }
        free(t);
        if (!m->text) return fail(c, ch, "out of memory");
        if (tv < 0) {
            /* What TabExpansion2 would call it: a parameter, a variable, or
             * (first word) a command, else a path. */
            const char *x = m->text;
            tv = x[0] == '-' ? 7 : x[0] == '$' ? 9 : 2;
        }
        if (tv > 13) return fail(c, ch, "<match type=...>: 0..13");
        m->type = (int)tv;
        m->type_name = strdup(completion_types[tv]);
        if (!m->list_item) m->list_item = strdup(m->text);
        if (!m->tooltip) m->tooltip = strdup(m->text);
        if (!m->type_name || !m->list_item || !m->tooltip) return fail(c, ch, "out of memory");
    }
    return 0;
}

static int parse_reply(lctx *c, const xmlNode *n, mock_fixture *fx)
{
    static const char *const allowed[] = {"action", "status", "relates-to", "shell-id", NULL};
    if (check_attrs(c, n, allowed) < 0) return -1;
    fx_reply *r = realloc(fx->replies, (fx->n_replies + 1) * sizeof *r);
    if (!r) return fail(c, n, "out of memory");
    fx->replies = r;
    r = &r[fx->n_replies++];
    memset(r, 0, sizeof *r);
    r->line = (int)xmlGetLineNo(n);
    long status;
    if (int_attr(c, n, "status", 200, &status) < 0) return -1;
    r->status = (int)status;
    r->action = get_attr(n, "action");
    r->relates_to = get_attr(n, "relates-to");
    r->shell_id = get_attr(n, "shell-id");
    if (!r->action) return fail(c, n, "<reply> needs action=");
    const xmlNode *env = NULL;
    for (const xmlNode *ch = n->children; ch && !env; ch = ch->next)
        if (ch->type == XML_ELEMENT_NODE) env = ch;
    xmlBufferPtr xb = xmlBufferCreate();
    if (!xb) return fail(c, n, "out of memory");
    if (env) xmlNodeDump(xb, n->doc, (xmlNode *)env, 0, 0);
    r->envelope = strdup(xmlBufferLength(xb) ? (const char *)xmlBufferContent(xb) : "");
    xmlBufferFree(xb);
    return r->envelope ? 0 : fail(c, n, "out of memory");
}

static int parse_root(lctx *c, const xmlNode *root, mock_fixture *fx)
{
    if (!is_el(root, "scenario")) return fail(c, root, "the root element must be <scenario>");
    static const char *const allowed[] = {"name", "description", "strict-commands", NULL};
    if (check_attrs(c, root, allowed) < 0) return -1;
    if (bool_attr(c, root, "strict-commands", &fx->strict_commands) < 0) return -1;
    fx->name = get_attr(root, "name");
    if (!fx->name || !*fx->name) return fail(c, root, "<scenario> needs name=");
    fx->description = get_attr(root, "description");
    fx->negotiate = true;
    fx->basic = true;
    fx->require_encryption = true;
    fx->max_envelope_kb = 500; /* WinRM's default since Windows Server 2012 */
    /* <server> first: what the pipelines build depends on its protocol. */
    for (xmlNode *n = root->children; n; n = n->next)
        if (is_el(n, "server") && parse_server(c, n, fx) < 0) return -1;
    c->protocol = fx->protocol ? fx->protocol : "2.3";
    for (xmlNode *n = root->children; n; n = n->next) {
        if (n->type == XML_TEXT_NODE && !blank((const char *)n->content))
            return fail(c, n, "<scenario>: stray text");
        if (n->type != XML_ELEMENT_NODE) continue;
        if (is_el(n, "server")) {
            continue; /* read above */
        } else if (is_el(n, "completion")) {
            if (parse_completion(c, n, fx) < 0) return -1;
        } else if (is_el(n, "user")) {
            if (parse_user(c, n, fx) < 0) return -1;
        } else if (is_el(n, "auth")) {
            static const char *const a[] = {"negotiate", "basic", "require-encryption", NULL};
            if (check_attrs(c, n, a) < 0 || bool_attr(c, n, "negotiate", &fx->negotiate) < 0 ||
                bool_attr(c, n, "basic", &fx->basic) < 0 ||
                bool_attr(c, n, "require-encryption", &fx->require_encryption) < 0)
                return -1;
        } else if (is_el(n, "pipeline")) {
            static const char *const a[] = {"command", "description", "run", NULL};
            if (check_attrs(c, n, a) < 0) return -1;
            fx_pipeline *p = realloc(fx->pipelines, (fx->n_pipelines + 1) * sizeof *p);
            if (!p) return fail(c, n, "out of memory");
            fx->pipelines = p;
            p = &fx->pipelines[fx->n_pipelines++];
            memset(p, 0, sizeof *p);
            p->line = (int)xmlGetLineNo(n);
            long run;
            if (int_attr(c, n, "run", 0, &run) < 0) return -1;
            if (run < 0 || run > 1000000) return fail(c, n, "<pipeline run=...>: 1..1000000");
            p->run = (unsigned)run;
            char *cmd = get_attr(n, "command");
            for (xmlNode *ch = n->children; ch && !cmd; ch = ch->next)
                if (is_el(ch, "command")) cmd = own_text(ch); /* several lines */
            if (!cmd) return fail(c, n, "<pipeline> needs command= or a <command> child");
            p->command = trim_dup(cmd);
            free(cmd);
            p->description = get_attr(n, "description");
            if (!p->command || !*p->command) return fail(c, n, "<pipeline command=\"\"> is empty");
            for (size_t i = 0; i + 1 < fx->n_pipelines; i++)
                if (fx_command_equal(fx->pipelines[i].command, p->command) &&
                    (!p->run || !fx->pipelines[i].run || p->run == fx->pipelines[i].run))
                    return fail(c, n, "<pipeline command=\"%s\"> defined twice (line %d)",
                                p->command, fx->pipelines[i].line);
            if (parse_steps(c, n, &p->steps, &p->n_steps, 0) < 0) return -1;
        } else if (is_el(n, "winrs-command")) {
            if (mock_winrs_fixture_add(&fx->winrs, n, c->file, c->err, c->errlen) < 0) return -1;
        } else if (is_el(n, "reply")) {
            if (parse_reply(c, n, fx) < 0) return -1;
        } else if (is_el(n, "expect")) {
            static const char *const a[] = {"id", "description", NULL};
            if (check_attrs(c, n, a) < 0) return -1;
            fx_expect *e = realloc(fx->expects, (fx->n_expects + 1) * sizeof *e);
            if (!e) return fail(c, n, "out of memory");
            fx->expects = e;
            e = &fx->expects[fx->n_expects++];
            e->id = get_attr(n, "id");
            e->description = get_attr(n, "description");
            e->line = (int)xmlGetLineNo(n);
            if (!e->id || !*e->id) return fail(c, n, "<expect> needs id=");
        } else {
            return fail(c, n, "unknown element <%s> in <scenario>", n->name);
        }
    }
    /* Defaults. */
    if (!fx->computer) fx->computer = strdup("SERVER01");
    if (!fx->protocol) fx->protocol = strdup("2.3");
    if (!fx->ps_version)
        fx->ps_version = strdup(strcmp(fx->protocol, "2.4") ? "5.1.17763.592" : "7.6.0");
    if (!fx->edition)
        fx->edition =
            strdup(strncmp(fx->ps_version, "5.", 2) && strncmp(fx->ps_version, "4.", 2) &&
                           strncmp(fx->ps_version, "3.", 2) && strncmp(fx->ps_version, "2.", 2)
                       ? "Core"
                       : "Desktop");
    if (!fx->path) fx->path = strdup("/wsman");
    if (!fx->location) {
        etsn_buf b = ETSN_BUF_INIT;
        etsn_buf_printf(&b, "C:\\Users\\%s\\Documents", fx->n_users ? fx->users[0].name : "user");
        fx->location = etsn_buf_steal(&b);
    }
    if (!fx->computer || !fx->protocol || !fx->ps_version || !fx->path || !fx->location ||
        !fx->edition)
        return fail(c, root, "out of memory");
    if (!fx->n_users) return fail(c, root, "<scenario> needs at least one <user>");
    return 0;
}

static mock_fixture *load_doc(xmlParserCtxtPtr ctxt, xmlDocPtr doc, const char *name, char *err,
                              size_t errlen)
{
    lctx c = {name, err, errlen, NULL};
    if (errlen) err[0] = 0;
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[300];
        snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "not well-formed XML");
        size_t l = strlen(msg);
        while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' ')) msg[--l] = 0;
        snprintf(err, errlen, "%s:%d: %s", name, e ? e->line : 0, msg);
        return NULL;
    }
    mock_fixture *fx = calloc(1, sizeof *fx);
    if (!fx) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root) {
        snprintf(err, errlen, "%s:1: empty document", name);
        mock_fixture_free(fx);
        return NULL;
    }
    if (parse_root(&c, root, fx) < 0) {
        mock_fixture_free(fx);
        return NULL;
    }
    return fx;
}

mock_fixture *mock_fixture_load_memory(const char *xml, size_t len, const char *name, char *err,
                                       size_t errlen)
{
    if (!name) name = "fixture";
    if (len > INT32_MAX) {
        snprintf(err, errlen, "%s: too large", name);
        return NULL;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, xml, (int)len, name, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    mock_fixture *fx = load_doc(ctxt, doc, name, err, errlen);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return fx;
}

mock_fixture *mock_fixture_load(const char *path, char *err, size_t errlen)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    fclose(f);
    xmlDocPtr doc = xmlCtxtReadFile(ctxt, path, NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    mock_fixture *fx = load_doc(ctxt, doc, path, err, errlen);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return fx;
}

/* ---- queries ---- */

/* The text as compared: lines split on CRLF, CR or LF, each trimmed, joined
 * with LF, the whole trimmed. The console sends a continued command (after
 * `>> `) as its lines joined; a fixture may indent them. */
static char *normalize_command(const char *text)
{
    etsn_buf b = ETSN_BUF_INIT;
    const char *p = text;
    for (;;) {
        size_t l = strcspn(p, "\r\n");
        const char *s = p;
        size_t sl = l;
        while (sl && isspace((unsigned char)*s)) {
            s++;
            sl--;
        }
        while (sl && isspace((unsigned char)s[sl - 1])) sl--;
        etsn_buf_append(&b, s, sl);
        p += l;
        if (!*p) break;
        if (p[0] == '\r' && p[1] == '\n') p++;
        p++;
        etsn_buf_append_byte(&b, '\n');
    }
    char *raw = b.data ? etsn_buf_steal(&b) : strdup("");
    etsn_buf_free(&b);
    if (!raw) return NULL;
    char *t = trim_dup(raw);
    free(raw);
    return t;
}

bool fx_command_equal(const char *a, const char *b)
{
    char *x = normalize_command(a), *y = normalize_command(b);
    bool eq = x && y && !strcasecmp(x, y);
    free(x);
    free(y);
    return eq;
}

const fx_pipeline *mock_fixture_find_pipeline(const mock_fixture *fx, const char *text)
{
    for (size_t i = 0; i < fx->n_pipelines; i++)
        if (fx_command_equal(fx->pipelines[i].command, text)) return &fx->pipelines[i];
    return NULL;
}

const fx_pipeline *mock_fixture_pipeline_run(const mock_fixture *fx, const fx_pipeline *first,
                                             unsigned run)
{
    const fx_pipeline *last = first;
    for (size_t i = (size_t)(first - fx->pipelines); i < fx->n_pipelines; i++) {
        const fx_pipeline *p = &fx->pipelines[i];
        if (!fx_command_equal(p->command, first->command)) continue;
        if (!p->run || p->run == run) return p;
        if (p->run < run && p->run > last->run) last = p;
    }
    return last;
}

/* Case-insensitive Levenshtein distance, capped for long texts. */
size_t fx_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 512) la = 512;
    if (lb > 512) lb = 512;
    size_t *row = malloc((lb + 1) * sizeof *row);
    if (!row) return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

const fx_pipeline *mock_fixture_nearest_pipeline(const mock_fixture *fx, const char *text)
{
    const fx_pipeline *best = NULL;
    size_t bd = SIZE_MAX;
    char *t = normalize_command(text);
    if (!t) return NULL;
    for (size_t i = 0; i < fx->n_pipelines; i++) {
        char *c = normalize_command(fx->pipelines[i].command);
        size_t d = c ? fx_edit_distance(c, t) : SIZE_MAX;
        free(c);
        if (d < bd) {
            bd = d;
            best = &fx->pipelines[i];
        }
    }
    free(t);
    return best;
}

const fx_completion *mock_fixture_find_completion(const mock_fixture *fx, const char *input,
                                                  int cursor)
{
    int len = (int)strlen(input);
    if (cursor < 0) cursor = len;
    for (size_t i = 0; i < fx->n_completions; i++) {
        const fx_completion *c = &fx->completions[i];
        int cc = c->cursor < 0 ? (int)strlen(c->input) : c->cursor;
        if (!strcmp(c->input, input) && cc == cursor) return c;
    }
    return NULL;
}

static bool name_match(const char *pattern, const char *name)
{
    size_t pl = strlen(pattern);
    if (pl && pattern[pl - 1] == '*') return !strncasecmp(pattern, name, pl - 1);
    return !strcasecmp(pattern, name);
}

bool mock_fixture_has_command(const mock_fixture *fx, const char *name)
{
    for (size_t i = 0; i < fx->n_missing; i++)
        if (!strcasecmp(fx->missing_commands[i], name)) return false;
    size_t nb;
    const mock_command *b = mock_builtin_commands(&nb);
    for (size_t i = 0; i < nb; i++)
        if (!strcasecmp(b[i].name, name)) return true;
    for (size_t i = 0; i < fx->n_extra; i++)
        if (name_match(fx->extra_commands[i], name)) return true;
    return false;
}

/* ---- cursor ---- */

void fx_cursor_init(fx_cursor *c, const fx_step *steps, size_t n)
{
    memset(c, 0, sizeof *c);
    c->st[0].list = steps;
    c->st[0].n = n;
    c->st[0].count = 1;
}

const fx_step *fx_cursor_next(fx_cursor *c, uint64_t *n)
{
    for (;;) {
        if (c->depth < 0) return NULL;
        fx_frame *f = &c->st[c->depth];
        if (f->idx >= f->n) {
            if (c->depth == 0) {
                c->depth = -1;
                return NULL;
            }
            if (++f->iter < f->count) {
                f->idx = 0;
                continue;
            }
            c->depth--;
            continue;
        }
        const fx_step *s = &f->list[f->idx++];
        if (s->kind == FX_REPEAT) {
            if (s->count == 0 || s->n_children == 0 || c->depth >= FX_MAX_DEPTH) continue;
            c->depth++;
            fx_frame *g = &c->st[c->depth];
            g->list = s->children;
            g->n = s->n_children;
            g->idx = 0;
            g->iter = 0;
            g->count = s->count;
            continue;
        }
        *n = c->depth > 0 ? c->st[c->depth].iter + 1 : 0;
        return s;
    }
}

int fx_substitute(const char *s, size_t len, uint64_t n, etsn_buf *out)
{
    char num[24];
    int nl = snprintf(num, sizeof num, "%" PRIu64, n);
    size_t i = 0;
    while (i < len) {
        const char *p = memmem(s + i, len - i, "{n}", 3);
        if (!p) return etsn_buf_append(out, s + i, len - i);
        if (etsn_buf_append(out, s + i, (size_t)(p - (s + i))) < 0 ||
            etsn_buf_append(out, num, (size_t)nl) < 0)
            return -1;
        i = (size_t)(p - s) + 3;
    }
    return 0;
}

int mock_fixture_add_expect(mock_fixture *fx, const char *id, const char *description)
{
    for (size_t i = 0; i < fx->n_expects; i++)
        if (!strcmp(fx->expects[i].id, id)) return 0; /* the fixture has it already */
    fx_expect *e = realloc(fx->expects, (fx->n_expects + 1) * sizeof *e);
    if (!e) return -1;
    fx->expects = e;
    e = &fx->expects[fx->n_expects];
    e->id = strdup(id);
    e->description = strdup(description);
    e->line = 0;
    if (!e->id || !e->description) {
        free(e->id);
        free(e->description);
        return -1;
    }
    fx->n_expects++;
    return 0;
}
