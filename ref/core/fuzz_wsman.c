/* libFuzzer target for the WS-Man envelope parser, the first code to touch
 * bytes from the network on both the client and etsn-mockd:
 *   clang -fsanitize=fuzzer,address $(pkg-config --cflags --libs libxml-2.0) \
 *       ref/core/fuzz_wsman.c ref/core/wsman.c ref/core/buf.c -lcrypto
 * It also lands in libetsn-core.a (the Makefile archives every C file in ref/core);
 * nothing references the symbol there, so it is never linked in. */
#include <stddef.h>
#include <stdint.h>

#include "wsman.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    etsn_wsman_msg msg;
    char err[256];
    if (etsn_wsman_parse(data, size, &msg, err, sizeof err) == 0) etsn_wsman_msg_free(&msg);
    return 0;
}

#ifdef ETSN_FUZZ_STANDALONE
#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    return etsn_fuzz_replay(argc, argv);
}
#endif
