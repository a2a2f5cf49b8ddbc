/* -Credential: turning a user name into user + password, as PowerShell's
 * CredentialAttribute does by calling the console host's PromptForCredential
 * (security/CredentialParameter.cs; ConsoleHost/host/msh/
 * ConsoleHostUserInterfaceSecurity.cs), plus etsn's non-interactive sources.
 * The password never comes from argv. */
#ifndef ETSN_CREDENTIAL_H
#define ETSN_CREDENTIAL_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/error.h"

/* Secret bytes. Growing copies the old block and zeroes it before freeing, so
 * no stale copy of the secret is left in freed memory. Always NUL terminated. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} etsn_secret;

void etsn_secret_free(etsn_secret *s); /* zeroes, frees, resets */
int etsn_secret_append(etsn_secret *s, char c);

typedef struct {
    char *user;    /* as given: "DOMAIN\\user", "user@domain" or "user" */
    char *domain;  /* "DOMAIN" / "domain", NULL when the name has none */
    char *account; /* "user" */
    etsn_secret password;
} etsn_credential;

/* Where a password may come from. etsn_credential_acquire uses the defaults
 * (environment, /dev/tty, stdin); tests pass their own. */
typedef struct {
    const char *password_file; /* ETSN_PASSWORD_FILE */
    const char *password_fd;   /* ETSN_PASSWORD_FD (decimal fd number) */
    const char *tty_path;      /* "/dev/tty"; NULL: no terminal device */
    bool try_stdin_tty;        /* fall back to stdin when it is a terminal */
} etsn_credential_sources;

#define ETSN_CRED_INTERRUPTED (-2) /* Ctrl+C at the prompt */

/* Splits user into domain/account ("DOMAIN\\user", "user@domain", "user"). */
int etsn_credential_set_user(etsn_credential *c, const char *user);

/* Fills c for the -Credential value user (NULL or "" means: ask "User: " on
 * the terminal first, as pwsh does). Order: ETSN_PASSWORD_FD, then
 * ETSN_PASSWORD_FILE, then the terminal with the pwsh prompt
 *   <blank line>
 *   PowerShell credential request
 *   Enter your credentials.
 *   Password for user <user>:
 * read without echo. Returns 0, -1 with err set, or ETSN_CRED_INTERRUPTED. */
int etsn_credential_acquire(const char *user, etsn_credential *c, etsn_error *err);
int etsn_credential_acquire_from(const char *user, const etsn_credential_sources *src,
                                 etsn_credential *c, etsn_error *err);

/* The first line (without "\n" or "\r\n") of an open descriptor. */
int etsn_credential_read_fd(int fd, etsn_secret *out, etsn_error *err);
/* The first line of a file; refused when the file is a regular file that
 * group or others may access (mode & 077), as ssh does for keys. */
int etsn_credential_read_file(const char *path, etsn_secret *out, etsn_error *err);

void etsn_credential_free(etsn_credential *c);

#endif
