/* PSRP fragments (MS-PSRP 2.2.4): a message is cut into fragments of
 * ObjectId (u64 BE), FragmentId (u64 BE), flags (Start 0x1, End 0x2),
 * BlobLength (u32 BE) and the blob. Fragments of different objects may
 * interleave; the defragmenter keeps a bounded number of partial objects. */
#ifndef ETSN_FRAGMENT_H
#define ETSN_FRAGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ETSN_FRAGMENT_HEADER_LEN 21
#define ETSN_FRAGMENT_START 0x1
#define ETSN_FRAGMENT_END 0x2
/* PowerShell's default fragment size (fragmentor.cs). */
#define ETSN_DEFAULT_FRAGMENT_SIZE 32768

/* Appends the fragments of one message, each at most max_fragment bytes
 * including its header. Returns the number of fragments, or -1. */
int etsn_fragment_message(etsn_buf *out, uint64_t object_id, const uint8_t *msg, size_t len,
                          size_t max_fragment);

/* Appends at most `budget` bytes of fragments for the rest of one message,
 * starting at *offset (bytes of msg already sent) with *fragment_id the next
 * fragment number; updates both. Lets a sender fill a reply of limited size
 * and continue the same object in the next one. Returns bytes appended. */
size_t etsn_fragment_some(etsn_buf *out, uint64_t object_id, const uint8_t *msg, size_t len,
                          size_t *offset, uint64_t *fragment_id, size_t budget,
                          size_t max_fragment);

typedef struct etsn_defrag etsn_defrag;

/* Called with each complete object. Return non-zero to stop feeding. */
typedef int (*etsn_defrag_cb)(void *ctx, uint64_t object_id, const uint8_t *data, size_t len);

/* max_object: the largest reassembled object accepted (bytes);
 * max_partial: how many objects may be in progress at once. */
etsn_defrag *etsn_defrag_new(size_t max_object, size_t max_partial);
/* Feeds bytes; a fragment may be split across calls. Returns 0, the
 * callback's non-zero value, or -1 with a reason in err. After -1 the
 * stream's framing is lost: every later call fails too. */
int etsn_defrag_feed(etsn_defrag *d, const uint8_t *data, size_t len, etsn_defrag_cb cb, void *ctx,
                     char *err, size_t errlen);
/* True when no fragment or object is half received. */
int etsn_defrag_idle(const etsn_defrag *d);
void etsn_defrag_free(etsn_defrag *d);

#endif
