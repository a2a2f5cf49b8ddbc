#!/usr/bin/python3
"""Drive etsn-mockd with pypsrp, an independent PSRP client (oracle check).

pypsrp is not part of etsn: unpack the sources of the public repositories
jborean93/pypsrp and jborean93/pyspnego (docs/sources.md) into a directory DIR
outside this repository, install python3-requests and python3-cryptography
from Debian, and run, with Debian's python3:

  KRB5_CONFIG=tools/krb5.conf PYTHONPATH=DIR/pypsrp/src:DIR/pyspnego/src \
      tools/pypsrp-oracle.py URL USER SCRIPT...

KRB5_CONFIG=tools/krb5.conf (no realm, no DNS) keeps GSSAPI, should
pyspnego load it, from looking up the KDCs of /etc/krb5.conf's realm.

The password is read from the file named by ETSN_PASSWORD_FILE (never argv).
Each SCRIPT runs in its own pipeline on one runspace pool, over NTLM with
WinRM message encryption; the output objects are printed one per line, and
error records on stderr. Exit status 0 when every pipeline completed.
"""
import os
import sys
from urllib.parse import urlparse

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    url = urlparse(sys.argv[1])
    user = sys.argv[2]
    with open(os.environ["ETSN_PASSWORD_FILE"]) as f:
        password = f.readline().rstrip("\r\n")
    wsman = WSMan(url.hostname, port=url.port, path=url.path.lstrip("/"),
                  ssl=url.scheme == "https", username=user, password=password,
                  auth="ntlm", encryption="always", cert_validation=False)
    failed = False
    with RunspacePool(wsman) as pool:
        print("pool opened, protocol", pool.protocol_version)
        for script in sys.argv[3:]:
            ps = PowerShell(pool)
            ps.add_script(script)
            output = ps.invoke()
            for obj in output:
                print(obj)
            for err in ps.streams.error:
                print("error:", err, file=sys.stderr)
            print("pipeline", repr(script), "state", ps.state, "had_errors", ps.had_errors)
            failed = failed or ps.had_errors
    print("pool closed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
