/* libFuzzer target for the CLIXML reader and writer: every PSRP message body
 * from the server goes through etsn_clixml_parse, and whatever it accepts must
 * also be writable and read back as an equal value.
 *   clang -fsanitize=fuzzer,address $(pkg-config --cflags --libs libxml-2.0) \
 *       ref/core/fuzz_clixml.c ref/core/clixml.c ref/core/buf.c -lcrypto
 * Small limits make deep and wide inputs reach the limit checks quickly. It
 * also lands in libetsn-core.a, where nothing references the symbol. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "clixml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const etsn_clixml_limits lim = {
        .max_depth = 32, .max_nodes = 20000, .max_string = 1 << 20};
    char err[256];
    etsn_value *v = etsn_clixml_parse((const char *)data, size, &lim, err, sizeof err);
    if (!v) return 0;
    etsn_buf out = ETSN_BUF_INIT;
    if (etsn_clixml_write(v, &out) == 0) {
        etsn_value *back =
            etsn_clixml_parse((const char *)out.data, out.len, NULL, err, sizeof err);
        /* The writer's output must always be readable and mean the same. */
        if (!back || !etsn_v_equal(v, back)) abort();
        etsn_v_free(back);
    }
    etsn_buf display = ETSN_BUF_INIT;
    etsn_v_display(v, &display);
    etsn_buf_free(&display);
    etsn_buf_free(&out);
    etsn_v_free(v);
    return 0;
}

#ifdef ETSN_FUZZ_STANDALONE
#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    return etsn_fuzz_replay(argc, argv);
}
#endif
