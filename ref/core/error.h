/* An error as PowerShell reports it: the message text, the WinRM/Win32 code
 * behind it (0 if none), the FullyQualifiedErrorId and the category. */
#ifndef ETSN_ERROR_H
#define ETSN_ERROR_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t winrm_code; /* e.g. 5 (access denied), 0x80338012 (cannot connect) */
    int http_status;     /* last HTTP status seen, 0 if none */
    char message[2048];  /* the inner message, e.g. "Access is denied." */
    char fqid[128];      /* e.g. "CreateRemoteRunspaceFailed" */
    char category[64];   /* e.g. "InvalidArgument" */
} etsn_error;

void etsn_error_clear(etsn_error *e);
/* Sets winrm_code and the message (printf format); leaves fqid/category. */
void etsn_error_set(etsn_error *e, uint32_t winrm_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats a message into a caller's buffer (nothing when err is NULL or
 * errlen 0): for the layers that report errors as plain text. */
void etsn_errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* WinRM error codes PowerShell maps to names (fanin/WSManTransportManager.cs). */
#define ETSN_ERR_ACCESS_DENIED 5u
#define ETSN_ERR_LOGON_FAILURE 1326u
#define ETSN_ERR_CANNOT_CONNECT 0x80338012u
#define ETSN_ERR_OPERATION_TIMEOUT 0x80338126u
#define ETSN_ERR_INVALID_AUTH 0x8033810Eu
#define ETSN_ERR_INVALID_RESOURCE_URI 0x8033803Bu
#define ETSN_ERR_HTTP_NOT_FOUND 0x80338113u

#endif
