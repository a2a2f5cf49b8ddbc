/* etsn-mockd's WinRS cmd shell (MS-WSMV 3.1.4.5 Create, Command,
 * 3.1.4.14 Receive, 2.2.4.38 Signal, Delete): the remote shell pywinrm,
 * pypsrp's WinRS and winrs.exe drive, scripted from <winrs-command>
 * fixture elements (docs/fixtures.md, "WinRS commands").
 *
 * The server chooses the ShellId and every CommandId (WinRM does: the client
 * sends none) and checks that later requests echo them. What it sends
 * follows WinRM's own messages: the CreateResponse's rsp:Shell (ShellId,
 * ResourceUri, Owner, ClientIP, Environment, WorkingDirectory, IdleTimeOut,
 * streams, ShellRunTime, ShellInactivity), one rsp:Stream per chunk of
 * output, empty End="true" stdout and stderr streams and CommandState Done
 * with the exit code when the process ends, and WinRM's faults.
 *
 * Everything here runs under the engine's lock (mockserver/engine.c); a
 * Receive waits on the engine's condition variable. */
#ifndef ETSN_MOCK_WINRS_H
#define ETSN_MOCK_WINRS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "../ref/core/buf.h"
#include "../ref/core/wsman.h"
#include "report.h"

#define MOCK_WINRS_URI "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"

/* ---- fixture (mockserver/winrs_fixture.c) ---- */

typedef enum {
    WX_STDOUT,      /* <stdout>text</stdout>: one rsp:Stream Name="stdout" chunk */
    WX_STDERR,      /* <stderr>text</stderr> */
    WX_PS_ERROR,    /* <ps-error>lines</ps-error>: powershell.exe's CLIXML error lines */
    WX_SLEEP,       /* <sleep ms=/>: nothing for a while */
    WX_WAIT_SIGNAL, /* <wait-signal exit=/>: runs until Signal ctrl_c (or terminate) */
    WX_EXIT,        /* <exit code=/>: the process ends with that exit code */
} wx_kind;

typedef struct {
    wx_kind kind;
    char *text; /* WX_STDOUT/WX_STDERR: UTF-8 with line ends applied; WX_PS_ERROR: lines */
    size_t len;
    bool raw;     /* WX_STDOUT/WX_STDERR encoding="base64": bytes sent as they are */
    uint32_t ms;  /* WX_SLEEP */
    int64_t code; /* WX_EXIT; WX_WAIT_SIGNAL: exit code after Ctrl+C */
    int line;
} wx_step;

typedef struct {
    char *command;   /* normalized command line, or the PowerShell script */
    bool powershell; /* matched against the script of powershell -EncodedCommand */
    unsigned run;    /* run="N": the Nth run of this line (default 1) */
    char *description;
    wx_step *steps;
    size_t n_steps;
    int line;
} wx_command;

typedef struct mock_winrs_fixture {
    wx_command *commands;
    size_t n_commands;
} mock_winrs_fixture;

/* Parses one <winrs-command> element into *wf (allocated on first use).
 * On error writes "FILE:LINE: reason" to err and returns -1. */
int mock_winrs_fixture_add(mock_winrs_fixture **wf, const xmlNode *n, const char *file, char *err,
                           size_t errlen);
void mock_winrs_fixture_free(mock_winrs_fixture *wf);

/* The command line as WinRM's cmd plugin runs it: rsp:Command and the
 * rsp:Arguments joined by one space, whitespace runs collapsed, trimmed.
 * Returns a new string or NULL. */
char *mock_winrs_command_line(const char *command, const char *arguments);
/* When line runs powershell(.exe) with -EncodedCommand (any prefix down to
 * -e, or -ec), the decoded script (base64 of UTF-16LE, as pywinrm's run_ps
 * and PowerShell's own CommandLineParameterParser use); else NULL. */
char *mock_winrs_encoded_script(const char *line);
/* The fixture command for the run-th run (1-based) of this line (script: the
 * decoded PowerShell script, or NULL): of the commands for the line, the one
 * with the largest run= not above run; NULL when none. Lines compare
 * case-insensitively. */
const wx_command *mock_winrs_find(const mock_winrs_fixture *wf, const char *line,
                                  const char *script, unsigned run);
/* The closest fixture command (edit distance), or NULL when there is none. */
const wx_command *mock_winrs_nearest(const mock_winrs_fixture *wf, const char *text);

/* What cmd.exe writes for an unknown program X ("'X' is not recognized as an
 * internal or external command,\r\noperable program or batch file.\r\n");
 * X is the first word of line, after "cmd /c" when the line starts so.
 * Returns a new string or NULL. */
char *mock_winrs_not_recognized(const char *line);
/* Windows PowerShell 5.1's CommandNotFoundException lines for the first word
 * of script (as its console writes them, "\n" separated). New string. */
char *mock_winrs_ps_not_found(const char *script);
/* Appends the CLIXML error records powershell.exe writes to a redirected
 * stderr for these "\n"-separated lines: one <S S="Error">line_x000D__x000A_</S>
 * each. */
int mock_winrs_clixml_errors(const char *lines, etsn_buf *out);
/* Converts UTF-8 text to the shell's code page (WINRS_CODEPAGE: 65001 =
 * UTF-8, 437 = OEM United States, others as iconv names them CP<n>);
 * characters the page lacks become '?', as WideCharToMultiByte's default
 * character. Returns 0, or -1 when the code page is unknown (text appended
 * as UTF-8). */
int mock_winrs_encode(unsigned codepage, const char *text, size_t len, etsn_buf *out);

/* ---- the shell state machine (mockserver/winrs.c) ---- */

typedef struct mock_winrs mock_winrs;

/* fx may be NULL (no WinRS shell is served). mu/cv are the engine's lock and
 * condition variable; stopping is the engine's shutdown flag. report is the
 * engine's report (events and unmatched requests go there). */
mock_winrs *mock_winrs_new(const mock_winrs_fixture *fx, const char *computer, mock_report *report,
                           pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stopping);
void mock_winrs_free(mock_winrs *w);

/* Whether this request is WinRS's: a Create for the cmd resource URI when
 * the fixture has WinRS commands, or any request naming a WinRS shell. */
bool mock_winrs_claims(const mock_winrs *w, const etsn_wsman_msg *m);
/* Answers a claimed request (under the engine's lock; a Receive may wait on
 * cv). user is the authenticated user (rsp:Owner). Returns the HTTP status
 * (200 or 500 with a fault) or -1 when out of memory. */
int mock_winrs_handle(mock_winrs *w, const etsn_wsman_msg *m, const char *user, etsn_buf *reply);

/* Expectations winrs-shell-created, winrs-command:<command line or script>,
 * winrs-signal-terminate, winrs-signal-ctrl-c, winrs-shell-deleted,
 * winrs-codepage:<n>: 1 met, 0 not met, -1 not a WinRS expectation id. */
int mock_winrs_evaluate(const mock_winrs *w, const char *id, char *detail, size_t dl);

#endif
