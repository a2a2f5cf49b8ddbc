/* One conformance case, read from conformance/cases/<id>.case. The format
 * (sections in [brackets], text kept verbatim) is specified in
 * docs/conformance.md; this header is its in-memory form. */
#ifndef ETSN_CONF_CASE_FILE_H
#define ETSN_CONF_CASE_FILE_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_DEFAULT_TIMEOUT_S 20
#define CONF_MAX_TIMEOUT_S 3600
#define CONF_MAX_CASE_FILE (1024u * 1024u)

/* Exact text from a verbatim section. data is NUL terminated; case files
 * may not hold NUL bytes, so strlen(data) == len. */
typedef struct {
    bool present;
    char *data;
    size_t len;
} conf_text;

typedef struct {
    char **v;
    size_t n;
} conf_strv;

typedef enum {
    CONF_REPORT_ALL_MET,   /* all-met */
    CONF_REPORT_MET,       /* met: ID */
    CONF_REPORT_UNMET,     /* unmet: ID */
    CONF_REPORT_UNMATCHED, /* unmatched: N */
    CONF_REPORT_EVENT,     /* event: KIND */
    CONF_REPORT_NO_EVENT,  /* no-event: KIND */
} conf_report_kind;

typedef struct {
    conf_report_kind kind;
    char *arg; /* ID or KIND; NULL for all-met and unmatched */
    long count;
} conf_report_check;

/* [terminal]: a script of steps driving the client in a tmux pane. */
typedef enum {
    CONF_T_SIZE,          /* size WxH (first step only) */
    CONF_T_RESIZE,        /* resize WxH: the window changes size mid-session */
    CONF_T_TIMEOUT,       /* timeout SECONDS: for the following waits */
    CONF_T_SEND,          /* send TEXT with {Key} tokens */
    CONF_T_SEND_KEYS,     /* send-keys KEY... (tmux key names) */
    CONF_T_WAIT_FOR,      /* wait-for TEXT: until the screen shows it */
    CONF_T_WAIT_NOT,      /* wait-not TEXT: until the screen no longer shows it */
    CONF_T_CONTAINS,      /* screen-contains TEXT */
    CONF_T_NOT_CONTAINS,  /* screen-not-contains TEXT */
    CONF_T_CONTAINS_ANSI, /* screen-contains-ansi TEXT, \e and \\ escapes */
    CONF_T_CURSOR_LINE,   /* cursor-line TEXT: the cursor's line is exactly TEXT */
    CONF_T_WAIT_CURSOR,   /* wait-cursor-line TEXT: until it is */
    CONF_T_SLEEP,         /* sleep MILLISECONDS */
    CONF_T_WAIT_EXIT,     /* wait-exit: the client exits; [expect-exit] applies */
} conf_term_op;

/* A piece of a send step: literal text (placeholders substituted when it
 * runs) or a tmux key name. */
typedef struct {
    bool key;
    char *s;
} conf_term_piece;

typedef struct {
    conf_term_op op;
    size_t line;            /* in the case file */
    char *arg;              /* the step's text, as written (screen steps: trailing blanks cut) */
    long num;               /* size: width; timeout: seconds; sleep: milliseconds */
    long num2;              /* size: height */
    conf_term_piece *parts; /* send, send-keys */
    size_t nparts;
} conf_term_step;

#define CONF_TERM_DEFAULT_W 80
#define CONF_TERM_DEFAULT_H 24
#define CONF_TERM_DEFAULT_STEP_S 10

#define CONF_EXIT_ANY -1
#define CONF_EXIT_NONZERO -2

typedef struct {
    char *id;
    char *requirement;
    char *source; /* NULL when absent */
    char *fixture;
    conf_strv args;       /* tokens, placeholders not yet substituted */
    conf_strv mockd_args; /* extra arguments for the mock */
    char *user;           /* NULL when absent */
    char *password;       /* NULL when absent */
    conf_text stdin_text;
    conf_strv env;   /* "NAME=VALUE" to set, "-NAME" to unset */
    int expect_exit; /* 0..255, CONF_EXIT_ANY or CONF_EXIT_NONZERO */
    conf_text expect_stdout;
    conf_text expect_stderr;
    conf_strv stdout_contains;
    conf_strv stderr_contains;
    conf_strv stdout_not_contains;
    conf_strv stderr_not_contains;
    long expect_stdout_lines; /* -1 when absent */
    bool has_report_section;  /* absent: all-met and unmatched: 0 */
    conf_report_check *report;
    size_t nreport;
    int timeout_s;
    conf_strv tags;
    conf_strv requires;
    bool has_terminal; /* a [terminal] section: run under tmux */
    conf_term_step *term;
    size_t nterm;
    int term_w, term_h;
    conf_strv expect_wire; /* [expect-wire], includes expanded by conf_case_load */
} conf_case;

/* Parses a case from memory. name is the file's stem; when not NULL the [id]
 * must equal it, so that a case is found by its name. On error returns -1
 * and writes "line N: what" into err. */
int conf_case_parse(const char *text, size_t len, const char *name, conf_case *out, char *err,
                    size_t errlen);
/* Reads and parses path; the stem of its base name is the expected id. */
int conf_case_load(const char *path, conf_case *out, char *err, size_t errlen);
void conf_case_free(conf_case *c);

bool conf_case_has_tag(const conf_case *c, const char *tag);

/* Values for the placeholders; a NULL member leaves its placeholder as it
 * is written (e.g. {port} in [mockd-args], before the port is known). */
typedef struct {
    const char *host;
    const char *port;
    const char *url;
    const char *path;
    const char *user;
    const char *password_file;
    const char *fixtures;
    const char *tls_cert; /* generated once per run, see runner.c */
    const char *tls_key;
    const char *tls_wrong_cert;
    const char *tls_wrong_key;
} conf_vars;

/* Returns a new string with {host} {port} {url} {path} {user}
 * {password_file} {fixtures} {tls_cert} {tls_key} {tls_wrong_cert}
 * {tls_wrong_key} replaced and {lbrace} turned into "{". Any
 * other brace text is kept as is. NULL when memory runs out. */
char *conf_subst(const char *in, size_t len, const conf_vars *vars, size_t *outlen);

/* Splits argument text into words: blanks and newlines separate, '...' is
 * literal, "..." is literal except \" and \\. A backslash outside quotes is
 * an ordinary character (DOMAIN\user must survive). Returns -1 with err
 * set on an unterminated quote. */
int conf_split_args(const char *text, conf_strv *out, char *err, size_t errlen);

/* Parses the steps of a [terminal] section (text between the header and
 * the next one; first_line is the file line of its first line). Fills
 * c->term, c->nterm, c->term_w, c->term_h. */
int conf_term_parse(const char *text, size_t len, size_t first_line, conf_case *c, char *err,
                    size_t errlen);
void conf_term_steps_free(conf_term_step *steps, size_t n);
/* Checks a tmux key name: modifiers C- M- S- then a name (Enter, Up, F5...)
 * or one printable character. Returns the canonical tmux spelling (static
 * storage or name itself) or NULL. */
const char *conf_term_key(const char *name, char *buf, size_t buflen);

void conf_strv_free(conf_strv *s);
int conf_strv_push(conf_strv *s, const char *str, size_t len);
/* Pushes a printf-formatted string. Returns 0 or -1 (out of memory). */
int conf_strv_pushf(conf_strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
