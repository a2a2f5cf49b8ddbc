/* libFuzzer target for the offline NTLM unsealer, which etsn-pcap-import
 * feeds with tokens and bodies from captures users bring from elsewhere.
 * The input is a list of records: kind (1 byte), length (2 bytes, big
 * endian), data. Kinds: 0/1 an Authorization/WWW-Authenticate header value,
 * 2/3 a raw client/server token, 4 derive the keys with data as password,
 * 5 a multipart/encrypted body (first byte odd: from the client), 6 a bare
 * signature (16 bytes) and sealed data. Seeds: ref/auth/corpus/fuzz_ntlm_unseal/
 * (a session between etsn and etsn-mockd, password P@ssw0rd-for-tests). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntlm_unseal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_record(etsn_ntlm_unseal *u, unsigned kind, const uint8_t *d, size_t n)
{
    char err[512];
    etsn_buf plain = ETSN_BUF_INIT;
    char *pw;
    switch (kind % 7) {
    case 0:
    case 1:
        etsn_ntlm_unseal_add_header(u, kind % 7 == 0, (const char *)d, n, err, sizeof err);
        break;
    case 2:
    case 3:
        etsn_ntlm_unseal_add_token(u, kind % 7 == 2, d, n, err, sizeof err);
        break;
    case 4:
        pw = strndup((const char *)d, n);
        if (pw) etsn_ntlm_unseal_derive(u, pw, err, sizeof err);
        free(pw);
        break;
    case 5:
        if (n > 0) etsn_ntlm_unseal_body(u, d[0] & 1, d + 1, n - 1, &plain, err, sizeof err);
        break;
    default:
        if (n >= 17)
            etsn_ntlm_unseal_message(u, d[0] & 1, d + 1, 16, d + 17, n - 17, &plain, err,
                                     sizeof err);
        break;
    }
    etsn_buf_free(&plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    etsn_ntlm_unseal *u = etsn_ntlm_unseal_new(err, sizeof err);
    if (!u) return 0;
    while (size >= 3) {
        unsigned kind = data[0];
        size_t n = (size_t)data[1] << 8 | data[2];
        data += 3;
        size -= 3;
        if (n > size) n = size;
        one_record(u, kind, data, n);
        data += n;
        size -= n;
    }
    etsn_ntlm_unseal_free(u);
    return 0;
}

#ifdef ETSN_FUZZ_STANDALONE
#include "../core/fuzz_replay.h"

int main(int argc, char **argv)
{
    return etsn_fuzz_replay(argc, argv);
}
#endif
