#include "render.h"

#include <string.h>

#include "../ref/core/clixml.h"

void mock_render_push_lines(etsn_buf *lines, size_t *n, const char *text)
{
    const char *p = text;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len && p[len - 1] == '\r') len--;
        etsn_buf_append(lines, p, len);
        etsn_buf_append_byte(lines, 0);
        (*n)++;
        if (!nl) break;
        p = nl + 1;
    }
}

void mock_render_output(const fx_step *s, etsn_buf *lines, size_t *n)
{
    if (s->n_lines) {
        for (size_t i = 0; i < s->n_lines; i++) {
            etsn_buf_append_str(lines, s->lines[i]);
            etsn_buf_append_byte(lines, 0);
            (*n)++;
        }
        return;
    }
    etsn_buf text = ETSN_BUF_INIT;
    for (size_t i = 0; i < s->n_values; i++) {
        etsn_buf_reset(&text);
        etsn_v_display(s->values[i], &text);
        etsn_buf_append_byte(&text, 0);
        mock_render_push_lines(lines, n, (const char *)text.data);
    }
    etsn_buf_free(&text);
}

void mock_render_error(const mock_fixture *fx, const fx_error *fe, etsn_buf *lines, size_t *n)
{
    if (fe->n_lines) {
        for (size_t i = 0; i < fe->n_lines; i++) {
            etsn_buf_append_str(lines, fe->lines[i]);
            etsn_buf_append_byte(lines, 0);
            (*n)++;
        }
        return;
    }
    etsn_buf b = ETSN_BUF_INIT;
    const char *act = fe->activity && *fe->activity ? fe->activity : NULL;
    if (!strcmp(fx->protocol, "2.4")) {
        if (act) etsn_buf_printf(&b, "%s: ", act);
        etsn_buf_append_str(&b, fe->message);
        mock_render_push_lines(lines, n, (const char *)b.data);
        etsn_buf_free(&b);
        return;
    }
    if (act) etsn_buf_printf(&b, "%s : ", act);
    etsn_buf_append_str(&b, fe->message);
    mock_render_push_lines(lines, n, (const char *)b.data);
    etsn_buf_reset(&b);
    if (fe->position) mock_render_push_lines(lines, n, fe->position);
    etsn_buf_printf(&b, "    + CategoryInfo          : %s: (%s:%s) [%s], %s", fe->category_name,
                    fe->target_name ? fe->target_name : "", fe->target_type ? fe->target_type : "",
                    fe->activity ? fe->activity : "", fe->reason ? fe->reason : "");
    mock_render_push_lines(lines, n, (const char *)b.data);
    etsn_buf_reset(&b);
    etsn_buf_printf(&b, "    + FullyQualifiedErrorId : %s", fe->fqid ? fe->fqid : "");
    mock_render_push_lines(lines, n, (const char *)b.data);
    mock_render_push_lines(lines, n, "");
    etsn_buf_free(&b);
}
