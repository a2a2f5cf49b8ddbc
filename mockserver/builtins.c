#include "builtins.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/core/buf.h"
#include "../ref/core/psrp_msgs.h"
#include "render.h"

int mock_not_found_step(const mock_fixture *fx, const char *line, bool first_is_command, fx_step *s)
{
    const char *start = line;
    while (isspace((unsigned char)*start)) start++;
    size_t tok = 0;
    while (start[tok] && !isspace((unsigned char)start[tok])) tok++;
    char *cmd = strndup(start, tok);
    if (!cmd) return -1;
    bool pwsh = !strcmp(fx->protocol, "2.4");
    etsn_buf b = ETSN_BUF_INIT;
    if (pwsh)
        etsn_buf_printf(&b,
                        "The term '%s' is not recognized as a name of a cmdlet, function, script "
                        "file, or executable program.\nCheck the spelling of the name, or if a "
                        "path was included, verify that the path is correct and try again.",
                        cmd);
    else
        etsn_buf_printf(&b,
                        "The term '%s' is not recognized as the name of a cmdlet, function, "
                        "script file, or operable program. Check the spelling of the name, or if "
                        "a path was included, verify that the path is correct and try again.",
                        cmd);
    fx_error *fe = &s->error;
    /* In a script the unknown command is an error record and the script goes
     * on; a pipeline whose first command is the unknown name cannot start:
     * it fails with the exception (PowerShell.Invoke throws it). */
    s->kind = first_is_command ? FX_STATE : FX_ERROR_RECORD;
    s->state = ETSN_PIPE_FAILED;
    s->has_error = true;
    fe->message = etsn_buf_steal(&b);
    fe->exception_type = strdup("System.Management.Automation.CommandNotFoundException");
    fe->fqid = strdup("CommandNotFoundException");
    fe->category_name = strdup("ObjectNotFound");
    fe->category = 13;
    fe->activity = strdup("");
    fe->reason = strdup("CommandNotFoundException");
    fe->target_name = strdup(cmd);
    fe->target_type = strdup("String");
    /* InvocationInfo.PositionMessage of a one-line command. */
    etsn_buf pos = ETSN_BUF_INIT;
    const char *first_line_end = strchr(line, '\n');
    size_t line_len = first_line_end ? (size_t)(first_line_end - line) : strlen(line);
    if (line_len && line[line_len - 1] == '\r') line_len--;
    etsn_buf_printf(&pos, "At line:1 char:%zu\n+ %.*s\n+ ", (size_t)(start - line) + 1,
                    (int)line_len, line);
    for (size_t i = 0; i < (size_t)(start - line); i++) etsn_buf_append_byte(&pos, ' ');
    for (size_t i = 0; i < tok; i++) etsn_buf_append_byte(&pos, '~');
    fe->position = etsn_buf_steal(&pos);
    /* What each Out-Default prints. */
    etsn_buf lines = ETSN_BUF_INIT;
    size_t cnt = 0;
    if (pwsh) {
        etsn_buf first = ETSN_BUF_INIT;
        etsn_buf_printf(&first, "%s: %s", cmd, fe->message);
        mock_render_push_lines(&lines, &cnt, (const char *)first.data);
        etsn_buf_free(&first);
    } else {
        etsn_buf first = ETSN_BUF_INIT;
        etsn_buf_printf(&first, "%s : %s", cmd, fe->message);
        mock_render_push_lines(&lines, &cnt, (const char *)first.data);
        mock_render_push_lines(&lines, &cnt, fe->position);
        etsn_buf_reset(&first);
        etsn_buf_printf(&first,
                        "    + CategoryInfo          : ObjectNotFound: (%s:String) [], "
                        "CommandNotFoundException",
                        cmd);
        mock_render_push_lines(&lines, &cnt, (const char *)first.data);
        mock_render_push_lines(&lines, &cnt,
                               "    + FullyQualifiedErrorId : CommandNotFoundException");
        mock_render_push_lines(&lines, &cnt, "");
        etsn_buf_free(&first);
    }
    free(cmd);
    fe->lines = calloc(cnt ? cnt : 1, sizeof *fe->lines);
    const char *l = (const char *)lines.data;
    for (size_t i = 0; fe->lines && l && i < cnt; i++) {
        fe->lines[fe->n_lines++] = strdup(l);
        l += strlen(l) + 1;
    }
    etsn_buf_free(&lines);
    return fe->message && fe->position ? 0 : -1;
}

int mock_no_language_step(fx_step *s)
{
    fx_error *fe = &s->error;
    s->kind = FX_STATE;
    s->state = ETSN_PIPE_FAILED;
    s->has_error = true;
    fe->message = strdup("The syntax is not supported by this runspace. This can occur if the "
                         "runspace is in no-language mode.");
    fe->exception_type = strdup("System.Management.Automation.ParseException");
    fe->fqid = strdup("ScriptsNotAllowed");
    fe->category_name = strdup("ParserError");
    fe->category = 17;
    fe->activity = strdup("");
    fe->reason = strdup("ParseException");
    fe->target_name = strdup("");
    fe->target_type = strdup("");
    return fe->message && fe->exception_type && fe->fqid && fe->category_name && fe->activity &&
                   fe->reason && fe->target_name && fe->target_type
               ? 0
               : -1;
}
