/* GUIDs as PSRP uses them: text 8-4-4-4-12, and the 16-byte .NET layout
 * (first three fields little endian) inside message headers. */
#ifndef ETSN_GUID_H
#define ETSN_GUID_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint8_t b[16]; /* in text order: b[0..3] is the first field, big endian */
} etsn_guid;

#define ETSN_GUID_STR_LEN 36

bool etsn_guid_parse(const char *s, etsn_guid *out); /* accepts {braces} and any case */
/* Writes 36 chars + NUL into out (37 bytes). */
void etsn_guid_format(const etsn_guid *g, char out[37], bool upper);
void etsn_guid_to_dotnet(const etsn_guid *g, uint8_t out[16]);
void etsn_guid_from_dotnet(const uint8_t in[16], etsn_guid *out);
/* A random version-4 GUID (OpenSSL RAND_bytes). Returns -1 if none can be had. */
int etsn_guid_random(etsn_guid *out);
bool etsn_guid_equal(const etsn_guid *a, const etsn_guid *b);
bool etsn_guid_is_zero(const etsn_guid *g);

#endif
