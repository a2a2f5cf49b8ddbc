#include "fixture.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
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

typedef struct {
    const char *file;
    char *err;
    size_t errlen;
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
        free_error(&s->error);
        fx_steps_free(s->children, s->n_children);
    }
    free(steps);
}

void mock_fixture_free(mock_fixture *fx)
{
    if (!fx) return;
    free(fx->name);
    free(fx->description);
    free(fx->computer);
    free(fx->protocol);
    free(fx->ps_version);
    free(fx->path);
    free(fx->location);
    free(fx->resource_uri);
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
        char **v = realloc(e->lines, (e->n_lines + 1) * sizeof *v);
        if (!v) return fail(c, ch, "out of memory");
        e->lines = v;
        if (!(e->lines[e->n_lines++] = own_text(ch))) return fail(c, ch, "out of memory");
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

static int parse_steps(lctx *c, const xmlNode *parent, fx_step **out, size_t *n_out, int depth);

static int parse_step(lctx *c, const xmlNode *n, fx_step *s, int depth)
{
    s->line = (int)xmlGetLineNo(n);
    if (is_el(n, "host-call")) {
        static const char *const allowed[] = {"method", "id", "expect", NULL};
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
        return parse_values(c, n, s, true);
    }
    if (is_el(n, "output")) {
        static const char *const allowed[] = {NULL};
        if (check_attrs(c, n, allowed) < 0) return -1;
        s->kind = FX_OUTPUT;
        if (parse_values(c, n, s, true) < 0) return -1;
        if (!s->n_values) {
            etsn_value *v = etsn_v_string("");
            if (!v || add_value(s, v) < 0) return fail(c, n, "out of memory");
        }
        return 0;
    }
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

static int parse_server(lctx *c, const xmlNode *n, mock_fixture *fx)
{
    static const char *const allowed[] = {
        "computer",     "protocol", "ps-version",       "path",     "location",
        "resource-uri", "edition",  "missing-commands", "commands", NULL};
    if (check_attrs(c, n, allowed) < 0) return -1;
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

static int parse_root(lctx *c, const xmlNode *root, mock_fixture *fx)
{
    if (!is_el(root, "scenario")) return fail(c, root, "the root element must be <scenario>");
    static const char *const allowed[] = {"name", "description", NULL};
    if (check_attrs(c, root, allowed) < 0) return -1;
    fx->name = get_attr(root, "name");
    if (!fx->name || !*fx->name) return fail(c, root, "<scenario> needs name=");
    fx->description = get_attr(root, "description");
    fx->negotiate = true;
    fx->basic = true;
    fx->require_encryption = true;
    for (xmlNode *n = root->children; n; n = n->next) {
        if (n->type == XML_TEXT_NODE && !blank((const char *)n->content))
            return fail(c, n, "<scenario>: stray text");
        if (n->type != XML_ELEMENT_NODE) continue;
        if (is_el(n, "server")) {
            if (parse_server(c, n, fx) < 0) return -1;
        } else if (is_el(n, "user")) {
            if (parse_user(c, n, fx) < 0) return -1;
        } else if (is_el(n, "auth")) {
            static const char *const a[] = {"negotiate", "basic", "require-encryption", NULL};
            if (check_attrs(c, n, a) < 0 || bool_attr(c, n, "negotiate", &fx->negotiate) < 0 ||
                bool_attr(c, n, "basic", &fx->basic) < 0 ||
                bool_attr(c, n, "require-encryption", &fx->require_encryption) < 0)
                return -1;
        } else if (is_el(n, "pipeline")) {
            static const char *const a[] = {"command", "description", NULL};
            if (check_attrs(c, n, a) < 0) return -1;
            fx_pipeline *p = realloc(fx->pipelines, (fx->n_pipelines + 1) * sizeof *p);
            if (!p) return fail(c, n, "out of memory");
            fx->pipelines = p;
            p = &fx->pipelines[fx->n_pipelines++];
            memset(p, 0, sizeof *p);
            p->line = (int)xmlGetLineNo(n);
            char *cmd = get_attr(n, "command");
            if (!cmd) return fail(c, n, "<pipeline> needs command=");
            p->command = trim_dup(cmd);
            free(cmd);
            p->description = get_attr(n, "description");
            if (!p->command || !*p->command) return fail(c, n, "<pipeline command=\"\"> is empty");
            for (size_t i = 0; i + 1 < fx->n_pipelines; i++)
                if (!strcasecmp(fx->pipelines[i].command, p->command))
                    return fail(c, n, "<pipeline command=\"%s\"> defined twice (line %d)",
                                p->command, fx->pipelines[i].line);
            if (parse_steps(c, n, &p->steps, &p->n_steps, 0) < 0) return -1;
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
    lctx c = {name, err, errlen};
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

static void trimmed(const char *s, const char **start, size_t *len)
{
    while (isspace((unsigned char)*s)) s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1])) l--;
    *start = s;
    *len = l;
}

const fx_pipeline *mock_fixture_find_pipeline(const mock_fixture *fx, const char *text)
{
    const char *t;
    size_t len;
    trimmed(text, &t, &len);
    for (size_t i = 0; i < fx->n_pipelines; i++) {
        const char *c = fx->pipelines[i].command;
        if (strlen(c) == len && !strncasecmp(c, t, len)) return &fx->pipelines[i];
    }
    return NULL;
}

static const char *const builtin_commands[] = {
    "Out-Default",    "Exit-PSSession", "Get-Command",  "Get-Help",    "Get-FormatData",
    "Measure-Object", "Select-Object",  "Out-String",   "Get-Date",    "Get-Location",
    "Set-Location",   "Get-ChildItem",  "Get-Item",     "Get-Process", "Get-Service",
    "Write-Host",     "Write-Output",   "Write-Error",  "Get-Member",  "Clear-Host",
    "prompt",         "TabExpansion2",  "Format-Table", "Format-List", "Where-Object",
    "ForEach-Object", "Sort-Object",    "Get-Content",  "Set-Content", "Invoke-Command",
};

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
    for (size_t i = 0; i < sizeof builtin_commands / sizeof *builtin_commands; i++)
        if (!strcasecmp(builtin_commands[i], name)) return true;
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
