/* TCP connections of a packet capture, reassembled by Debian's tshark:
 * `tshark -r FILE -T fields -e tcp.stream` lists the connections, then
 * `tshark -r FILE -q -z follow,tcp,yaml,N` gives each one's payload in
 * order (retransmissions and reordering resolved by tshark) with the
 * capture time of every segment. The YAML is read with libyaml.
 *
 * The conversation model (tcp_conv) is plain memory so that the importer
 * and its tests do not need tshark. */
#ifndef ETSN_IMPORT_CAPTURE_H
#define ETSN_IMPORT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../ref/core/buf.h"

/* Bounds on what one capture may hold. */
#define ETSN_CAPTURE_MAX_CONNS 1024
#define ETSN_CAPTURE_MAX_STREAM (512u * 1024 * 1024) /* bytes per direction */
#define ETSN_CAPTURE_MAX_CHUNKS (8u * 1024 * 1024)   /* segments per connection */

/* Where a segment's bytes start in its direction's stream, and when it was seen. */
typedef struct {
    size_t off;
    double t; /* seconds since the epoch */
} tcp_mark;

typedef struct {
    uint64_t stream; /* tshark's tcp.stream index */
    char client[80]; /* "host:port" of the peer that spoke first */
    char server[80];
    /* [1] client to server, [0] server to client */
    etsn_buf bytes[2];
    tcp_mark *marks[2];
    size_t n_marks[2], cap_marks[2];
} tcp_conv;

/* Appends one segment (the direction's next bytes, seen at t). */
int tcp_conv_add(tcp_conv *c, bool from_client, double t, const uint8_t *data, size_t len,
                 char *err, size_t errlen);
/* When the byte at off of a direction was captured (0 when never). */
double tcp_conv_time(const tcp_conv *c, bool from_client, size_t off);
void tcp_conv_free(tcp_conv *c);

/* Parses tshark's `follow,tcp,yaml` output from f into c (stream set by the
 * caller). Peer 0 is the client (tshark names first the peer of the first
 * segment it saw; a capture that starts mid-connection may swap them, which
 * the importer detects from the HTTP). */
int capture_read_follow_yaml(FILE *f, tcp_conv *c, char *err, size_t errlen);

/* Runs tshark on path: the connection indexes (sorted, unique, at most
 * ETSN_CAPTURE_MAX_CONNS) and then one connection. tshark is looked up in
 * PATH, or taken from $ETSN_TSHARK. */
int capture_list_streams(const char *path, uint64_t **streams, size_t *n, char *err, size_t errlen);
int capture_follow(const char *path, uint64_t stream, tcp_conv *c, char *err, size_t errlen);

#endif
