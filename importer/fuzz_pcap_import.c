/* libFuzzer target for the capture importer past tshark: what tshark hands
 * over (its follow YAML) and what the connection holds (HTTP, NTLM tokens,
 * sealed bodies) come from captures users bring from elsewhere. The first
 * byte picks the input: odd, the rest is tshark follow YAML; even, the rest
 * is a connection as records: direction (1 byte, odd: client), length (2
 * bytes, big endian), bytes. The connection is imported with the password
 * P@ssw0rd-for-tests and written to a transcript. Seeds:
 * importer/corpus/fuzz_pcap_import/ (an etsn <-> etsn-mockd session). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture.h"
#include "pcap_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int null_sink(void *ctx, const void *data, size_t len)
{
    (void)ctx, (void)data, (void)len;
    return 0;
}

static void from_records(const uint8_t *data, size_t size, tcp_conv *c)
{
    char err[256];
    double t = 1.0;
    while (size >= 3) {
        bool client = data[0] & 1;
        size_t n = (size_t)data[1] << 8 | data[2];
        data += 3;
        size -= 3;
        if (n > size) n = size;
        if (tcp_conv_add(c, client, t, data, n, err, sizeof err) < 0) return;
        t += 0.001;
        data += n;
        size -= n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tcp_conv c = {0};
    char err[256];
    if (size == 0) return 0;
    if (data[0] & 1) {
        FILE *f = fmemopen((void *)(data + 1), size - 1, "r");
        if (f) {
            capture_read_follow_yaml(f, &c, err, sizeof err);
            fclose(f);
        }
    } else {
        from_records(data + 1, size - 1, &c);
    }
    import_result r = {.password = "P@ssw0rd-for-tests"};
    etsn_error e;
    if (import_conv(&r, &c, 1, &e) == 0) import_write(&r, true, null_sink, NULL, &e);
    import_result_free(&r);
    tcp_conv_free(&c);
    return 0;
}

#ifdef ETSN_FUZZ_STANDALONE
#include "../ref/core/fuzz_replay.h"

int main(int argc, char **argv)
{
    return etsn_fuzz_replay(argc, argv);
}
#endif
