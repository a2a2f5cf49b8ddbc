/* Replay of saved fuzz inputs without libFuzzer: a target compiled with
 * -DETSN_FUZZ_STANDALONE gets a main() that feeds each file named on the
 * command line to LLVMFuzzerTestOneInput (crash reproduction under gdb or
 * valgrind). Included by the fuzz_*.c targets only. */
#ifndef ETSN_FUZZ_REPLAY_H
#define ETSN_FUZZ_REPLAY_H

#include <stdint.h>
#include <stdio.h>

#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline int etsn_fuzz_replay(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        etsn_buf b = ETSN_BUF_INIT;
        uint8_t tmp[4096];
        size_t n;
        while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) etsn_buf_append(&b, tmp, n);
        fclose(f);
        LLVMFuzzerTestOneInput(b.data, b.len);
        etsn_buf_free(&b);
    }
    return 0;
}

#endif
