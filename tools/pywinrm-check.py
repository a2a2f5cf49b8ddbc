#!/usr/bin/python3
"""Drive etsn-mockd's WinRS cmd shell with pywinrm (Debian's python3-winrm),
a WinRS client not written here, over NTLM with WinRM message encryption.

  tools/pywinrm-check.py URL USER     (password in the file ETSN_PASSWORD_FILE)

Runs against fixtures/winrs.xml and checks every answer pywinrm gets: stdout,
stderr, exit codes, code pages, run_ps and its CLIXML errors, Ctrl+C,
Signal terminate, Delete, the CreateResponse body, WinRM's faults. Prints one
line per check; exit status 1 when any failed. tools/check-pywinrm.sh runs it
and then checks the mock's report.
"""
import base64
import os
import re
import sys
import uuid
import xml.etree.ElementTree as ET

import winrm
from winrm.exceptions import WinRMError, WinRMOperationTimeoutError

RSP = "{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}"
CMD_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
failures = []


def check(name, got, want):
    ok = got == want
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": got {got!r}, want {want!r}"))
    if not ok:
        failures.append(name)


def session(url, user, password, **kw):
    return winrm.Session(url, auth=(user, password), transport="ntlm",
                         message_encryption="always", **kw)


def run_cmd_checks(s):
    r = s.run_cmd("echo", ["hi"])
    check("run_cmd echo hi: stdout", r.std_out, b"hi\r\n")
    check("run_cmd echo hi: stderr", r.std_err, b"")
    check("run_cmd echo hi: exit code", r.status_code, 0)
    r = s.run_cmd("echo out && echo err>&2 && exit 1")
    check("run_cmd stderr+rc: stdout", r.std_out, b"out \r\n")
    check("run_cmd stderr+rc: stderr", r.std_err, b"err \r\n")
    check("run_cmd stderr+rc: exit code", r.status_code, 1)
    r = s.run_cmd("dir", ["C:\\missing"])
    check("run_cmd dir: stderr", r.std_err, b"File Not Found\r\n")
    check("run_cmd dir: exit code", r.status_code, 1)
    # pywinrm opens its shells with WINRS_CODEPAGE 437: OEM bytes come back.
    r = s.run_cmd("echo café")
    check("run_cmd non-ASCII, code page 437: bytes", r.std_out, b"caf\x82\r\n")
    check("run_cmd non-ASCII, code page 437: decoded", r.std_out.decode("cp437"), "café\r\n")
    r = s.run_cmd("frobnicate", ["--now"])
    check("run_cmd unknown program: stderr", r.std_err,
          b"'frobnicate' is not recognized as an internal or external command,\r\n"
          b"operable program or batch file.\r\n")
    check("run_cmd unknown program: exit code", r.status_code, 1)


def clean_ps_error(s, stderr):
    """pywinrm's _clean_error_msg as run_ps applies it. Debian's 0.3.0 hands
    it bytes (a TypeError on Python 3, fixed upstream by decoding first), so
    the text is decoded here in the shell's code page first."""
    return s._clean_error_msg(stderr.decode("cp437"))


def run_ps_checks(s):
    r = s.run_ps("$PSVersionTable.PSVersion.Major")
    check("run_ps: stdout", r.std_out, b"5\r\n")
    check("run_ps: exit code", r.status_code, 0)
    script = "Get-Item C:\\missing"
    try:
        r = s.run_ps(script)
        err = r.std_err if isinstance(r.std_err, str) else clean_ps_error(s, r.std_err)
    except TypeError:
        # python3-winrm 0.3.0: _clean_error_msg(bytes) fails; do what run_ps does.
        enc = base64.b64encode(script.encode("utf_16_le")).decode("ascii")
        r = s.run_cmd("powershell -encodedcommand {0}".format(enc))
        check("run_ps failing: stderr starts with #< CLIXML",
              r.std_err.startswith(b"#< CLIXML\r\n<Objs "), True)
        err = clean_ps_error(s, r.std_err)
    check("run_ps failing: exit code", r.status_code, 1)
    check("run_ps failing: CLIXML error text",
          err.splitlines()[0], "Get-Item : Cannot find path 'C:\\missing' because it does not exist.")
    check("run_ps failing: FullyQualifiedErrorId line",
          err.splitlines()[5].strip(),
          "+ FullyQualifiedErrorId : PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand")
    enc = base64.b64encode("Get-Frobnication -Now".encode("utf_16_le")).decode("ascii")
    r = s.run_cmd("powershell -encodedcommand {0}".format(enc))
    lines = clean_ps_error(s, r.std_err).splitlines()
    check("run_ps unknown cmdlet: first line", lines[0],
          "Get-Frobnication : The term 'Get-Frobnication' is not recognized as the name of a "
          "cmdlet, function, script file, or ")
    check("run_ps unknown cmdlet: CategoryInfo", lines[-2].strip(),
          "+ CategoryInfo          : ObjectNotFound: (Get-Frobnication:String) [], "
          "CommandNotFoundException")
    check("run_ps unknown cmdlet: exit code", r.status_code, 1)


def signal(p, shell_id, command_id, code):
    """A raw Signal through pywinrm's send_message (pywinrm has no Ctrl+C)."""
    env = (
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><env:Header>'
        '<a:To>http://windows-host:5985/wsman</a:To>'
        '<a:ReplyTo><a:Address mustUnderstand="true">'
        'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>'
        '<w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize>'
        f'<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>'
        '<w:OperationTimeout>PT20S</w:OperationTimeout>'
        f'<w:ResourceURI mustUnderstand="true">{CMD_URI}</w:ResourceURI>'
        '<a:Action mustUnderstand="true">'
        'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal</a:Action>'
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        f'</env:Header><env:Body><rsp:Signal CommandId="{command_id}">'
        f'<rsp:Code>{code}</rsp:Code></rsp:Signal></env:Body></env:Envelope>')
    return p.send_message(env)


def protocol_checks(url, user, password):
    p = winrm.Protocol(url, transport="ntlm", username=user, password=password,
                       message_encryption="always", operation_timeout_sec=1, read_timeout_sec=10)
    # UTF-8 shell: WinRS writes the program's output in WINRS_CODEPAGE.
    shell = p.open_shell(codepage=65001)
    cid = p.run_command(shell, "powershell.exe", ["Write-Host", "こんにちは"])
    out, err, rc = p.get_command_output(shell, cid)
    check("code page 65001: stdout", out.decode("utf-8"), "こんにちは\n")
    check("code page 65001: exit code", rc, 0)
    p.cleanup_command(shell, cid)

    # A Receive that outlives OperationTimeout gets w:TimedOut; pywinrm retries.
    cid = p.run_command(shell, "timeout", ["/t", "2", "/nobreak"])
    try:
        p._raw_get_command_output(shell, cid)
        check("OperationTimeout: Receive faults w:TimedOut", "no fault", "WinRMOperationTimeoutError")
    except WinRMOperationTimeoutError:
        check("OperationTimeout: Receive faults w:TimedOut", True, True)
    out, err, rc = p.get_command_output(shell, cid)
    check("after the timeouts: exit code", rc, 0)
    p.cleanup_command(shell, cid)

    # Ctrl+C on a command that runs until signalled.
    cid = p.run_command(shell, "ping", ["-t", "localhost"])
    out, err, rc, done = p._raw_get_command_output(shell, cid)
    check("ping -t: running", (done, out.startswith(b"\r\nPinging SERVER01")), (False, True))
    signal(p, shell, cid, "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c")
    out, err, rc = p.get_command_output(shell, cid)
    check("ping -t after Ctrl+C: statistics", out.endswith(b"Control-C\r\n"), True)
    check("ping -t after Ctrl+C: STATUS_CONTROL_C_EXIT", rc, -1073741510)
    p.cleanup_command(shell, cid)

    # A CommandId the server never gave: WinRM's invalid-selectors fault.
    try:
        p._raw_get_command_output(shell, "8E1E0C1D-0000-4000-8000-000000000000")
        check("unknown CommandId: fault", "no fault", "w:InvalidSelectors")
    except WinRMError as e:
        check("unknown CommandId: fault", "w:InvalidSelectors" in str(e) and
              "invalid selectors for the resource" in str(e), True)
    p.close_shell(shell)

    # The CreateResponse's rsp:Shell, as WinRM writes it.
    shell = p.open_shell(working_directory="C:\\Windows", env_vars={"FOO": "bar & baz"},
                         idle_timeout="PT60S")
    body = create_body(p, shell)
    check("CreateResponse: rsp:Shell children", body["order"],
          ["ShellId", "ResourceUri", "Owner", "ClientIP", "Environment", "WorkingDirectory",
           "IdleTimeOut", "InputStreams", "OutputStreams", "ShellRunTime", "ShellInactivity"])
    check("CreateResponse: ResourceUri", body["ResourceUri"], CMD_URI)
    check("CreateResponse: Owner", body["Owner"], user)
    check("CreateResponse: ClientIP", body["ClientIP"], "127.0.0.1")
    check("CreateResponse: WorkingDirectory", body["WorkingDirectory"], "C:\\Windows")
    check("CreateResponse: IdleTimeOut", body["IdleTimeOut"], "PT60.000S")
    check("CreateResponse: Environment", body["env"], {"FOO": "bar & baz"})
    check("CreateResponse: ShellId is a server GUID",
          bool(re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", body["ShellId"])), True)
    p.close_shell(shell)
    p.close_shell(body["ShellId"])
    # A deleted shell is gone.
    try:
        p.run_command(shell, "echo", ["hi"])
        check("Command on a deleted shell: fault", "no fault", "shell not found")
    except WinRMError as e:
        check("Command on a deleted shell: fault", "shell was not found on the server" in str(e),
              True)


def create_body(p, _shell):
    """Sends pywinrm's own Create (as open_shell builds it) and reads the
    whole rsp:Shell of the answer, which open_shell throws away."""
    import xmltodict
    req = {"env:Envelope": p._get_soap_header(
        resource_uri=CMD_URI, action="http://schemas.xmlsoap.org/ws/2004/09/transfer/Create")}
    shell = req["env:Envelope"].setdefault("env:Body", {}).setdefault("rsp:Shell", {})
    shell["rsp:InputStreams"] = "stdin"
    shell["rsp:OutputStreams"] = "stdout stderr"
    shell["rsp:WorkingDirectory"] = "C:\\Windows"
    shell["rsp:IdleTimeOut"] = "PT60S"
    shell["rsp:Environment"] = {"rsp:Variable": {"@Name": "FOO", "#text": "bar & baz"}}
    root = ET.fromstring(p.send_message(xmltodict.unparse(req)))
    el = root.find(".//" + RSP + "Shell")
    out = {"order": [c.tag.replace(RSP, "") for c in el]}
    for c in el:
        out[c.tag.replace(RSP, "")] = c.text
    out["env"] = {v.get("Name"): v.text for v in el.iter(RSP + "Variable")}
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    url, user = sys.argv[1], sys.argv[2]
    with open(os.environ["ETSN_PASSWORD_FILE"]) as f:
        password = f.readline().rstrip("\r\n")
    s = session(url, user, password)
    run_cmd_checks(s)
    run_ps_checks(s)
    protocol_checks(url, user, password)
    print(f"pywinrm: {len(failures)} failed" if failures else "pywinrm: all checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
