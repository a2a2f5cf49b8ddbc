/* libFuzzer target for the transcript reader, which etsn-mockd --replay and
 * the decode/scrub tools run on files users bring from elsewhere; every
 * exchange read is also fed back through the writer (decoding and
 * scrubbing), as the tools do. Seeds: ref/core/corpus/fuzz_transcript/. */
#include <stddef.h>
#include <stdint.h>

#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int null_sink(void *ctx, const void *data, size_t len)
{
    (void)ctx, (void)data, (void)len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    etsn_error err;
    etsn_transcript_reader *r = etsn_transcript_reader_new_memory(data, size, &err);
    if (!r) return 0;
    etsn_transcript_meta meta = {.source = "fuzz", .scrub = true, .secret = "secret"};
    etsn_transcript_writer *w = etsn_transcript_writer_new(&meta, null_sink, NULL, &err);
    etsn_transcript_record *rec;
    while (etsn_transcript_next(r, &rec, &err) == 1) {
        etsn_transcript_exchange x;
        etsn_transcript_record_exchange(rec, &x);
        if (w) etsn_transcript_add(w, &x, &err);
        etsn_transcript_record_free(rec);
    }
    if (w) etsn_transcript_finish(w, &err);
    etsn_transcript_writer_free(w);
    etsn_transcript_reader_free(r);
    return 0;
}

#ifdef ETSN_FUZZ_STANDALONE
#include "fuzz_replay.h"

int main(int argc, char **argv)
{
    return etsn_fuzz_replay(argc, argv);
}
#endif
