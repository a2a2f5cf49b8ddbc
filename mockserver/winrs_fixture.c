/* <winrs-command> fixture elements and the texts a Windows server's programs
 * write (cmd.exe's "not recognized", powershell.exe's CLIXML errors), kept
 * apart from fixture.c (PSRP scenarios) and winrs.c (the shell itself). */
#include "winrs.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../ref/core/base64.h"
#include "../ref/core/clixml.h"
#include "../ref/core/psrp_crypto.h"
#include "fixture.h"

/* STATUS_CONTROL_C_EXIT (0xC000013A): the exit code of a console process
 * that Ctrl+C ended. */
#define WX_CTRL_C_EXIT (-1073741510LL)
/* Bound on one fixture text and on one command line examined. */
#define WX_MAX_TEXT (16u * 1024 * 1024)

typedef struct {
    const char *file;
    char *err;
    size_t errlen;
} wctx;

static int fail(wctx *c, const xmlNode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(wctx *c, const xmlNode *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%ld: %s", c->file, n ? xmlGetLineNo(n) : 0L, msg);
    return -1;
}

static bool is_el(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static char *get_attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v) return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    return s;
}

static int check_attrs(wctx *c, const xmlNode *n, const char *const *allowed)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = !strcmp((const char *)a->name, allowed[i]);
        if (!ok) return fail(c, n, "unknown attribute %s= on <%s>", a->name, n->name);
    }
    return 0;
}

static char *own_text(const xmlNode *n)
{
    etsn_buf b = ETSN_BUF_INIT;
    for (const xmlNode *t = n->children; t; t = t->next)
        if (t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE)
            etsn_buf_append_str(&b, (const char *)t->content);
    if (!b.data) return strdup("");
    return etsn_buf_steal(&b);
}

static int int_attr(wctx *c, const xmlNode *n, const char *name, long long lo, long long hi,
                    long long def, long long *out)
{
    char *v = get_attr(n, name);
    *out = def;
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    bool bad = errno || end == v || *end || x < lo || x > hi;
    free(v);
    if (bad)
        return fail(c, n, "<%s %s=> must be a number from %lld to %lld", n->name, name, lo, hi);
    *out = x;
    return 0;
}

void mock_winrs_fixture_free(mock_winrs_fixture *wf)
{
    if (!wf) return;
    for (size_t i = 0; i < wf->n_commands; i++) {
        wx_command *cmd = &wf->commands[i];
        free(cmd->command);
        free(cmd->description);
        for (size_t j = 0; j < cmd->n_steps; j++) free(cmd->steps[j].text);
        free(cmd->steps);
    }
    free(wf->commands);
    free(wf);
}

/* <stdout encoding="base64">: the bytes a program wrote, as a recording
 * has them (already in the shell's code page), sent unchanged. */
static int raw_step(wctx *c, const xmlNode *n, wx_step *s)
{
    char *t = own_text(n);
    if (!t) return fail(c, n, "out of memory");
    etsn_buf b = ETSN_BUF_INIT;
    int rc = strlen(t) > WX_MAX_TEXT * 2 ? -1 : etsn_base64_decode(t, strlen(t), &b);
    free(t);
    if (rc < 0) {
        etsn_buf_free(&b);
        return fail(c, n, "<%s encoding=\"base64\"> holds no valid base64 (or too much)", n->name);
    }
    s->raw = true;
    s->len = b.len;
    s->text = b.data ? etsn_buf_steal(&b) : strdup("");
    return s->text ? 0 : fail(c, n, "out of memory");
}

/* <stdout>/<stderr> text: cmd.exe's programs end lines with CRLF, so a LF
 * becomes CRLF unless eol="lf" (powershell.exe's Write-Host writes LF). */
static int text_step(wctx *c, const xmlNode *n, wx_step *s)
{
    static const char *const a[] = {"eol", "encoding", NULL};
    if (check_attrs(c, n, a) < 0) return -1;
    char *enc = get_attr(n, "encoding");
    if (enc) {
        bool b64 = !strcasecmp(enc, "base64");
        free(enc);
        return b64 ? raw_step(c, n, s) : fail(c, n, "<%s encoding=> is base64", n->name);
    }
    char *eol = get_attr(n, "eol");
    bool crlf = !eol || !strcasecmp(eol, "crlf");
    bool lf = eol && !strcasecmp(eol, "lf");
    free(eol);
    if (!crlf && !lf) return fail(c, n, "<%s eol=> is crlf or lf", n->name);
    char *t = own_text(n);
    if (!t) return fail(c, n, "out of memory");
    etsn_buf b = ETSN_BUF_INIT;
    for (size_t i = 0; t[i]; i++) {
        if (crlf && t[i] == '\n' && (i == 0 || t[i - 1] != '\r')) etsn_buf_append_byte(&b, '\r');
        etsn_buf_append_byte(&b, (uint8_t)t[i]);
    }
    free(t);
    if (b.len > WX_MAX_TEXT) {
        etsn_buf_free(&b);
        return fail(c, n, "<%s> text is too long", n->name);
    }
    s->len = b.len;
    s->text = b.data ? etsn_buf_steal(&b) : strdup("");
    return s->text ? 0 : fail(c, n, "out of memory");
}

/* <ps-error>: <line> children (or the text as one line), kept "\n"-joined. */
static int ps_error_step(wctx *c, const xmlNode *n, wx_step *s)
{
    static const char *const a[] = {NULL};
    if (check_attrs(c, n, a) < 0) return -1;
    etsn_buf b = ETSN_BUF_INIT;
    bool any = false;
    for (const xmlNode *ch = n->children; ch; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE) continue;
        if (!is_el(ch, "line")) {
            etsn_buf_free(&b);
            return fail(c, ch, "unknown element <%s> in <ps-error>", ch->name);
        }
        char *t = own_text(ch);
        if (any) etsn_buf_append_byte(&b, '\n');
        if (t) etsn_buf_append_str(&b, t);
        free(t);
        any = true;
    }
    if (!any) {
        char *t = own_text(n);
        if (t) etsn_buf_append_str(&b, t);
        free(t);
    }
    s->len = b.len;
    s->text = b.data ? etsn_buf_steal(&b) : strdup("");
    return s->text ? 0 : fail(c, n, "out of memory");
}

static int parse_step(wctx *c, const xmlNode *n, wx_step *s)
{
    static const char *const ms[] = {"ms", NULL};
    static const char *const code[] = {"code", NULL};
    static const char *const exit_a[] = {"exit", NULL};
    long long v;
    s->line = (int)xmlGetLineNo(n);
    if (is_el(n, "stdout") || is_el(n, "stderr")) {
        s->kind = is_el(n, "stdout") ? WX_STDOUT : WX_STDERR;
        return text_step(c, n, s);
    }
    if (is_el(n, "ps-error")) {
        s->kind = WX_PS_ERROR;
        return ps_error_step(c, n, s);
    }
    if (is_el(n, "sleep")) {
        s->kind = WX_SLEEP;
        if (check_attrs(c, n, ms) < 0 || int_attr(c, n, "ms", 0, 3600000, -1, &v) < 0) return -1;
        if (v < 0) return fail(c, n, "<sleep> needs ms=");
        s->ms = (uint32_t)v;
        return 0;
    }
    if (is_el(n, "wait-signal")) {
        s->kind = WX_WAIT_SIGNAL;
        if (check_attrs(c, n, exit_a) < 0 ||
            int_attr(c, n, "exit", INT32_MIN, UINT32_MAX, WX_CTRL_C_EXIT, &v) < 0)
            return -1;
        s->code = v;
        return 0;
    }
    if (is_el(n, "exit")) {
        s->kind = WX_EXIT;
        if (check_attrs(c, n, code) < 0 || int_attr(c, n, "code", INT32_MIN, UINT32_MAX, 0, &v) < 0)
            return -1;
        s->code = v;
        return 0;
    }
    return fail(c, n, "unknown element <%s> in <winrs-command>", n->name);
}

static int parse_steps(wctx *c, const xmlNode *n, wx_command *cmd)
{
    for (const xmlNode *ch = n->children; ch; ch = ch->next) {
        if (ch->type == XML_TEXT_NODE) {
            for (const char *p = (const char *)ch->content; *p; p++)
                if (!isspace((unsigned char)*p)) return fail(c, ch, "<winrs-command>: stray text");
            continue;
        }
        if (ch->type != XML_ELEMENT_NODE) continue;
        if (cmd->n_steps && cmd->steps[cmd->n_steps - 1].kind == WX_EXIT)
            return fail(c, ch, "nothing may follow <exit>");
        wx_step *s = realloc(cmd->steps, (cmd->n_steps + 1) * sizeof *s);
        if (!s) return fail(c, ch, "out of memory");
        cmd->steps = s;
        s = &s[cmd->n_steps++];
        memset(s, 0, sizeof *s);
        if (parse_step(c, ch, s) < 0) return -1;
    }
    return 0;
}

int mock_winrs_fixture_add(mock_winrs_fixture **wfp, const xmlNode *n, const char *file, char *err,
                           size_t errlen)
{
    wctx c = {file, err, errlen};
    static const char *const a[] = {"command",     "arguments", "powershell",
                                    "description", "run",       NULL};
    long long run;
    if (check_attrs(&c, n, a) < 0 || int_attr(&c, n, "run", 1, 1000000, 1, &run) < 0) return -1;
    if (!*wfp && !(*wfp = calloc(1, sizeof **wfp))) return fail(&c, n, "out of memory");
    mock_winrs_fixture *wf = *wfp;
    wx_command *cmd = realloc(wf->commands, (wf->n_commands + 1) * sizeof *cmd);
    if (!cmd) return fail(&c, n, "out of memory");
    wf->commands = cmd;
    cmd = &cmd[wf->n_commands++];
    memset(cmd, 0, sizeof *cmd);
    cmd->line = (int)xmlGetLineNo(n);
    cmd->run = (unsigned)run;
    char *command = get_attr(n, "command"), *args = get_attr(n, "arguments");
    char *ps = get_attr(n, "powershell");
    cmd->description = get_attr(n, "description");
    int rc = 0;
    if (!command == !ps) {
        rc = fail(&c, n, "<winrs-command> needs command= or powershell= (one of them)");
    } else if (ps && args) {
        rc = fail(&c, n, "<winrs-command powershell=> takes no arguments=");
    } else if (ps) {
        cmd->powershell = true;
        cmd->command = ps;
        ps = NULL;
    } else {
        cmd->command = mock_winrs_command_line(command, args);
    }
    free(command);
    free(args);
    free(ps);
    if (rc < 0) return -1;
    if (!cmd->command || !*cmd->command)
        return fail(&c, n, "<winrs-command> with an empty command");
    for (size_t i = 0; i + 1 < wf->n_commands; i++)
        if (wf->commands[i].powershell == cmd->powershell && wf->commands[i].run == cmd->run &&
            (cmd->powershell ? fx_command_equal(wf->commands[i].command, cmd->command)
                             : !strcasecmp(wf->commands[i].command, cmd->command)))
            return fail(&c, n, "<winrs-command> \"%s\" defined twice (line %d)", cmd->command,
                        wf->commands[i].line);
    return parse_steps(&c, n, cmd);
}

/* ---- command lines ---- */

char *mock_winrs_command_line(const char *command, const char *arguments)
{
    etsn_buf b = ETSN_BUF_INIT;
    const char *parts[] = {command ? command : "", arguments ? arguments : ""};
    bool space = false;
    for (size_t k = 0; k<2; k++, space = b.len> 0)
        for (const char *p = parts[k]; *p && b.len < WX_MAX_TEXT; p++) {
            if (isspace((unsigned char)*p)) {
                space = b.len > 0;
                continue;
            }
            if (space) etsn_buf_append_byte(&b, ' ');
            space = false;
            etsn_buf_append_byte(&b, (uint8_t)*p);
        }
    if (!b.data) return strdup("");
    return etsn_buf_steal(&b);
}

/* The next space-separated word of *pp (a quoted word keeps its quotes). */
static size_t next_word(const char **pp, const char **start)
{
    const char *p = *pp;
    while (*p == ' ') p++;
    *start = p;
    bool q = false;
    while (*p && (q || *p != ' ')) {
        if (*p == '"') q = !q;
        p++;
    }
    *pp = p;
    return (size_t)(p - *start);
}

static bool word_is(const char *w, size_t len, const char *const *names)
{
    for (size_t i = 0; names[i]; i++)
        if (strlen(names[i]) == len && !strncasecmp(w, names[i], len)) return true;
    return false;
}

/* The program's file name without directory or quotes. */
static void program_name(const char *w, size_t len, char *out, size_t outlen)
{
    if (len && w[0] == '"') w++, len--;
    if (len && w[len - 1] == '"') len--;
    for (size_t i = len; i > 0; i--)
        if (w[i - 1] == '\\' || w[i - 1] == '/') {
            w += i;
            len -= i;
            break;
        }
    snprintf(out, outlen, "%.*s", (int)len, w);
}

char *mock_winrs_encoded_script(const char *line)
{
    static const char *const ps[] = {"powershell", "powershell.exe", "pwsh", "pwsh.exe", NULL};
    const char *p = line, *w;
    size_t len = next_word(&p, &w);
    char prog[64];
    program_name(w, len, prog, sizeof prog);
    if (!word_is(prog, strlen(prog), ps)) return NULL;
    while ((len = next_word(&p, &w)) > 0) {
        if (w[0] != '-' && w[0] != '/') continue;
        /* CommandLineParameterParser: any prefix of -encodedcommand down to
         * -e, and the alias -ec. */
        bool enc = (len >= 2 && len - 1 <= strlen("encodedcommand") &&
                    !strncasecmp(w + 1, "encodedcommand", len - 1)) ||
                   (len == 3 && !strncasecmp(w + 1, "ec", 2));
        if (!enc) continue;
        len = next_word(&p, &w);
        etsn_buf raw = ETSN_BUF_INIT, text = ETSN_BUF_INIT;
        char *script = NULL;
        if (len && etsn_base64_decode(w, len, &raw) == 0 &&
            etsn_utf16le_to_utf8(raw.data, raw.len, &text) == 0)
            script = text.data ? etsn_buf_steal(&text) : strdup("");
        etsn_buf_free(&raw);
        etsn_buf_free(&text);
        return script;
    }
    return NULL;
}

const wx_command *mock_winrs_find(const mock_winrs_fixture *wf, const char *line,
                                  const char *script, unsigned run)
{
    const wx_command *best = NULL;
    for (size_t i = 0; wf && i < wf->n_commands; i++) {
        const wx_command *c = &wf->commands[i];
        if ((c->powershell ? script && fx_command_equal(c->command, script)
                           : !strcasecmp(c->command, line)) &&
            c->run <= (run ? run : 1) && (!best || c->run > best->run))
            best = c;
    }
    return best;
}

const wx_command *mock_winrs_nearest(const mock_winrs_fixture *wf, const char *text)
{
    const wx_command *best = NULL;
    size_t bd = SIZE_MAX;
    for (size_t i = 0; wf && i < wf->n_commands; i++) {
        size_t d = fx_edit_distance(wf->commands[i].command, text);
        if (d < bd) {
            bd = d;
            best = &wf->commands[i];
        }
    }
    return best;
}

/* ---- what Windows' programs write ---- */

char *mock_winrs_not_recognized(const char *line)
{
    static const char *const cmd[] = {"cmd", "cmd.exe", NULL};
    const char *p = line, *w;
    size_t len = next_word(&p, &w);
    char prog[64];
    program_name(w, len, prog, sizeof prog);
    if (word_is(prog, strlen(prog), cmd)) {
        const char *q = p, *w2;
        size_t l2 = next_word(&q, &w2);
        if (l2 == 2 && !strncasecmp(w2, "/c", 2)) {
            p = q;
            len = next_word(&p, &w);
        }
    }
    etsn_buf b = ETSN_BUF_INIT;
    etsn_buf_printf(&b,
                    "'%.*s' is not recognized as an internal or external command,\r\n"
                    "operable program or batch file.\r\n",
                    (int)(len > 1024 ? 1024 : len), w);
    return etsn_buf_steal(&b);
}

/* Wraps one line as the console host's error view does at a width of 120
 * columns: words move to the next line when the line, with the space after
 * the word, would pass 119 characters (seen in a recorded CLIXML error). */
static void wrap_line(const char *s, etsn_buf *out)
{
    const size_t width = 119;
    size_t len = strlen(s);
    while (len > width) {
        size_t cut = 0;
        for (size_t i = 0; i < width; i++)
            if (s[i] == ' ') cut = i + 1; /* the space stays on this line */
        if (!cut) cut = width;
        etsn_buf_append(out, s, cut);
        etsn_buf_append_byte(out, '\n');
        s += cut;
        len -= cut;
    }
    etsn_buf_append_str(out, s);
}

char *mock_winrs_ps_not_found(const char *script)
{
    const char *p = script;
    while (isspace((unsigned char)*p)) p++;
    size_t n = strcspn(p, " \t\r\n;|");
    if (n > 512) n = 512;
    size_t ln = strcspn(p, "\r\n");
    if (ln > 1024) ln = 1024;
    etsn_buf first = ETSN_BUF_INIT, b = ETSN_BUF_INIT;
    etsn_buf_printf(&first,
                    "%.*s : The term '%.*s' is not recognized as the name of a cmdlet, function, "
                    "script file, or operable program. Check the spelling of the name, or if a "
                    "path was included, verify that the path is correct and try again.",
                    (int)n, p, (int)n, p);
    wrap_line(first.data ? (const char *)first.data : "", &b);
    etsn_buf_printf(&b, "\nAt line:1 char:1\n+ %.*s\n+ ", (int)ln, p);
    for (size_t i = 0; i < n; i++) etsn_buf_append_byte(&b, '~');
    etsn_buf_printf(&b,
                    "\n    + CategoryInfo          : ObjectNotFound: (%.*s:String) [], "
                    "CommandNotFoundException\n"
                    "    + FullyQualifiedErrorId : CommandNotFoundException\n ",
                    (int)n, p);
    etsn_buf_free(&first);
    return etsn_buf_steal(&b);
}

int mock_winrs_clixml_errors(const char *lines, etsn_buf *out)
{
    int rc = 0;
    const char *p = lines;
    for (;;) {
        size_t n = strcspn(p, "\n");
        etsn_buf t = ETSN_BUF_INIT, enc = ETSN_BUF_INIT;
        /* Each line is written with its CRLF, which CLIXML encodes. */
        rc |= etsn_buf_append(&t, p, n);
        rc |= etsn_buf_append_str(&t, "\r\n");
        rc |= etsn_clixml_encode_string((const char *)t.data, t.len, &enc);
        rc |= etsn_buf_append_str(out, "<S S=\"Error\">");
        rc |= etsn_buf_append_xml_escaped(out, (const char *)enc.data, enc.len);
        rc |= etsn_buf_append_str(out, "</S>");
        etsn_buf_free(&t);
        etsn_buf_free(&enc);
        if (!p[n]) break;
        p += n + 1;
    }
    return rc ? -1 : 0;
}

int mock_winrs_encode(unsigned codepage, const char *text, size_t len, etsn_buf *out)
{
    if (codepage == 65001) return etsn_buf_append(out, text, len);
    char name[32];
    snprintf(name, sizeof name, "CP%u", codepage);
    iconv_t cd = iconv_open(name, "UTF-8");
    if (cd == (iconv_t)-1) {
        etsn_buf_append(out, text, len);
        return -1;
    }
    char *in = (char *)text;
    size_t left = len;
    char buf[1024];
    while (left) {
        char *o = buf;
        size_t room = sizeof buf;
        size_t r = iconv(cd, &in, &left, &o, &room);
        etsn_buf_append(out, buf, (size_t)(o - buf));
        if (r == (size_t)-1 && errno == E2BIG) continue;
        if (r == (size_t)-1) {
            /* A character the page lacks (or a bad byte): one '?' for the
             * whole UTF-8 sequence. */
            etsn_buf_append_byte(out, '?');
            do {
                in++;
                left--;
            } while (left && ((unsigned char)*in & 0xC0) == 0x80);
        }
    }
    iconv_close(cd);
    return 0;
}
