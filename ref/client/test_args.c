/* Binding vectors for bin/etsn's command line. Expected texts are PowerShell's
 * resource strings (see docs/cli.md for their sources). */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

#define MAXA 32

static etsn_args A;
static etsn_error E;

/* Parses a NULL-terminated list of arguments (argv[0] is added). */
static int parse(const char *first, ...)
{
    char *argv[MAXA];
    int argc = 0;
    argv[argc++] = "etsn";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < MAXA; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    etsn_args_free(&A);
    return etsn_args_parse(argc, argv, &A, &E);
}

static void setup(void)
{
    memset(&A, 0, sizeof A);
    unsetenv("ETSN_SESSION_CONFIGURATION_NAME");
    unsetenv("ETSN_SESSION_APPLICATION_NAME");
}
static void teardown(void)
{
    etsn_args_free(&A);
}

#define OK(...)                                                                                    \
    ck_assert_msg(parse(__VA_ARGS__, NULL) == 0, "unexpected error: %s [%s]", E.message, E.fqid)
#define FAILS(id, msg, ...)                                                                        \
    do {                                                                                           \
        ck_assert_int_eq(parse(__VA_ARGS__, NULL), -1);                                            \
        ck_assert_str_eq(E.fqid, id ETSN_ENTER_PSSESSION_FQID_SUFFIX);                             \
        ck_assert_str_eq(E.message, msg);                                                          \
    } while (0)

/* ---- parameter sets --------------------------------------------------------- */

START_TEST(computer_name_named_and_positional)
{
    OK("-ComputerName", "Server01");
    ck_assert_int_eq(A.set, ETSN_PSET_COMPUTER_NAME);
    ck_assert_str_eq(A.set_name, "ComputerName");
    ck_assert_str_eq(A.computer_name, "Server01");
    ck_assert_str_eq(A.endpoint_url, "http://Server01:5985/WSMan");
    ck_assert_str_eq(A.display_name, "Server01");
    ck_assert_str_eq(A.resource_uri,
                     "http://schemas.microsoft.com/powershell/Microsoft.PowerShell");
    OK("Server01");
    ck_assert_str_eq(A.computer_name, "Server01");
    OK("-cn", "srv", "-Credential", "u");
    ck_assert_str_eq(A.computer_name, "srv");
    ck_assert(A.has_credential);
    ck_assert_str_eq(A.credential_user, "u");
    OK("-computername:srv2");
    ck_assert_str_eq(A.computer_name, "srv2");
    OK("-ComputerName:", "srv3");
    ck_assert_str_eq(A.computer_name, "srv3");
}
END_TEST

START_TEST(other_sets)
{
    OK("-ConnectionUri", "http://Server01:5985/wsman");
    ck_assert_int_eq(A.set, ETSN_PSET_URI);
    ck_assert_str_eq(A.set_name, "Uri");
    OK("-InstanceId", "0f8fad5b-d9cb-469f-a165-70867728950e");
    ck_assert_int_eq(A.set, ETSN_PSET_INSTANCE_ID);
    ck_assert_str_eq(A.instance_id_text, "0f8fad5b-d9cb-469f-a165-70867728950e");
    ck_assert_int_eq(A.instance_id[0], 0x0f);
    OK("-Id", "3");
    ck_assert_int_eq(A.set, ETSN_PSET_ID);
    ck_assert_int_eq(A.id, 3);
    OK("5"); /* a number binds positionally to -Id, as `Enter-PSSession 5` */
    ck_assert_int_eq(A.set, ETSN_PSET_ID);
    ck_assert_int_eq(A.id, 5);
    OK("-Name", "s1");
    ck_assert_int_eq(A.set, ETSN_PSET_NAME);
    ck_assert_str_eq(A.name, "s1");
    OK("-VMId", "{0F8FAD5B-D9CB-469F-A165-70867728950E}", "-Credential", "admin");
    ck_assert_int_eq(A.set, ETSN_PSET_VM_ID);
    ck_assert_str_eq(A.vm_id_text, "0f8fad5b-d9cb-469f-a165-70867728950e");
    OK("-VMGuid", "0f8fad5bd9cb469fa16570867728950e", "-Credential", "admin");
    ck_assert_int_eq(A.set, ETSN_PSET_VM_ID);
    OK("-VMName", "vm1", "-Credential", "admin", "-ConfigurationName", "c");
    ck_assert_int_eq(A.set, ETSN_PSET_VM_NAME);
    ck_assert_str_eq(A.display_name, "vm1");
    ck_assert_str_eq(A.vm_configuration_name, "c"); /* no prefix for VM sessions */
    ck_assert_ptr_null(A.resource_uri);
    OK("-VMName", "vm1", "admin"); /* Credential is position 1 in the VM sets */
    ck_assert_str_eq(A.credential_user, "admin");
    OK("-ContainerId", "abc123", "-RunAsAdministrator");
    ck_assert_int_eq(A.set, ETSN_PSET_CONTAINER_ID);
    ck_assert(A.run_as_administrator);
    OK("-RunAsAdministrator", "abc123"); /* ContainerId positional once the set is known */
    ck_assert_str_eq(A.container_id, "abc123");
    OK("-AllowRedirection", "https://h/wsman"); /* ConnectionUri is position 1 */
    ck_assert_int_eq(A.set, ETSN_PSET_URI);
    ck_assert(A.allow_redirection);
    OK("-EnableNetworkAccess", "srv"); /* CN and Uri: the default set wins */
    ck_assert_int_eq(A.set, ETSN_PSET_COMPUTER_NAME);
}
END_TEST

START_TEST(session_set_cannot_take_strings)
{
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'Session'. Cannot convert the \"s\" value of type "
          "\"System.String\" to type \"System.Management.Automation.Runspaces.PSSession\".",
          "-Session", "s");
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'SessionOption'. Cannot convert the \"x\" value of type "
          "\"System.String\" to type \"System.Management.Automation.Remoting.PSSessionOption\".",
          "srv", "-SessionOption", "x");
}
END_TEST

START_TEST(ssh_set_rejected)
{
    ck_assert_int_eq(parse("-HostName", "h", NULL), -1);
    ck_assert_str_eq(E.fqid, "SSHTransportNotSupported" ETSN_ENTER_PSSESSION_FQID_SUFFIX);
}
END_TEST

/* ---- names ------------------------------------------------------------------ */

START_TEST(prefixes_and_aliases)
{
    OK("-Comp", "s");
    ck_assert_str_eq(A.computer_name, "s");
    OK("-COMPUTERNAME", "s");
    OK("-URI", "http://h");
    ck_assert_int_eq(A.set, ETSN_PSET_URI);
    OK("-CU", "http://h");
    ck_assert_int_eq(A.set, ETSN_PSET_URI);
    OK("-connectio", "http://h");
    ck_assert_int_eq(A.set, ETSN_PSET_URI);
    OK("s", "-UseS");
    ck_assert(A.use_ssl);
    OK("s", "-Auth", "basic", "-Cred", "u");
    ck_assert_int_eq(A.auth, ETSN_AUTH_BASIC);
    OK("s", "-vb");
    ck_assert(A.verbose);
    OK("s", "-Verb", "-Deb");
    ck_assert(A.verbose && A.debug);
    /* -O: Options (own parameter) beats OutVariable/OutBuffer (common) */
    ck_assert_int_eq(parse("-O", "x", "-HostName", "h", NULL), -1);
    ck_assert_str_eq(E.fqid, "CannotConvertArgumentNoMessage" ETSN_ENTER_PSSESSION_FQID_SUFFIX);
    OK("s", "-ErrorAction", "stop");
    OK("s", "–Port", "80"); /* en dash, as PowerShell accepts */
    ck_assert_int_eq(A.port, 80);
}
END_TEST

START_TEST(ambiguous)
{
    FAILS("AmbiguousParameter",
          "Parameter cannot be processed because the parameter name 'C' is ambiguous. Possible "
          "matches include: -ComputerName -ConnectionUri -Credential -ContainerId "
          "-ConfigurationName -CertificateThumbprint -ConnectingTimeout.",
          "-C", "x");
    FAILS("AmbiguousParameter",
          "Parameter cannot be processed because the parameter name 'V' is ambiguous. Possible "
          "matches include: -VMId -VMName -Verbose.",
          "-V", "x");
    FAILS("AmbiguousParameter",
          "Parameter cannot be processed because the parameter name 'I' is ambiguous. Possible "
          "matches include: -InstanceId -Id -InformationAction -InformationVariable -KeyFilePath.",
          "-I", "x");
    FAILS("AmbiguousParameter",
          "Parameter cannot be processed because the parameter name 'w' is ambiguous. Possible "
          "matches include: -WarningAction -WarningVariable.",
          "srv", "-w", "x");
    FAILS("AmbiguousParameter",
          "Parameter cannot be processed because the parameter name 'Con' is ambiguous. Possible "
          "matches include: -ConnectionUri -ContainerId -ConfigurationName -ConnectingTimeout.",
          "-Con:x");
    /* SSH parameters take part in matching, as in pwsh 7. */
    FAILS("AmbiguousParameter",
          "Parameter cannot be processed because the parameter name 'conn' is ambiguous. Possible "
          "matches include: -ConnectionUri -ConnectingTimeout.",
          "-conn", "http://h");
}
END_TEST

START_TEST(unknown_and_missing)
{
    FAILS("NamedParameterNotFound",
          "A parameter cannot be found that matches parameter name 'Foo'.", "-Foo", "srv");
    FAILS("NamedParameterNotFound", "A parameter cannot be found that matches parameter name 'x'.",
          "srv", "-x:1");
    FAILS("NamedParameterNotFound",
          "A parameter cannot be found that matches parameter name '-long'.", "srv", "--long");
    FAILS("MissingArgument",
          "Missing an argument for parameter 'ComputerName'. Specify a parameter of type "
          "'System.String' and try again.",
          "-ComputerName");
    FAILS(
        "MissingArgument",
        "Missing an argument for parameter 'Port'. Specify a parameter of type 'System.Int32' and "
        "try again.",
        "srv", "-Port", "-UseSSL");
    FAILS("MissingArgument",
          "Missing an argument for parameter 'Credential'. Specify a parameter of type "
          "'System.Management.Automation.PSCredential' and try again.",
          "srv", "-Cred");
    /* An unknown "-name" after a parameter is its value, as typed. */
    OK("-ComputerName", "-odd");
    ck_assert_str_eq(A.computer_name, "-odd");
    FAILS("PositionalParameterNotFound",
          "A positional parameter cannot be found that accepts argument 'u'.", "Server01", "u");
    FAILS("ParameterAlreadyBound",
          "Cannot bind parameter because parameter 'ComputerName' is specified more than once. To "
          "provide multiple values to parameters that can accept multiple values, use the array "
          "syntax. For example, \"-parameter value1,value2,value3\".",
          "-cn", "a", "-ComputerName", "b");
    FAILS("ParameterAlreadyBound",
          "Cannot bind parameter because parameter 'cn' is specified more than once. To provide "
          "multiple values to parameters that can accept multiple values, use the array syntax. "
          "For example, \"-parameter value1,value2,value3\".",
          "-cn:a", "-cn:b");
}
END_TEST

START_TEST(parameter_set_resolution)
{
    static const char amb[] =
        "Parameter set cannot be resolved using the specified named parameters. One or more "
        "parameters issued cannot be used together or an insufficient number of parameters were "
        "provided.";
    FAILS("AmbiguousParameterSet", amb, "-ComputerName", "a", "-Id", "3");
    FAILS("AmbiguousParameterSet", amb, "-UseSSL", "-AllowRedirection", "-cu", "http://h");
    /* The set conflict is found before an unknown name is reported. */
    FAILS("AmbiguousParameterSet", amb, "-ComputerName", "a", "-Id", "3", "-Foo");
    FAILS("MissingMandatoryParameter",
          "Cannot process command because of one or more missing mandatory parameters: "
          "ComputerName.",
          "-Credential", "u");
    FAILS("MissingMandatoryParameter",
          "Cannot process command because of one or more missing mandatory parameters: "
          "Credential.",
          "-VMName", "vm1");
    FAILS("MissingMandatoryParameter",
          "Cannot process command because of one or more missing mandatory parameters: "
          "ContainerId.",
          "-RunAsAdministrator");
}
END_TEST

START_TEST(no_arguments)
{
    /* pwsh prompts "ComputerName:"; etsn answers as pwsh -NonInteractive. */
    ck_assert_int_eq(parse(NULL), -1);
    ck_assert_str_eq(E.message, "Cannot process command because of one or more missing mandatory "
                                "parameters: ComputerName.");
    ck_assert_str_eq(E.category, "InvalidArgument");
}
END_TEST

/* ---- conversions ------------------------------------------------------------- */

START_TEST(int_conversion)
{
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'Port'. Cannot convert value \"abc\" to type \"System.Int32\". "
          "Error: \"The input string 'abc' was not in a correct format.\"",
          "srv", "-Port", "abc");
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'Id'. Cannot convert value \"99999999999\" to type "
          "\"System.Int32\". Error: \"Value was either too large or too small for an Int32.\"",
          "-Id", "99999999999");
    OK("srv", "-Port", "0x50");
    ck_assert_int_eq(A.port, 80);
    OK("srv", "-Port", "1kb");
    ck_assert_int_eq(A.port, 1024);
    OK("srv", "-Port", " 5986 ");
    ck_assert_int_eq(A.port, 5986);
    OK("srv", "-Port", "80.5"); /* rounds half to even */
    ck_assert_int_eq(A.port, 80);
    OK("-Id:-1");
    ck_assert_int_eq(A.id, -1);
}
END_TEST

START_TEST(port_range)
{
    FAILS("ParameterArgumentValidationError",
          "Cannot validate argument on parameter 'Port'. The 0 argument is less than the minimum "
          "allowed range of 1. Supply an argument that is greater than or equal to 1 and then try "
          "the command again.",
          "srv", "-Port", "0");
    ck_assert_str_eq(E.category, "InvalidData");
    FAILS("ParameterArgumentValidationError",
          "Cannot validate argument on parameter 'Port'. The 65536 argument is greater than the "
          "maximum allowed range of 65535. Supply an argument that is less than or equal to 65535 "
          "and then try the command again.",
          "srv", "-Port", "65536");
    FAILS("ParameterArgumentValidationError",
          "Cannot validate argument on parameter 'Port'. The 0 argument is less than the minimum "
          "allowed range of 1. Supply an argument that is greater than or equal to 1 and then try "
          "the command again.",
          "srv", "-Port", "");
    OK("srv", "-Port", "65535");
}
END_TEST

START_TEST(guid_conversion)
{
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'InstanceId'. Cannot convert value \"abc\" to type "
          "\"System.Guid\". Error: \"Unrecognized Guid format.\"",
          "-InstanceId", "abc");
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'VMId'. Cannot convert value "
          "\"0f8fad5b-d9cb-469f-a165-70867728950z\" to type \"System.Guid\". Error: \"Guid string "
          "should only contain hexadecimal characters.\"",
          "-VMId", "0f8fad5b-d9cb-469f-a165-70867728950z", "-Credential", "u");
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'InstanceId'. Cannot convert value "
          "\"0f8fad5bd-9cb-469f-a165-70867728950e\" to type \"System.Guid\". Error: \"Guid should "
          "contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).\"",
          "-InstanceId", "0f8fad5bd-9cb-469f-a165-70867728950e");
    OK("-InstanceId", "(0f8fad5b-d9cb-469f-a165-70867728950e)");
}
END_TEST

START_TEST(auth_enum)
{
    static const struct {
        const char *in;
        etsn_auth_kind k;
    } v[] = {{"Default", ETSN_AUTH_DEFAULT},
             {"basic", ETSN_AUTH_BASIC},
             {"NEGOTIATE", ETSN_AUTH_NEGOTIATE},
             {"negotiatewithimplicitcredential", ETSN_AUTH_NEGOTIATE_IMPLICIT},
             {"CredSSP", ETSN_AUTH_CREDSSP},
             {"digest", ETSN_AUTH_DIGEST},
             {"Kerberos", ETSN_AUTH_KERBEROS},
             {"6", ETSN_AUTH_KERBEROS},
             {"Ker*", ETSN_AUTH_KERBEROS},
             {" Basic ", ETSN_AUTH_BASIC}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        OK("srv", "-Authentication", v[i].in);
        ck_assert_int_eq(A.auth, v[i].k);
        ck_assert(A.has_authentication);
    }
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'Authentication'. Cannot convert value \"Ntlm\" to type "
          "\"System.Management.Automation.Runspaces.AuthenticationMechanism\" due to enumeration "
          "values that are not valid. Specify one of the following enumeration values and try "
          "again. The possible enumeration values are "
          "\"Default,Basic,Negotiate,NegotiateWithImplicitCredential,Credssp,Digest,Kerberos\".",
          "srv", "-Authentication", "Ntlm");
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'Authentication'. Cannot convert value \"Basic,Digest\" to type "
          "\"System.Management.Automation.Runspaces.AuthenticationMechanism\" because no commas "
          "are allowed for this enumeration.",
          "srv", "-Authentication", "Basic,Digest");
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'Authentication'. Cannot convert value \"Neg*\" to type "
          "\"System.Management.Automation.Runspaces.AuthenticationMechanism\" because at least two "
          "matches were found (Negotiate, Default) and only one match is allowed for this "
          "enumeration.",
          "srv", "-Authentication", "Neg*");
}
END_TEST

START_TEST(switches)
{
    OK("srv", "-UseSSL:$false");
    ck_assert(!A.use_ssl);
    ck_assert_str_eq(A.endpoint_url, "http://srv:5985/WSMan");
    OK("srv", "-UseSSL:$TRUE");
    ck_assert(A.use_ssl);
    OK("srv", "-UseSSL:0");
    ck_assert(!A.use_ssl);
    OK("srv", "-UseSSL:", "1");
    ck_assert(A.use_ssl);
    FAILS("CannotConvertArgument",
          "Cannot convert 'System.String' to the type "
          "'System.Management.Automation.SwitchParameter' required by parameter 'UseSSL'. ",
          "srv", "-UseSSL:yes");
    /* A switch does not take the next argument. */
    OK("-UseSSL", "srv");
    ck_assert(A.use_ssl);
    ck_assert_str_eq(A.computer_name, "srv");
}
END_TEST

START_TEST(empty_values)
{
    FAILS("ParameterArgumentValidationError",
          "Cannot validate argument on parameter 'ComputerName'. The argument is null or empty. "
          "Provide an argument that is not null or empty, and then try the command again.",
          "-ComputerName", "");
    OK("-Name", ""); /* -Name has no validation */
    ck_assert_str_eq(A.name, "");
}
END_TEST

START_TEST(auth_pairs)
{
    FAILS("ParameterBindingFailed",
          "Cannot bind parameter 'CertificateThumbprint' to the target. Exception setting "
          "\"CertificateThumbprint\": \"A CertificateThumbPrint cannot be specified when "
          "Credential is specified.\"",
          "srv", "-Credential", "u", "-CertificateThumbprint", "AB12");
    ck_assert_str_eq(E.category, "WriteError");
    FAILS("ParameterBindingFailed",
          "Cannot bind parameter 'Credential' to the target. Exception setting \"Credential\": \"A "
          "CertificateThumbPrint cannot be specified when Credential is specified.\"",
          "srv", "-CertificateThumbprint", "AB12", "-Credential", "u");
    FAILS("ParameterBindingFailed",
          "Cannot bind parameter 'Authentication' to the target. Exception setting "
          "\"Authentication\": \"A CertificateThumbPrint cannot be specified when Kerberos is "
          "specified.\"",
          "srv", "-CertificateThumbprint", "AB12", "-Authentication", "Kerberos");
    FAILS("ParameterBindingFailed",
          "Cannot bind parameter 'Credential' to the target. Exception setting \"Credential\": \"A "
          "Credential cannot be specified when NegotiateWithImplicitCredential is specified.\"",
          "srv", "-Authentication", "NegotiateWithImplicitCredential", "-Credential", "u");
    OK("srv", "-CertificateThumbprint", "AB12", "-Authentication", "Default");
}
END_TEST

/* ---- endpoint ----------------------------------------------------------------- */

START_TEST(urls)
{
    OK("srv", "-UseSSL");
    ck_assert_str_eq(A.endpoint_url, "https://srv:5986/WSMan");
    ck_assert_int_eq(A.endpoint_port, 5986);
    OK("srv", "-UseSSL", "-Port", "443");
    ck_assert_str_eq(A.endpoint_url, "https://srv:443/WSMan");
    OK("srv", "-Port", "90", "-ApplicationName", "custom");
    ck_assert_str_eq(A.endpoint_url, "http://srv:90/custom");
    OK("::1");
    ck_assert_str_eq(A.endpoint_url, "http://[::1]:5985/WSMan");
    ck_assert_str_eq(A.display_name, "[::1]");
    ck_assert_str_eq(A.host, "::1");
    OK("[fe80::1]");
    ck_assert_str_eq(A.endpoint_url, "http://[fe80::1]:5985/WSMan");
    OK(".");
    ck_assert_str_eq(A.display_name, "localhost");
    ck_assert_str_eq(A.endpoint_url, "http://localhost:5985/WSMan");
    OK(" 10.0.0.1 ");
    ck_assert_str_eq(A.endpoint_url, "http://10.0.0.1:5985/WSMan");
    ck_assert_int_eq(parse("http://srv:5985/wsman", NULL), -1); /* a URI is no computer name */
    ck_assert_str_eq(E.message, "Invalid URI: The hostname could not be parsed.");

    setenv("ETSN_SESSION_APPLICATION_NAME", "alt", 1);
    OK("srv");
    ck_assert_str_eq(A.endpoint_url, "http://srv:5985/alt");
    unsetenv("ETSN_SESSION_APPLICATION_NAME");
}
END_TEST

START_TEST(connection_uris)
{
    OK("-ConnectionUri", "http://Server01");
    ck_assert_str_eq(A.endpoint_url, "http://server01:80/wsman");
    ck_assert_str_eq(A.display_name, "server01");
    OK("-ConnectionUri", "https://Server01/");
    ck_assert_str_eq(A.endpoint_url, "https://server01:443/wsman");
    OK("-ConnectionUri", "HTTPS://srv:5986/WSMAN");
    ck_assert_str_eq(A.endpoint_url, "https://srv:5986/WSMAN");
    ck_assert_str_eq(A.scheme, "https");
    OK("-cu", "http://[::1]:5985/wsman?x=1");
    ck_assert_str_eq(A.endpoint_url, "http://[::1]:5985/wsman?x=1");
    ck_assert_str_eq(A.host, "::1");
    FAILS("CreateRemoteRunspaceFailed",
          "ftp is not a valid schema value. Valid values are \"http\" and \"https\".", "-cu",
          "ftp://srv/");
    FAILS("CreateRemoteRunspaceFailed",
          "Relative URIs are not supported in the creation of remote sessions.", "-cu", "srv");
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'ConnectionUri'. Cannot convert value \"http://srv:99999\" to "
          "type \"System.Uri\". Error: \"Invalid URI: Invalid port specified.\"",
          "-cu", "http://srv:99999");
    FAILS("CannotConvertArgumentNoMessage",
          "Cannot bind parameter 'ConnectionUri'. Cannot convert value \"http://\" to type "
          "\"System.Uri\". Error: \"Invalid URI: The hostname could not be parsed.\"",
          "-cu", "http://");
}
END_TEST

START_TEST(configuration_names)
{
    OK("srv", "-ConfigurationName", "PowerShell.7");
    ck_assert_str_eq(A.resource_uri, "http://schemas.microsoft.com/powershell/PowerShell.7");
    OK("srv", "-ConfigurationName", "http://schemas.microsoft.com/powershell/Custom");
    ck_assert_str_eq(A.resource_uri, "http://schemas.microsoft.com/powershell/Custom");
    OK("srv", "-ConfigurationName", "HTTP://SCHEMAS.MICROSOFT.COM/POWERSHELL/X");
    ck_assert_str_eq(A.resource_uri, "HTTP://SCHEMAS.MICROSOFT.COM/POWERSHELL/X");
    setenv("ETSN_SESSION_CONFIGURATION_NAME", "Restricted", 1);
    OK("srv");
    ck_assert_str_eq(A.resource_uri, "http://schemas.microsoft.com/powershell/Restricted");
    OK("srv", "-ConfigurationName", "Mine");
    ck_assert_str_eq(A.resource_uri, "http://schemas.microsoft.com/powershell/Mine");
    unsetenv("ETSN_SESSION_CONFIGURATION_NAME");
    OK("-ContainerId", "c1");
    ck_assert_str_eq(A.vm_configuration_name, "");
}
END_TEST

START_TEST(etsn_options)
{
    OK("--help");
    ck_assert(A.show_help);
    OK("-Foo", "--version");
    ck_assert(A.show_version);
    /* After "--" everything is an argument, even "-x" and "--help". */
    FAILS("PositionalParameterNotFound",
          "A positional parameter cannot be found that accepts argument '--help'.", "--", "-x",
          "--help");
    OK("--", "-srv");
    ck_assert_str_eq(A.computer_name, "-srv");
    ck_assert_ptr_nonnull(strstr(etsn_args_usage(), "--help"));
}
END_TEST

START_TEST(format_error)
{
    ck_assert_int_eq(parse("-Foo", NULL), -1);
    etsn_buf b = ETSN_BUF_INIT;
    ck_assert_int_eq(etsn_args_format_error(&E, NULL, &b), 0);
    ck_assert_str_eq((char *)b.data,
                     "Enter-PSSession: A parameter cannot be found that matches parameter name "
                     "'Foo'.\n");
    etsn_buf_reset(&b);
    ck_assert_int_eq(etsn_args_format_error_color(&E, "Enter-PSSession", true, &b), 0);
    ck_assert_str_eq((char *)b.data, "\x1b[31;1mEnter-PSSession: A parameter cannot be found that "
                                     "matches parameter name 'Foo'.\x1b[0m\n");
    etsn_buf_free(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("args");
    TCase *tc = tcase_create("binding");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, computer_name_named_and_positional);
    tcase_add_test(tc, other_sets);
    tcase_add_test(tc, session_set_cannot_take_strings);
    tcase_add_test(tc, ssh_set_rejected);
    tcase_add_test(tc, prefixes_and_aliases);
    tcase_add_test(tc, ambiguous);
    tcase_add_test(tc, unknown_and_missing);
    tcase_add_test(tc, parameter_set_resolution);
    tcase_add_test(tc, no_arguments);
    tcase_add_test(tc, int_conversion);
    tcase_add_test(tc, port_range);
    tcase_add_test(tc, guid_conversion);
    tcase_add_test(tc, auth_enum);
    tcase_add_test(tc, switches);
    tcase_add_test(tc, empty_values);
    tcase_add_test(tc, auth_pairs);
    tcase_add_test(tc, urls);
    tcase_add_test(tc, connection_uris);
    tcase_add_test(tc, configuration_names);
    tcase_add_test(tc, etsn_options);
    tcase_add_test(tc, format_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
