#include "guid.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool etsn_guid_parse(const char *s, etsn_guid *out)
{
    if (!s) return false;
    size_t len = strlen(s);
    if (len == 38 && s[0] == '{' && s[37] == '}') {
        s++;
        len = 36;
    }
    if (len != 36) return false;
    size_t n = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
            continue;
        }
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out->b[n++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    return n == 16;
}

void etsn_guid_format(const etsn_guid *g, char out[37], bool upper)
{
    const char *fmt = upper ? "%02X" : "%02x";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        snprintf(p, 3, fmt, g->b[i]);
        p += 2;
    }
    *p = 0;
}

/* .NET's Guid.ToByteArray stores Data1 (4 bytes), Data2 and Data3 (2 bytes
 * each) little endian and the last 8 bytes as they are. */
void etsn_guid_to_dotnet(const etsn_guid *g, uint8_t out[16])
{
    static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++) out[i] = g->b[order[i]];
}

void etsn_guid_from_dotnet(const uint8_t in[16], etsn_guid *out)
{
    static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++) out->b[order[i]] = in[i];
}

int etsn_guid_random(etsn_guid *out)
{
    if (RAND_bytes(out->b, 16) != 1) return -1;
    out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x40);
    out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80);
    return 0;
}

bool etsn_guid_equal(const etsn_guid *a, const etsn_guid *b)
{
    return !memcmp(a->b, b->b, 16);
}

bool etsn_guid_is_zero(const etsn_guid *g)
{
    for (int i = 0; i < 16; i++)
        if (g->b[i]) return false;
    return true;
}
