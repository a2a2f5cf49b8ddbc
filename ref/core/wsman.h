/* WS-Management (MS-WSMV) envelopes for the PSRP shell: built and parsed with
 * libxml2, no I/O. The same code serves the client (build requests, parse
 * responses) and etsn-mockd (parse requests, build responses). */
#ifndef ETSN_WSMAN_H
#define ETSN_WSMAN_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

#define ETSN_WSMAN_SHELL_NS "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
#define ETSN_PSRP_SHELL_PREFIX "http://schemas.microsoft.com/powershell/"
#define ETSN_SIGNAL_CTRL_C                                                                         \
    "powershell/signal/crtl_c" /* misspelling required by MS-PSRP 3.1.5.3.9 */
#define ETSN_SIGNAL_TERMINATE                                                                      \
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"
#define ETSN_COMMAND_STATE_DONE                                                                    \
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
#define ETSN_COMMAND_STATE_RUNNING                                                                 \
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
/* WinRM's state for a command blocked on its client (a host call awaiting
 * its answer). */
#define ETSN_COMMAND_STATE_PENDING                                                                 \
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Pending"

typedef enum {
    ETSN_WSMAN_UNKNOWN = 0,
    ETSN_WSMAN_CREATE,
    ETSN_WSMAN_COMMAND,
    ETSN_WSMAN_SEND,
    ETSN_WSMAN_RECEIVE,
    ETSN_WSMAN_SIGNAL,
    ETSN_WSMAN_DELETE,
    /* responses */
    ETSN_WSMAN_CREATE_RESPONSE,
    ETSN_WSMAN_COMMAND_RESPONSE,
    ETSN_WSMAN_SEND_RESPONSE,
    ETSN_WSMAN_RECEIVE_RESPONSE,
    ETSN_WSMAN_SIGNAL_RESPONSE,
    ETSN_WSMAN_DELETE_RESPONSE,
    ETSN_WSMAN_FAULT,
    /* WS-Transfer Get of winrm/config (pypsrp's update_max_payload_size) */
    ETSN_WSMAN_GET,
    ETSN_WSMAN_GET_RESPONSE,
} etsn_wsman_action;

/* The resource WinRM's own configuration is read from (a wxf:Get of it answers MaxEnvelopeSizekb:
 * pypsrp's recordings test_wsman_update_envelope_size_*.yml). */
#define ETSN_WSMAN_CONFIG_URI "http://schemas.microsoft.com/wbem/wsman/1/config"

/* Header fields a client puts on every request. */
typedef struct {
    const char *to;           /* endpoint URL, e.g. http://server01:5985/wsman */
    const char *resource_uri; /* the shell URI (configuration) */
    const char *message_id;   /* "uuid:XXXXXXXX-..." (upper case GUID) */
    const char *shell_id;     /* SelectorSet ShellId; NULL for Create */
    uint32_t max_envelope_size;
    uint32_t operation_timeout_ms;
    const char *locale;      /* e.g. "en-US" */
    const char *data_locale; /* e.g. "en-US" */
} etsn_wsman_header;

/* A name/value pair: an OptionSet Option, or a Create's environment Variable. */
typedef struct {
    char *name;
    char *value;
} etsn_wsman_option;

/* One <rsp:Stream> of a ReceiveResponse, or the data of a Send. */
typedef struct {
    char *name;       /* "stdout", "pr", "stdin" */
    char *command_id; /* NULL for the shell itself */
    uint8_t *data;    /* base64-decoded bytes */
    size_t len;
    bool end; /* End="true" */
} etsn_wsman_stream;

/* Any parsed envelope: request or response. Strings are NUL terminated and
 * owned by the struct; fields the envelope lacks are NULL/0. */
typedef struct {
    etsn_wsman_action action;
    char *action_uri;
    char *message_id;
    char *relates_to;
    char *to;
    char *resource_uri;
    char *shell_id;   /* selector ShellId, or the ShellId in a CreateResponse */
    char *command_id; /* Command/Send/Receive/Signal attribute or CommandResponse */
    uint32_t max_envelope_size;
    uint32_t operation_timeout_ms; /* parsed from xs:duration PT180.000S */
    char *locale;
    char *data_locale;

    /* Create */
    char *protocol_version; /* OptionSet protocolversion */
    bool no_profile;        /* OptionSet WINRS_NOPROFILE TRUE */
    char *input_streams;
    char *output_streams;
    char *shell_name;      /* Shell Name attribute */
    etsn_buf creation_xml; /* decoded bytes of <creationXml> */

    /* Command: decoded <rsp:Arguments> */
    etsn_buf arguments;

    /* Send (in) / ReceiveResponse (out) */
    etsn_wsman_stream *streams;
    size_t n_streams;

    /* Receive */
    char *desired_stream;
    uint64_t sequence_id;

    /* ReceiveResponse */
    char *command_state; /* State URI */
    char *command_state_id;
    bool has_exit_code;
    int64_t exit_code;

    /* Signal */
    char *signal_code;

    /* Fault */
    char *fault_code;          /* e.g. s:Sender */
    char *fault_subcode;       /* e.g. w:TimedOut */
    char *fault_reason;        /* s:Reason/s:Text */
    uint32_t wsman_fault_code; /* f:WSManFault Code */
    char *wsman_fault_message; /* f:WSManFault f:Message text */

    /* ---- additions beyond the original interface ---- */
    /* OperationTimeout was present but not a usable xs:duration (WinRM itself
     * answers e.g. PT-1S with fault 2150858767, a:InvalidMessageInformationHeader);
     * the envelope still parses so that a server can send that fault. */
    bool operation_timeout_invalid;
    bool keep_alive;    /* Receive: OptionSet WSMAN_CMDSHELL_OPTION_KEEPALIVE TRUE */
    char *command_line; /* Command: text of <rsp:Command> (empty for PSRP) */
    /* Command on a non-PSRP shell (resource URI outside ETSN_PSRP_SHELL_PREFIX,
     * e.g. winrs cmd): <rsp:Arguments> are plain text, kept verbatim in
     * `arguments`, several joined by one space, and this is true. */
    bool arguments_plain;
    char *epr_address;         /* CreateResponse: x:ResourceCreated/a:Address */
    char *wsman_fault_machine; /* f:WSManFault Machine */

    /* WinRS (cmd shell, MS-WSMV 3.1.4.5, Command): every OptionSet Option
     * in order (WINRS_CODEPAGE, WINRS_CONSOLEMODE_STDIN, WINRS_SKIP_CMD_SHELL,
     * ...), and a Create's rsp:Environment, WorkingDirectory, IdleTimeOut. */
    etsn_wsman_option *options;
    size_t n_options;
    etsn_wsman_option *environment;
    size_t n_environment;
    char *working_directory;
    char *idle_timeout;
} etsn_wsman_msg;

/* The value of the request's OptionSet Option with this name (compared
 * case-insensitively), or NULL. */
const char *etsn_wsman_option_value(const etsn_wsman_msg *m, const char *name);

/* xs:duration (PT180.000S, PT20S, PT3M, P0DT0H0M0S ...) to milliseconds.
 * Returns -1 for negative, year/month, malformed or > UINT32_MAX ms values. */
int etsn_wsman_parse_duration(const char *s, uint32_t *ms);

/* Hard limit on an envelope we agree to parse at all. */
#define ETSN_WSMAN_MAX_ENVELOPE (16u * 1024 * 1024)

/* Parses a request or response. Returns 0, or -1 with a reason in err. */
int etsn_wsman_parse(const uint8_t *xml, size_t len, etsn_wsman_msg *msg, char *err, size_t errlen);
void etsn_wsman_msg_free(etsn_wsman_msg *msg);

/* ---- client requests; each replaces the contents of out ---- */
int etsn_wsman_build_create(etsn_buf *out, const etsn_wsman_header *h, const char *shell_id,
                            const char *protocol_version, bool no_profile,
                            const uint8_t *creation_xml, size_t creation_len);
int etsn_wsman_build_command(etsn_buf *out, const etsn_wsman_header *h, const char *command_id,
                             const uint8_t *arguments, size_t arguments_len);
/* command_id NULL sends to the shell (runspace pool) itself. */
int etsn_wsman_build_send(etsn_buf *out, const etsn_wsman_header *h, const char *command_id,
                          const char *stream, const uint8_t *data, size_t len);
int etsn_wsman_build_receive(etsn_buf *out, const etsn_wsman_header *h, const char *command_id,
                             const char *stream, uint64_t sequence_id);
int etsn_wsman_build_signal(etsn_buf *out, const etsn_wsman_header *h, const char *command_id,
                            const char *code);
int etsn_wsman_build_delete(etsn_buf *out, const etsn_wsman_header *h);
/* A WS-Transfer Get of h->resource_uri (no selectors, empty body). */
int etsn_wsman_build_get(etsn_buf *out, const etsn_wsman_header *h);

/* ---- server responses; each replaces the contents of out ---- */
int etsn_wsman_build_create_response(etsn_buf *out, const char *relates_to, const char *to,
                                     const char *resource_uri, const char *shell_id);
int etsn_wsman_build_command_response(etsn_buf *out, const char *relates_to,
                                      const char *command_id);
int etsn_wsman_build_send_response(etsn_buf *out, const char *relates_to);
/* command_state NULL: no CommandState element. */
int etsn_wsman_build_receive_response(etsn_buf *out, const char *relates_to,
                                      const etsn_wsman_stream *streams, size_t n_streams,
                                      const char *command_id, const char *command_state);
int etsn_wsman_build_signal_response(etsn_buf *out, const char *relates_to);
int etsn_wsman_build_delete_response(etsn_buf *out, const char *relates_to);
/* GetResponse for winrm/config: <cfg:Config> with MaxEnvelopeSizekb (what a
 * client sizes its envelopes by), MaxTimeoutms, MaxBatchItems and
 * MaxProviderRequests, as WinRM answers it. */
int etsn_wsman_build_get_config_response(etsn_buf *out, const char *relates_to,
                                         uint32_t max_envelope_kb, uint32_t max_timeout_ms);
/* A SOAP 1.2 fault with a WSManFault detail, as WinRM sends them. */
int etsn_wsman_build_fault(etsn_buf *out, const char *relates_to, const char *code,
                           const char *subcode, uint32_t wsman_code, const char *machine,
                           const char *message);

/* ---- WinRS (cmd shell) server responses ---- */

/* The rsp:Shell a WinRS CreateResponse carries, in the order WinRM writes it:
 * ShellId, ResourceUri, Owner, ClientIP, Environment, WorkingDirectory,
 * IdleTimeOut, InputStreams, OutputStreams, ShellRunTime, ShellInactivity.
 * NULL fields (and an empty environment) are left out. */
typedef struct {
    const char *shell_id;
    const char *resource_uri;
    const char *owner;
    const char *client_ip;
    const etsn_wsman_option *environment;
    size_t n_environment;
    const char *working_directory;
    const char *idle_timeout; /* xs:duration, e.g. PT7200.000S */
    const char *input_streams;
    const char *output_streams;
    const char *shell_run_time;   /* e.g. P0DT0H0M0S */
    const char *shell_inactivity; /* e.g. P0DT0H0M0S */
} etsn_wsman_shell_info;

int etsn_wsman_build_shell_create_response(etsn_buf *out, const char *relates_to, const char *to,
                                           const etsn_wsman_shell_info *info);
/* As etsn_wsman_build_receive_response, but a Done state carries this exit
 * code (a WinRS command's process exit code). */
int etsn_wsman_build_receive_response_exit(etsn_buf *out, const char *relates_to,
                                           const etsn_wsman_stream *streams, size_t n_streams,
                                           const char *command_id, const char *command_state,
                                           int64_t exit_code);

/* A WinRM fault with every part WinRM may send: the SOAP Reason text may
 * differ from the WSManFault Message, a w:FaultDetail URI may precede the
 * WSManFault, and a shell plugin's error is wrapped in f:ProviderFault. */
typedef struct {
    const char *code;         /* s:Sender / s:Receiver */
    const char *subcode;      /* w:InvalidSelectors ... */
    const char *reason;       /* s:Reason/s:Text */
    const char *fault_detail; /* w:FaultDetail URI or NULL */
    uint32_t wsman_code;
    const char *machine;
    const char *message;       /* f:Message text */
    const char *provider;      /* f:ProviderFault provider= or NULL */
    const char *provider_path; /* f:ProviderFault path= */
} etsn_wsman_fault;

int etsn_wsman_build_fault_full(etsn_buf *out, const char *relates_to, const etsn_wsman_fault *f);

/* Bytes that surround the payload of one ReceiveResponse stream, so that a
 * sender can size fragments to the client's MaxEnvelopeSize. */
#define ETSN_WSMAN_RECEIVE_OVERHEAD 2048

#endif
