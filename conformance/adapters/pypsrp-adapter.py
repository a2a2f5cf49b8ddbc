#!/usr/bin/python3
"""etsn-conform adapter for pypsrp (an independent Python PSRP client).

Shows how another client is put through the suite, and what the suite then
says about it. pypsrp is not part of etsn: unpack the sources of the public
repositories jborean93/pypsrp and jborean93/pyspnego (docs/sources.md) into a
directory DIR outside this repository, install python3-requests and
python3-cryptography from Debian, and run

  PYTHONPATH=DIR/pypsrp/src:DIR/pyspnego/src bin/etsn-conform \\
      --client /usr/bin/python3 --adapter conformance/adapters/pypsrp-adapter.py \\
      --mockd bin/etsn-mockd --cases conformance/cases --fixtures fixtures

It maps Enter-PSSession's parameters to pypsrp's WSMan, then acts as a
minimal console: it runs `prompt` remotely and prints "[computer]: <prompt>"
and the line, runs the line as a script followed by Out-String (pypsrp has
no host for Out-Default's host calls), prints the output and error records,
turns "exit" into Exit-PSSession as PowerShell's console does, and ends the
pool (WS-Man Delete) after it or at the end of input. Prompts, colours,
progress and Ctrl+C are not pypsrp's to offer: those cases fail, which is
the suite telling the truth about that client.
"""
import os
import sys

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan


def parse(argv):
    opts = {"port": None, "ssl": False, "app": "wsman", "config": None,
            "auth": "negotiate", "user": None, "computer": None}
    names = {"-computername": "computer", "-cn": "computer", "-port": "port",
             "-credential": "user", "-applicationname": "app",
             "-configurationname": "config", "-authentication": "auth"}
    i = 0
    positional = []
    while i < len(argv):
        a = argv[i]
        low = a.lower()
        if low == "-usessl":
            opts["ssl"] = True
        elif low in names and i + 1 < len(argv):
            opts[names[low]] = argv[i + 1]
            i += 1
        elif a.startswith("-"):
            sys.stderr.write("pypsrp-adapter: unsupported parameter %s\n" % a)
            sys.exit(2)
        else:
            positional.append(a)
        i += 1
    if positional and not opts["computer"]:
        opts["computer"] = positional[0]
    return opts


def main():
    o = parse(sys.argv[1:])
    password = None
    if os.environ.get("ETSN_PASSWORD_FILE"):
        with open(os.environ["ETSN_PASSWORD_FILE"]) as f:
            password = f.readline().rstrip("\r\n")
    port = int(o["port"]) if o["port"] else (5986 if o["ssl"] else 5985)
    auth = {"default": "negotiate", "negotiate": "negotiate", "basic": "basic",
            "kerberos": "kerberos"}.get(o["auth"].lower(), o["auth"].lower())
    config = o["config"] or "Microsoft.PowerShell"
    if "://" not in config:
        config = "http://schemas.microsoft.com/powershell/" + config
    wsman = WSMan(o["computer"], port=port, path=o["app"], ssl=o["ssl"],
                  username=o["user"], password=password, auth=auth,
                  encryption="auto", cert_validation=os.environ.get("ETSN_CA_FILE", False))
    try:
        pool = RunspacePool(wsman, configuration_name=config)
        pool.open()
    except Exception as e:  # the suite judges the text and the status
        sys.stderr.write("Enter-PSSession: %s\n" % e)
        sys.exit(1)
    status = 0
    try:
        for line in sys.stdin:
            line = line.rstrip("\r\n")
            ps = PowerShell(pool)
            ps.add_cmdlet("prompt")
            prompt = ps.invoke()
            prompt = str(prompt[0]) if prompt else "PS>"
            sys.stdout.write("[%s]: %s%s\n" % (o["computer"], prompt, line))
            if not line.strip():
                continue
            leaving = line.strip().lower() in ("exit", "exit-pssession")
            ps = PowerShell(pool)
            if leaving:
                ps.add_cmdlet("Exit-PSSession")
            else:
                ps.add_script(line).add_cmdlet("Out-String").add_parameter("Stream")
            for obj in ps.invoke():
                sys.stdout.write("%s\n" % obj)
            for err in ps.streams.error:
                sys.stderr.write("%s\n" % err)
            sys.stdout.flush()
            if leaving:
                break
    finally:
        pool.close()
    sys.exit(status)


if __name__ == "__main__":
    main()
