#include "message.h"

#include "bytes.h"

#include <string.h>
#include <strings.h>

static const uint8_t utf8_bom[3] = {0xEF, 0xBB, 0xBF};

int etsn_message_decode(const uint8_t *buf, size_t len, etsn_message *out)
{
    if (len < ETSN_MESSAGE_HEADER_LEN) return -1;
    out->destination = etsn_get_le32(buf);
    out->type = etsn_get_le32(buf + 4);
    etsn_guid_from_dotnet(buf + 8, &out->rpid);
    etsn_guid_from_dotnet(buf + 24, &out->pid);
    out->data = buf + ETSN_MESSAGE_HEADER_LEN;
    out->len = len - ETSN_MESSAGE_HEADER_LEN;
    if (out->len >= 3 && !memcmp(out->data, utf8_bom, 3)) {
        out->data += 3;
        out->len -= 3;
    }
    return 0;
}

int etsn_message_encode(etsn_buf *out, uint32_t destination, uint32_t type, const etsn_guid *rpid,
                        const etsn_guid *pid, const char *xml, size_t xml_len)
{
    uint8_t hdr[ETSN_MESSAGE_HEADER_LEN];
    etsn_put_le32(hdr, destination);
    etsn_put_le32(hdr + 4, type);
    etsn_guid_to_dotnet(rpid, hdr + 8);
    etsn_guid_to_dotnet(pid, hdr + 24);
    if (etsn_buf_append(out, hdr, sizeof hdr) < 0) return -1;
    if (xml_len == 0) return 0;
    if (etsn_buf_append(out, utf8_bom, sizeof utf8_bom) < 0) return -1;
    return etsn_buf_append(out, xml, xml_len);
}

static const struct {
    uint32_t type;
    const char *name;
} names[] = {
    {ETSN_MSG_SESSION_CAPABILITY, "SESSION_CAPABILITY"},
    {ETSN_MSG_INIT_RUNSPACEPOOL, "INIT_RUNSPACEPOOL"},
    {ETSN_MSG_PUBLIC_KEY, "PUBLIC_KEY"},
    {ETSN_MSG_ENCRYPTED_SESSION_KEY, "ENCRYPTED_SESSION_KEY"},
    {ETSN_MSG_PUBLIC_KEY_REQUEST, "PUBLIC_KEY_REQUEST"},
    {ETSN_MSG_CONNECT_RUNSPACEPOOL, "CONNECT_RUNSPACEPOOL"},
    {ETSN_MSG_SET_MAX_RUNSPACES, "SET_MAX_RUNSPACES"},
    {ETSN_MSG_SET_MIN_RUNSPACES, "SET_MIN_RUNSPACES"},
    {ETSN_MSG_RUNSPACE_AVAILABILITY, "RUNSPACE_AVAILABILITY"},
    {ETSN_MSG_RUNSPACEPOOL_STATE, "RUNSPACEPOOL_STATE"},
    {ETSN_MSG_CREATE_PIPELINE, "CREATE_PIPELINE"},
    {ETSN_MSG_GET_AVAILABLE_RUNSPACES, "GET_AVAILABLE_RUNSPACES"},
    {ETSN_MSG_USER_EVENT, "USER_EVENT"},
    {ETSN_MSG_APPLICATION_PRIVATE_DATA, "APPLICATION_PRIVATE_DATA"},
    {ETSN_MSG_GET_COMMAND_METADATA, "GET_COMMAND_METADATA"},
    {ETSN_MSG_RUNSPACEPOOL_INIT_DATA, "RUNSPACEPOOL_INIT_DATA"},
    {ETSN_MSG_RESET_RUNSPACE_STATE, "RESET_RUNSPACE_STATE"},
    {ETSN_MSG_RUNSPACEPOOL_HOST_CALL, "RUNSPACEPOOL_HOST_CALL"},
    {ETSN_MSG_RUNSPACEPOOL_HOST_RESPONSE, "RUNSPACEPOOL_HOST_RESPONSE"},
    {ETSN_MSG_PIPELINE_INPUT, "PIPELINE_INPUT"},
    {ETSN_MSG_END_OF_PIPELINE_INPUT, "END_OF_PIPELINE_INPUT"},
    {ETSN_MSG_PIPELINE_OUTPUT, "PIPELINE_OUTPUT"},
    {ETSN_MSG_ERROR_RECORD, "ERROR_RECORD"},
    {ETSN_MSG_PIPELINE_STATE, "PIPELINE_STATE"},
    {ETSN_MSG_DEBUG_RECORD, "DEBUG_RECORD"},
    {ETSN_MSG_VERBOSE_RECORD, "VERBOSE_RECORD"},
    {ETSN_MSG_WARNING_RECORD, "WARNING_RECORD"},
    {ETSN_MSG_PROGRESS_RECORD, "PROGRESS_RECORD"},
    {ETSN_MSG_INFORMATION_RECORD, "INFORMATION_RECORD"},
    {ETSN_MSG_PIPELINE_HOST_CALL, "PIPELINE_HOST_CALL"},
    {ETSN_MSG_PIPELINE_HOST_RESPONSE, "PIPELINE_HOST_RESPONSE"},
};

const char *etsn_message_type_name(uint32_t type)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].type == type) return names[i].name;
    return NULL;
}

uint32_t etsn_message_type_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(names[i].name, name)) return names[i].type;
    return 0;
}
