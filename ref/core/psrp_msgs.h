/* The CLIXML bodies of the PSRP messages etsn and etsn-mockd exchange
 * (MS-PSRP 2.2.2, 2.2.3), laid out as Windows PowerShell writes them. Each
 * builder returns a new value (refcount 1) or NULL. */
#ifndef ETSN_PSRP_MSGS_H
#define ETSN_PSRP_MSGS_H

#include <stdbool.h>
#include <stdint.h>

#include "clixml.h"

/* What the client declares about its console (MS-PSRP 2.2.3.14 HostInfo). */
typedef struct {
    bool present;               /* false: _isHostNull, the server uses its own host */
    int foreground, background; /* ConsoleColor */
    int cursor_x, cursor_y;
    int window_x, window_y;
    int cursor_size;
    int buffer_width, buffer_height;
    int window_width, window_height;
    int max_window_width, max_window_height;
    int max_physical_width, max_physical_height;
    const char *window_title;
} etsn_host_info;

enum { /* RunspacePoolState (MS-PSRP 2.2.3.4) */
       ETSN_POOL_BEFORE_OPEN = 0,
       ETSN_POOL_OPENING = 1,
       ETSN_POOL_OPENED = 2,
       ETSN_POOL_CLOSED = 3,
       ETSN_POOL_CLOSING = 4,
       ETSN_POOL_BROKEN = 5,
       ETSN_POOL_NEGOTIATION_SENT = 6,
       ETSN_POOL_NEGOTIATION_SUCCEEDED = 7,
       ETSN_POOL_CONNECTING = 8,
       ETSN_POOL_DISCONNECTED = 9,
};

enum { /* PSInvocationState (MS-PSRP 2.2.3.5) */
       ETSN_PIPE_NOT_STARTED = 0,
       ETSN_PIPE_RUNNING = 1,
       ETSN_PIPE_STOPPING = 2,
       ETSN_PIPE_STOPPED = 3,
       ETSN_PIPE_COMPLETED = 4,
       ETSN_PIPE_FAILED = 5,
       ETSN_PIPE_DISCONNECTED = 6,
};

/* Host method identifiers (MS-PSRP 2.2.3.17). */
const char *etsn_host_method_name(int method_id);
int etsn_host_method_from_name(const char *name);

/* A named parameter (name NULL: positional) of a command; value borrowed. */
typedef struct {
    const char *name;
    const etsn_value *value;
} etsn_command_arg;

/* One command of a pipeline. */
typedef struct {
    const char *text; /* command name or script text */
    bool is_script;
    bool use_local_scope; /* false writes <Nil N="UseLocalScope"/> */
    bool has_use_local_scope;
    int merge_my_result; /* PipelineResultTypes: 0 None, 1 Output, 2 Error */
    int merge_to_result;
    int merge_previous; /* 3 = Error|Output */
    const etsn_command_arg *args;
    size_t n_args;
} etsn_command;

/* ---- client to server ---- */
etsn_value *etsn_msg_session_capability(const char *protocol_version);
etsn_value *etsn_msg_init_runspacepool(int min, int max, const etsn_host_info *host);
etsn_value *etsn_msg_create_pipeline(const etsn_command *cmds, size_t n_cmds, bool add_to_history,
                                     const etsn_host_info *host);
etsn_value *etsn_msg_get_command_metadata(const char *const *names, size_t n_names,
                                          int command_type);
/* A host response; result may be NULL (void-like answer) and error NULL.
 * Takes ownership of result and error. */
etsn_value *etsn_msg_host_response(int64_t call_id, int method_id, etsn_value *result,
                                   etsn_value *error);

/* ---- server to client ---- */
etsn_value *etsn_msg_application_private_data(const char *ps_version, const char *protocol_version);
etsn_value *etsn_msg_runspacepool_state(int state, etsn_value *error);
etsn_value *etsn_msg_pipeline_state(int state, etsn_value *error);
/* Takes ownership of params (an ArrayList-like value or NULL for none). */
etsn_value *etsn_msg_host_call(int64_t call_id, int method_id, etsn_value *params);
/* An ErrorRecord as PowerShell serializes one, with the fields a console
 * needs to render it. */
typedef struct {
    const char *message;        /* Exception.Message */
    const char *exception_type; /* e.g. System.Management.Automation.CommandNotFoundException */
    const char *fqid;           /* FullyQualifiedErrorId */
    int category;               /* ErrorCategory number */
    const char *category_name;  /* e.g. ObjectNotFound */
    const char *activity;       /* ErrorCategory_Activity */
    const char *reason;         /* ErrorCategory_Reason */
    const char *target_name;
    const char *target_type;
    const char *position_message; /* InvocationInfo.PositionMessage, may be NULL */
} etsn_error_record;
etsn_value *etsn_msg_error_record(const etsn_error_record *rec, const char *member_name);
/* An enum object as PowerShell writes them: TN list, ToString, <I32>. */
etsn_value *etsn_enum_value(const char *type_name, const char *to_string, int32_t value);

/* ---- reading ---- */
/* Reads ErrorRecord fields back (borrowed strings). */
void etsn_error_record_read(const etsn_value *v, etsn_error_record *rec);

#endif
