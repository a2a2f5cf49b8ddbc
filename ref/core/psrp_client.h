/* The client side of PSRP over WS-Management, without I/O (like nghttp2):
 * the caller asks for the SOAP request to send next, posts it however it
 * likes, and feeds the reply back; the engine turns replies into events.
 * One runspace pool (= one WS-Man shell) per etsn_client. */
#ifndef ETSN_PSRP_CLIENT_H
#define ETSN_PSRP_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "clixml.h"
#include "error.h"
#include "guid.h"
#include "psrp_msgs.h"

typedef struct {
    const char *url;              /* a:To */
    const char *resource_uri;     /* the shell URI */
    const char *protocol_version; /* what we announce: "2.3" */
    uint32_t max_envelope_size;   /* 512000 as PowerShell for protocol >= 2.2 */
    uint32_t operation_timeout_ms;
    const char *locale;
    const char *data_locale;
    etsn_host_info host;
    size_t max_object; /* largest PSRP object accepted; 0: 64 MiB */
} etsn_client_config;

typedef struct etsn_client etsn_client;
typedef struct etsn_pipeline etsn_pipeline;

typedef enum {
    ETSN_EV_SERVER_CAPABILITY, /* text = the server's protocol version */
    ETSN_EV_POOL_STATE,        /* state, value = error record or NULL */
    ETSN_EV_OUTPUT,            /* pipeline, value */
    ETSN_EV_ERROR_RECORD,      /* pipeline, value */
    ETSN_EV_RECORD,            /* pipeline, message_type (DEBUG..INFORMATION), value */
    ETSN_EV_HOST_CALL,         /* pipeline (NULL: pool), call_id, method, value = mp list */
    ETSN_EV_PIPELINE_STATE,    /* pipeline, state, value = error record or NULL */
    ETSN_EV_COMMAND_DONE,      /* pipeline: WS-Man CommandState Done */
    ETSN_EV_OTHER,             /* message_type, value: a message the engine does not use */
} etsn_event_kind;

typedef struct {
    etsn_event_kind kind;
    etsn_pipeline *pipeline;
    uint32_t message_type;
    int state;
    int64_t call_id;
    int method;
    const etsn_value *value; /* borrowed for the duration of the callback */
    const char *text;
} etsn_event;

typedef void (*etsn_event_cb)(void *ctx, const etsn_event *ev);

etsn_client *etsn_client_new(const etsn_client_config *cfg);
void etsn_client_free(etsn_client *c);
const etsn_guid *etsn_client_pool_id(const etsn_client *c);
const char *etsn_client_server_protocol(const etsn_client *c);
bool etsn_client_pool_opened(const etsn_client *c);
bool etsn_client_shell_created(const etsn_client *c);

/* A pipeline from a CREATE_PIPELINE (or GET_COMMAND_METADATA) body; takes
 * ownership of body. The pipeline belongs to the client until freed. */
etsn_pipeline *etsn_client_pipeline(etsn_client *c, uint32_t message_type, etsn_value *body);
void etsn_pipeline_free(etsn_client *c, etsn_pipeline *p);
bool etsn_pipeline_done(const etsn_pipeline *p); /* CommandState Done seen */
int etsn_pipeline_state(const etsn_pipeline *p);
const etsn_guid *etsn_pipeline_id(const etsn_pipeline *p);
void *etsn_pipeline_user(const etsn_pipeline *p);
void etsn_pipeline_set_user(etsn_pipeline *p, void *user);

/* Request builders: each replaces out with one SOAP envelope and records it
 * as awaiting its reply. */
int etsn_client_build_create(etsn_client *c, etsn_buf *out);
int etsn_client_build_command(etsn_client *c, etsn_pipeline *p, etsn_buf *out);
/* p NULL receives on the pool. */
int etsn_client_build_receive(etsn_client *c, etsn_pipeline *p, etsn_buf *out);
/* Sends one message on a stream: "pr" for host responses, "stdin" for input.
 * Takes ownership of body. */
int etsn_client_build_send(etsn_client *c, etsn_pipeline *p, const char *stream,
                           uint32_t message_type, etsn_value *body, etsn_buf *out);
int etsn_client_build_signal(etsn_client *c, etsn_pipeline *p, const char *code, etsn_buf *out);
int etsn_client_build_delete(etsn_client *c, etsn_buf *out);

/* Feeds the SOAP reply to one request. Emits events through cb. Returns 0;
 * -1 for a WS-Man fault or a protocol error, with err in PowerShell's words
 * (err->winrm_code holds the WSManFault code). */
int etsn_client_handle_reply(etsn_client *c, const uint8_t *soap, size_t len, etsn_event_cb cb,
                             void *ctx, etsn_error *err);

#endif
