/* Command-line binding for bin/etsn, following PowerShell's parameter binder
 * for Enter-PSSession (engine/CmdletParameterBinderController.cs,
 * ParameterBinderController.cs, MergedCommandParameterMetadata.cs) and the
 * cmdlet's metadata (remoting/commands/PushRunspaceCommand.cs,
 * PSRemotingCmdlet.cs). See docs/cli.md for what is and is not PowerShell. */
#ifndef ETSN_ARGS_H
#define ETSN_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/buf.h"
#include "../core/error.h"
#include "../net/winrm_http.h"

/* Enter-PSSession's parameter sets. SSHHost exists in pwsh 7 and is bound so
 * that prefixes and ambiguity lists match pwsh, but etsn rejects it. */
typedef enum {
    ETSN_PSET_COMPUTER_NAME, /* "ComputerName" (the default set) */
    ETSN_PSET_SESSION,       /* "Session" */
    ETSN_PSET_URI,           /* "Uri" (-ConnectionUri) */
    ETSN_PSET_INSTANCE_ID,   /* "InstanceId" */
    ETSN_PSET_ID,            /* "Id" */
    ETSN_PSET_NAME,          /* "Name" */
    ETSN_PSET_VM_ID,         /* "VMId" */
    ETSN_PSET_VM_NAME,       /* "VMName" */
    ETSN_PSET_CONTAINER_ID,  /* "ContainerId" */
    ETSN_PSET_SSH_HOST,      /* "SSHHost" */
    ETSN_PSET_COUNT
} etsn_param_set;

typedef struct {
    /* etsn-only GNU options; when either is set nothing else was bound. */
    bool show_help;
    bool show_version;

    etsn_param_set set;
    const char *set_name; /* PowerShell's name of the set, static */

    /* Parameters as bound. has_* / non-NULL pointers say "given". */
    char *computer_name;  /* -ComputerName/-Cn, as typed */
    char *connection_uri; /* -ConnectionUri/-URI/-CU, as typed */
    bool has_instance_id;
    uint8_t instance_id[16]; /* RFC 4122 byte order (as written) */
    char instance_id_text[37];
    bool has_id;
    int32_t id;
    char *name; /* -Name (may be "") */
    bool has_vm_id;
    uint8_t vm_id[16];
    char vm_id_text[37];
    char *vm_name;
    char *container_id;
    bool has_credential;
    char *credential_user;    /* -Credential value (user name, may be "") */
    char *configuration_name; /* -ConfigurationName as typed */
    bool has_port;
    int32_t port; /* -Port */
    bool use_ssl;
    char *application_name; /* -ApplicationName as typed */
    bool allow_redirection;
    bool enable_network_access;
    bool run_as_administrator;
    bool has_authentication;
    etsn_auth_kind auth;   /* ETSN_AUTH_DEFAULT unless -Authentication */
    const char *auth_name; /* PowerShell's enum name, static */
    char *certificate_thumbprint;
    bool verbose; /* common parameters -Verbose / -Debug; the rest are ignored */
    bool debug;

    /* Computed for the ComputerName and Uri sets (NULL otherwise). */
    char *resource_uri; /* shell URI, e.g.
                           http://schemas.microsoft.com/powershell/Microsoft.PowerShell */
    char *endpoint_url; /* e.g. http://Server01:5985/WSMan */
    char *scheme;       /* "http" or "https" */
    char *host;         /* host for the URL/SPN, without IPv6 brackets */
    int endpoint_port;  /* effective TCP port */
    char *url_path;     /* e.g. "/WSMan" (with query, if any) */
    /* Computer name for the prompt "[name]: PS ...>": what PowerShell keeps in
     * ConnectionInfo.ComputerName ("." -> localhost, IPv6 bracketed, Uri host
     * lower-cased). For VM/container sets: the VM name/id or container id. */
    char *display_name;
    /* Shell/configuration name for VM and container sets ("" if none). */
    char *vm_configuration_name;
} etsn_args;

#define ETSN_ENTER_PSSESSION_FQID_SUFFIX ",Microsoft.PowerShell.Commands.EnterPSSessionCommand"

/* Binds argv[1..argc-1]. Returns 0, or -1 with err holding PowerShell's
 * message, FullyQualifiedErrorId (e.g. "NamedParameterNotFound,Microsoft.
 * PowerShell.Commands.EnterPSSessionCommand") and category. out is always
 * initialised and must be freed with etsn_args_free (also after -1). */
int etsn_args_parse(int argc, char **argv, etsn_args *out, etsn_error *err);
void etsn_args_free(etsn_args *a);

/* PowerShell 7's default ErrorView (ConciseView) for an error raised by a
 * command typed on one line: "<command>: <message>\n". command_name NULL means
 * "Enter-PSSession". Returns 0 or -1 (out of memory). */
int etsn_args_format_error(const etsn_error *err, const char *command_name, etsn_buf *out);
/* Same, in $PSStyle.Formatting.Error colour (ESC[31;1m ... ESC[0m) when color. */
int etsn_args_format_error_color(const etsn_error *err, const char *command_name, bool color,
                                 etsn_buf *out);

/* The usage text for --help. */
const char *etsn_args_usage(void);

#endif
