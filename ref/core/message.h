/* PSRP message header (MS-PSRP 2.2.1): Destination u32 LE, MessageType u32
 * LE, RPID and PID as .NET-ordered GUIDs, then the data (CLIXML as UTF-8
 * with a byte order mark). */
#ifndef ETSN_MESSAGE_H
#define ETSN_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "guid.h"

#define ETSN_MESSAGE_HEADER_LEN 40

enum {
    ETSN_DEST_CLIENT = 1,
    ETSN_DEST_SERVER = 2,
};

enum {
    ETSN_MSG_SESSION_CAPABILITY = 0x00010002,
    ETSN_MSG_INIT_RUNSPACEPOOL = 0x00010004,
    ETSN_MSG_PUBLIC_KEY = 0x00010005,
    ETSN_MSG_ENCRYPTED_SESSION_KEY = 0x00010006,
    ETSN_MSG_PUBLIC_KEY_REQUEST = 0x00010007,
    ETSN_MSG_CONNECT_RUNSPACEPOOL = 0x00010008,
    ETSN_MSG_SET_MAX_RUNSPACES = 0x00021002,
    ETSN_MSG_SET_MIN_RUNSPACES = 0x00021003,
    ETSN_MSG_RUNSPACE_AVAILABILITY = 0x00021004,
    ETSN_MSG_RUNSPACEPOOL_STATE = 0x00021005,
    ETSN_MSG_CREATE_PIPELINE = 0x00021006,
    ETSN_MSG_GET_AVAILABLE_RUNSPACES = 0x00021007,
    ETSN_MSG_USER_EVENT = 0x00021008,
    ETSN_MSG_APPLICATION_PRIVATE_DATA = 0x00021009,
    ETSN_MSG_GET_COMMAND_METADATA = 0x0002100A,
    ETSN_MSG_RUNSPACEPOOL_INIT_DATA = 0x0002100B,
    ETSN_MSG_RESET_RUNSPACE_STATE = 0x0002100C,
    ETSN_MSG_RUNSPACEPOOL_HOST_CALL = 0x00021100,
    ETSN_MSG_RUNSPACEPOOL_HOST_RESPONSE = 0x00021101,
    ETSN_MSG_PIPELINE_INPUT = 0x00041002,
    ETSN_MSG_END_OF_PIPELINE_INPUT = 0x00041003,
    ETSN_MSG_PIPELINE_OUTPUT = 0x00041004,
    ETSN_MSG_ERROR_RECORD = 0x00041005,
    ETSN_MSG_PIPELINE_STATE = 0x00041006,
    ETSN_MSG_DEBUG_RECORD = 0x00041007,
    ETSN_MSG_VERBOSE_RECORD = 0x00041008,
    ETSN_MSG_WARNING_RECORD = 0x00041009,
    ETSN_MSG_PROGRESS_RECORD = 0x00041010,
    ETSN_MSG_INFORMATION_RECORD = 0x00041011,
    ETSN_MSG_PIPELINE_HOST_CALL = 0x00041100,
    ETSN_MSG_PIPELINE_HOST_RESPONSE = 0x00041101,
};

typedef struct {
    uint32_t destination;
    uint32_t type;
    etsn_guid rpid;
    etsn_guid pid;
    const uint8_t *data; /* borrowed from the decoded buffer, BOM removed */
    size_t len;
} etsn_message;

/* Returns 0, or -1 when buf is shorter than a header. */
int etsn_message_decode(const uint8_t *buf, size_t len, etsn_message *out);
/* Appends header + BOM + xml (no BOM when xml_len is 0). */
int etsn_message_encode(etsn_buf *out, uint32_t destination, uint32_t type, const etsn_guid *rpid,
                        const etsn_guid *pid, const char *xml, size_t xml_len);
/* "PIPELINE_OUTPUT" etc., or NULL for an unknown type. */
const char *etsn_message_type_name(uint32_t type);
/* The reverse, case-insensitive; 0 when unknown. */
uint32_t etsn_message_type_from_name(const char *name);

#endif
