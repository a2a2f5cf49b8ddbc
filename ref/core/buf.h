/* Growable byte buffer shared by every layer. Always keeps one spare byte so
 * that data[len] == 0 and text held in it can be used as a C string. */
#ifndef ETSN_BUF_H
#define ETSN_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} etsn_buf;

#define ETSN_BUF_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* All functions return 0 on success and -1 when memory cannot be had. */
int etsn_buf_reserve(etsn_buf *b, size_t extra);
int etsn_buf_append(etsn_buf *b, const void *data, size_t len);
int etsn_buf_append_str(etsn_buf *b, const char *s);
int etsn_buf_append_byte(etsn_buf *b, uint8_t byte);
int etsn_buf_printf(etsn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int etsn_buf_vprintf(etsn_buf *b, const char *fmt, va_list ap);
/* Appends s with the five XML special characters escaped. */
int etsn_buf_append_xml_escaped(etsn_buf *b, const char *s, size_t len);
/* Drops the first n bytes, keeping the rest. */
void etsn_buf_consume(etsn_buf *b, size_t n);
void etsn_buf_reset(etsn_buf *b);
/* Hands the storage to the caller (NUL terminated) and leaves b empty. */
char *etsn_buf_steal(etsn_buf *b);
void etsn_buf_free(etsn_buf *b);
/* Overwrites the contents before freeing: for anything that held a secret. */
void etsn_buf_free_secure(etsn_buf *b);

/* Zeroes memory in a way the compiler may not elide. */
void etsn_secure_zero(void *p, size_t n);

#endif
