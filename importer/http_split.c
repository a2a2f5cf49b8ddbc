#include "http_split.h"

#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_splitter {
    http_parser p;
    http_parser_settings settings;
    bool requests;
    http_msg *msg;      /* the message being filled */
    etsn_buf field;     /* the header name being read */
    etsn_buf *value;    /* where the current header's value goes, or NULL */
    bool in_value;      /* the last header callback was a value */
    bool complete;      /* on_message_complete fired */
    const char *failed; /* a bound that was exceeded */
};

void http_msg_free(http_msg *m)
{
    etsn_buf_free(&m->url);
    etsn_buf_free(&m->host);
    etsn_buf_free(&m->content_type);
    for (size_t i = 0; i < HTTP_SPLIT_MAX_AUTH; i++) etsn_buf_free_secure(&m->auth[i]);
    etsn_buf_free_secure(&m->body);
    memset(m, 0, sizeof(*m));
}

static http_splitter *of(http_parser *p)
{
    return p->data;
}

static int append_bounded(http_splitter *s, etsn_buf *b, const char *at, size_t len, size_t max,
                          const char *what)
{
    if (b->len + len > max || etsn_buf_append(b, at, len) < 0) {
        s->failed = what;
        return 1; /* stops the parser */
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    return append_bounded(of(p), &of(p)->msg->url, at, len, HTTP_SPLIT_MAX_URL, "URL");
}

/* Picks where a header's value goes once its whole name is known. */
static void choose_value(http_splitter *s)
{
    const char *name = s->field.data ? (const char *)s->field.data : "";
    http_msg *m = s->msg;
    const char *auth = s->requests ? "Authorization" : "WWW-Authenticate";
    s->value = NULL;
    if (strcasecmp(name, "Content-Type") == 0)
        s->value = &m->content_type;
    else if (s->requests && strcasecmp(name, "Host") == 0)
        s->value = &m->host;
    else if (strcasecmp(name, auth) == 0 && m->n_auth < HTTP_SPLIT_MAX_AUTH)
        s->value = &m->auth[m->n_auth++];
    if (s->value) etsn_buf_reset(s->value);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    http_splitter *s = of(p);
    if (s->in_value) etsn_buf_reset(&s->field);
    s->in_value = false;
    return append_bounded(s, &s->field, at, len, 256, "header name");
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    http_splitter *s = of(p);
    if (!s->in_value) choose_value(s);
    s->in_value = true;
    if (!s->value) return 0;
    return append_bounded(s, s->value, at, len, HTTP_SPLIT_MAX_HEADER, "header value");
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    return append_bounded(of(p), &of(p)->msg->body, at, len, HTTP_SPLIT_MAX_BODY, "body");
}

static int on_message_complete(http_parser *p)
{
    http_splitter *s = of(p);
    s->complete = true;
    s->msg->status = (int)p->status_code;
    if (s->requests)
        snprintf(s->msg->method, sizeof s->msg->method, "%s",
                 http_method_str((enum http_method)p->method));
    /* One message per call: pausing makes http_parser_execute return here. */
    http_parser_pause(p, 1);
    return 0;
}

http_splitter *http_splitter_new(bool requests)
{
    http_splitter *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->requests = requests;
    http_parser_init(&s->p, requests ? HTTP_REQUEST : HTTP_RESPONSE);
    s->p.data = s;
    http_parser_settings_init(&s->settings);
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_value = on_header_value;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;
    return s;
}

void http_splitter_free(http_splitter *s)
{
    if (!s) return;
    etsn_buf_free(&s->field);
    free(s);
}

int http_splitter_next(http_splitter *s, const unsigned char *data, size_t len, size_t *off,
                       bool at_eof, http_msg *msg, char *err, size_t errlen)
{
    memset(msg, 0, sizeof(*msg));
    if (*off >= len) return 0;
    s->msg = msg;
    s->complete = false;
    s->failed = NULL;
    s->in_value = false;
    s->value = NULL;
    etsn_buf_reset(&s->field);
    msg->start = *off;
    size_t n = http_parser_execute(&s->p, &s->settings, (const char *)data + *off, len - *off);
    if (!s->complete && at_eof && HTTP_PARSER_ERRNO(&s->p) == HPE_OK && *off + n == len)
        n += http_parser_execute(&s->p, &s->settings, NULL, 0); /* a body ended by the close */
    enum http_errno e = HTTP_PARSER_ERRNO(&s->p);
    if (e == HPE_PAUSED) http_parser_pause(&s->p, 0);
    if (s->complete) {
        msg->end = *off + n;
        *off = msg->end;
        return 1;
    }
    if (s->failed)
        snprintf(err, errlen, "HTTP %s at byte %zu: the %s is too large",
                 s->requests ? "request" : "response", msg->start, s->failed);
    else if (e != HPE_OK && e != HPE_PAUSED && e != HPE_INVALID_EOF_STATE)
        snprintf(err, errlen, "HTTP %s at byte %zu: %s", s->requests ? "request" : "response",
                 msg->start, http_errno_description(e));
    else
        snprintf(err, errlen, "HTTP %s at byte %zu: truncated (the capture ends inside it)",
                 s->requests ? "request" : "response", msg->start);
    http_msg_free(msg);
    return -1;
}
