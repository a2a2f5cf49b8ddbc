/* libFuzzer target for the PSRP defragmenter (fragment.c).
 *
 * Input layout: byte 0 picks max_object (1 << (b % 21)), byte 1 max_partial
 * (0..8), bytes 2..5 seed a PRNG that picks chunk sizes and budgets; the rest
 * is the payload. Two properties are checked:
 *   1. the payload fed as raw fragments, cut into random-size chunks, never
 *      crashes, never hands over an object above max_object, and every
 *      failure comes with a reason;
 *   2. the payload fragmented as one message (etsn_fragment_message, and
 *      etsn_fragment_some with random budgets) and fed back in random chunks
 *      comes out as exactly one identical object.
 *
 * Build: clang -fsanitize=fuzzer,address -Iref/core ref/core/fuzz_fragment.c
 *        ref/core/fragment.c ref/core/buf.c
 * Replay without libFuzzer: compile with -DETSN_FUZZ_STANDALONE and pass
 * input files as arguments. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fragment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    size_t max_object;
    size_t count;
    const uint8_t *expect; /* property 2: the object that must come out */
    size_t expect_len;
    uint64_t expect_id;
    uint32_t sink;
} fuzz_ctx;

static uint32_t next_rand(uint32_t *s)
{
    /* xorshift32; never zero */
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* A chunk length: mostly small, sometimes single bytes, sometimes the rest. */
static size_t chunk_len(uint32_t *s, size_t left)
{
    uint32_t r = next_rand(s);
    size_t n;
    switch (r & 3) {
    case 0:
        n = 1;
        break;
    case 1:
        n = 1 + (r >> 8) % 32;
        break;
    case 2:
        n = 1 + (r >> 8) % 4096;
        break;
    default:
        n = left;
        break;
    }
    return n < left ? n : left;
}

static int on_object(void *ctx, uint64_t object_id, const uint8_t *obj, size_t len)
{
    fuzz_ctx *c = ctx;
    if (len > c->max_object) abort();
    /* Touch every byte so a sanitizer sees a bad pointer or length. */
    for (size_t i = 0; i < len; i++) c->sink += obj[i];
    if (c->expect) {
        if (c->count != 0 || object_id != c->expect_id || len != c->expect_len) abort();
        if (len && memcmp(obj, c->expect, len) != 0) abort();
    }
    c->count++;
    return 0;
}

/* Feeds buf in random chunks; returns the first non-zero feed result. */
static int feed_chunks(etsn_defrag *d, const uint8_t *buf, size_t len, uint32_t *seed, fuzz_ctx *c)
{
    size_t off = 0;
    while (off < len) {
        size_t n = chunk_len(seed, len - off);
        char err[160];
        err[0] = 0;
        int rc = etsn_defrag_feed(d, buf + off, n, on_object, c, err, sizeof err);
        if (rc < 0 && err[0] == 0) abort(); /* a failure must say why */
        if (rc) return rc;
        off += n;
    }
    return 0;
}

static void round_trip(const etsn_buf *frags, const uint8_t *msg, size_t len, uint64_t id,
                       uint32_t *seed)
{
    fuzz_ctx c = {.max_object = len, .expect = msg, .expect_len = len, .expect_id = id};
    etsn_defrag *d = etsn_defrag_new(len, 1);
    if (!d) return;
    if (feed_chunks(d, frags->data, frags->len, seed, &c) != 0) abort();
    if (c.count != 1 || !etsn_defrag_idle(d)) abort();
    etsn_defrag_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6) return 0;
    size_t max_object = (size_t)1 << (data[0] % 21);
    size_t max_partial = data[1] % 9;
    uint32_t seed = (uint32_t)data[2] | (uint32_t)data[3] << 8 | (uint32_t)data[4] << 16 |
                    (uint32_t)data[5] << 24;
    data += 6;
    size -= 6;

    /* 1: arbitrary bytes as fragments. */
    etsn_defrag *d = etsn_defrag_new(max_object, max_partial);
    if (!d) return 0;
    fuzz_ctx c = {.max_object = max_object};
    (void)feed_chunks(d, data, size, &seed, &c);
    (void)etsn_defrag_idle(d);
    etsn_defrag_free(d);

    /* 2: the payload as one message, cut up and put back together. */
    size_t max_fragment = ETSN_FRAGMENT_HEADER_LEN + 1 + next_rand(&seed) % 512;
    uint64_t id = 1 + next_rand(&seed);
    etsn_buf whole = ETSN_BUF_INIT, some = ETSN_BUF_INIT;
    int n = etsn_fragment_message(&whole, id, data, size, max_fragment);
    if (n <= 0) abort();
    round_trip(&whole, data, size, id, &seed);

    /* The same with etsn_fragment_some and random budgets: with an unlimited
     * budget it must write exactly what etsn_fragment_message wrote. */
    size_t offset = 0;
    uint64_t fragment_id = 0;
    size_t w =
        etsn_fragment_some(&some, id, data, size, &offset, &fragment_id, SIZE_MAX, max_fragment);
    if (w != whole.len || some.len != whole.len || memcmp(some.data, whole.data, w) != 0) abort();
    if (fragment_id != (uint64_t)n || offset != size) abort();

    some.len = 0;
    offset = 0;
    fragment_id = 0;
    for (int guard = 0; offset < size || fragment_id == 0; guard++) {
        if (guard > 1000000) abort();
        size_t budget = next_rand(&seed) % (2 * max_fragment);
        size_t before = some.len;
        w = etsn_fragment_some(&some, id, data, size, &offset, &fragment_id, budget, max_fragment);
        if (w > budget || some.len - before != w) abort();
    }
    round_trip(&some, data, size, id, &seed);

    etsn_buf_free(&whole);
    etsn_buf_free(&some);
    return 0;
}

#ifdef ETSN_FUZZ_STANDALONE
#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    int rc = etsn_fuzz_replay(argc, argv);
    return rc;
}
#endif
