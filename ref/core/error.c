#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void etsn_error_clear(etsn_error *e)
{
    memset(e, 0, sizeof *e);
}

void etsn_error_set(etsn_error *e, uint32_t winrm_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->winrm_code = winrm_code;
}

void etsn_errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
