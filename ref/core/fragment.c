#include "fragment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static int append_fragment(etsn_buf *out, uint64_t object_id, uint64_t fragment_id, uint8_t flags,
                           const uint8_t *blob, size_t len)
{
    uint8_t hdr[ETSN_FRAGMENT_HEADER_LEN];
    put_be64(hdr, object_id);
    put_be64(hdr + 8, fragment_id);
    hdr[16] = flags;
    hdr[17] = (uint8_t)(len >> 24);
    hdr[18] = (uint8_t)(len >> 16);
    hdr[19] = (uint8_t)(len >> 8);
    hdr[20] = (uint8_t)len;
    if (etsn_buf_append(out, hdr, sizeof hdr) < 0) return -1;
    return etsn_buf_append(out, blob, len);
}

size_t etsn_fragment_some(etsn_buf *out, uint64_t object_id, const uint8_t *msg, size_t len,
                          size_t *offset, uint64_t *fragment_id, size_t budget, size_t max_fragment)
{
    size_t written = 0;
    if (max_fragment < ETSN_FRAGMENT_HEADER_LEN + (len ? 1 : 0)) return 0;
    /* An empty message still needs one Start|End fragment. */
    while (*offset < len || (len == 0 && *fragment_id == 0)) {
        /* Room for the header and at least one byte, or exactly the header
         * for the single empty fragment of an empty message. */
        if (budget - written < ETSN_FRAGMENT_HEADER_LEN + (len ? 1 : 0)) break;
        size_t room = budget - written - ETSN_FRAGMENT_HEADER_LEN;
        if (room > max_fragment - ETSN_FRAGMENT_HEADER_LEN)
            room = max_fragment - ETSN_FRAGMENT_HEADER_LEN;
        size_t chunk = len - *offset < room ? len - *offset : room;
        uint8_t flags = 0;
        if (*fragment_id == 0) flags |= ETSN_FRAGMENT_START;
        if (*offset + chunk == len) flags |= ETSN_FRAGMENT_END;
        if (append_fragment(out, object_id, *fragment_id, flags, msg + *offset, chunk) < 0)
            return written;
        *offset += chunk;
        (*fragment_id)++;
        written += ETSN_FRAGMENT_HEADER_LEN + chunk;
        if (len == 0) break;
    }
    return written;
}

int etsn_fragment_message(etsn_buf *out, uint64_t object_id, const uint8_t *msg, size_t len,
                          size_t max_fragment)
{
    size_t offset = 0;
    uint64_t fragment_id = 0;
    size_t before = out->len;
    etsn_fragment_some(out, object_id, msg, len, &offset, &fragment_id, SIZE_MAX, max_fragment);
    if (offset != len || fragment_id == 0) {
        out->len = before;
        return -1;
    }
    return (int)fragment_id;
}

/* ---- reassembly ---- */

typedef struct {
    uint64_t object_id;
    uint64_t next_fragment;
    etsn_buf data;
    int in_use;
} partial_object;

struct etsn_defrag {
    size_t max_object;
    size_t max_partial;
    partial_object *partials;
    /* a fragment cut across feeds: its bytes so far */
    uint8_t header[ETSN_FRAGMENT_HEADER_LEN];
    size_t header_have;
    partial_object *current; /* object the pending blob belongs to */
    int failed;              /* after an error the byte stream has no known framing left */
    size_t blob_left;
    uint8_t current_flags;
};

etsn_defrag *etsn_defrag_new(size_t max_object, size_t max_partial)
{
    etsn_defrag *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->max_object = max_object;
    d->max_partial = max_partial ? max_partial : 1;
    d->partials = calloc(d->max_partial, sizeof *d->partials);
    if (!d->partials) {
        free(d);
        return NULL;
    }
    return d;
}

void etsn_defrag_free(etsn_defrag *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->max_partial; i++) etsn_buf_free(&d->partials[i].data);
    free(d->partials);
    free(d);
}

int etsn_defrag_idle(const etsn_defrag *d)
{
    if (d->header_have || d->current) return 0;
    for (size_t i = 0; i < d->max_partial; i++)
        if (d->partials[i].in_use) return 0;
    return 1;
}

static partial_object *find_partial(etsn_defrag *d, uint64_t object_id)
{
    for (size_t i = 0; i < d->max_partial; i++)
        if (d->partials[i].in_use && d->partials[i].object_id == object_id) return &d->partials[i];
    return NULL;
}

/* Header complete: check it against the object's state and pick the slot. */
static int begin_fragment(etsn_defrag *d, char *err, size_t errlen)
{
    uint64_t object_id = get_be64(d->header);
    uint64_t fragment_id = get_be64(d->header + 8);
    uint8_t flags = d->header[16];
    size_t blob_len = (size_t)d->header[17] << 24 | (size_t)d->header[18] << 16 |
                      (size_t)d->header[19] << 8 | d->header[20];
    partial_object *p = find_partial(d, object_id);

    if (flags & ~(ETSN_FRAGMENT_START | ETSN_FRAGMENT_END)) {
        snprintf(err, errlen, "fragment of object %llu has unknown flags 0x%02x",
                 (unsigned long long)object_id, flags);
        return -1;
    }
    if (flags & ETSN_FRAGMENT_START) {
        if (p || fragment_id != 0) {
            snprintf(err, errlen, "object %llu: start fragment %llu out of sequence",
                     (unsigned long long)object_id, (unsigned long long)fragment_id);
            return -1;
        }
        for (size_t i = 0; i < d->max_partial && !p; i++)
            if (!d->partials[i].in_use) p = &d->partials[i];
        if (!p) {
            snprintf(err, errlen, "more than %zu objects are being reassembled at once",
                     d->max_partial);
            return -1;
        }
        p->in_use = 1;
        p->object_id = object_id;
        p->next_fragment = 0;
        etsn_buf_reset(&p->data);
    } else if (!p || fragment_id != p->next_fragment) {
        snprintf(err, errlen, "object %llu: fragment %llu out of sequence",
                 (unsigned long long)object_id, (unsigned long long)fragment_id);
        return -1;
    }
    if (blob_len > d->max_object || p->data.len > d->max_object - blob_len) {
        snprintf(err, errlen, "object %llu is larger than the limit of %zu bytes",
                 (unsigned long long)object_id, d->max_object);
        p->in_use = 0;
        etsn_buf_free(&p->data);
        return -1;
    }
    if (etsn_buf_reserve(&p->data, blob_len) < 0) {
        snprintf(err, errlen, "out of memory reassembling object %llu",
                 (unsigned long long)object_id);
        return -1;
    }
    p->next_fragment++;
    d->current = p;
    d->blob_left = blob_len;
    d->current_flags = flags;
    return 0;
}

static int finish_fragment(etsn_defrag *d, etsn_defrag_cb cb, void *ctx)
{
    partial_object *p = d->current;
    d->current = NULL;
    if (!(d->current_flags & ETSN_FRAGMENT_END)) return 0;
    int rc = cb ? cb(ctx, p->object_id, p->data.data, p->data.len) : 0;
    p->in_use = 0;
    /* Large objects are rare: give their memory back rather than keep it. */
    if (p->data.cap > 1024 * 1024) etsn_buf_free(&p->data);
    etsn_buf_reset(&p->data);
    return rc;
}

int etsn_defrag_feed(etsn_defrag *d, const uint8_t *data, size_t len, etsn_defrag_cb cb, void *ctx,
                     char *err, size_t errlen)
{
    if (d->failed) {
        snprintf(err, errlen, "the fragment stream was already rejected");
        return -1;
    }
    while (len > 0 || (d->current && d->blob_left == 0)) {
        if (!d->current) {
            size_t take = ETSN_FRAGMENT_HEADER_LEN - d->header_have;
            if (take > len) take = len;
            memcpy(d->header + d->header_have, data, take);
            d->header_have += take;
            data += take;
            len -= take;
            if (d->header_have < ETSN_FRAGMENT_HEADER_LEN) break;
            d->header_have = 0;
            if (begin_fragment(d, err, errlen) < 0) {
                d->failed = 1;
                return -1;
            }
        }
        size_t take = d->blob_left < len ? d->blob_left : len;
        etsn_buf_append(&d->current->data, data, take); /* reserved in begin_fragment */
        data += take;
        len -= take;
        d->blob_left -= take;
        if (d->blob_left == 0) {
            int rc = finish_fragment(d, cb, ctx);
            if (rc) return rc;
        }
    }
    return 0;
}
