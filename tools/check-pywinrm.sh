#!/usr/bin/env bash
# pywinrm (Debian's python3-winrm, a WinRS client not written here) against
# etsn-mockd's WinRS cmd shell (fixtures/winrs.xml) over NTLM with message
# encryption: tools/pywinrm-check.py checks what pywinrm gets, then this
# script checks the mock's report (expectations met, only the two unknown
# commands unmatched, every request sealed).
# Usage: tools/check-pywinrm.sh BIN_DIR
set -euo pipefail
bin=${1:-bin}
here=$(cd "$(dirname "$0")" && pwd)
if ! /usr/bin/python3 -c 'import winrm, requests_ntlm' 2>/dev/null; then
    echo "pywinrm check: FAILED (python3-winrm / python3-requests-ntlm missing: make deps)"
    exit 1
fi
work=$(mktemp -d)
mock_pid=
cleanup() {
    if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true; fi
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
"$bin/etsn-mockd" --listen 127.0.0.1:0 --fixture "${FIXTURE:-fixtures/winrs.xml}" \
    --report "$work/report.json" >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
url=$(head -n 1 "$work/mock.out")
[ -n "$url" ] || { echo "pywinrm check: FAILED (the mock did not start)"; cat "$work/mock.err"; exit 1; }
printf 'P@ssw0rd-for-tests\n' >"$work/pw"
chmod 600 "$work/pw"
# ntlm-auth hashes with MD4, which OpenSSL 3 keeps in its legacy provider.
cat >"$work/openssl.cnf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
legacy = legacy_sect
[default_sect]
activate = 1
[legacy_sect]
activate = 1
EOF
rc=0
OPENSSL_CONF="$work/openssl.cnf" ETSN_PASSWORD_FILE="$work/pw" PYTHONDONTWRITEBYTECODE=1 \
    /usr/bin/python3 "$here/pywinrm-check.py" "$url" 'CONTOSO\alice' >"$work/driver.out" 2>&1 || rc=$?
kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=
grep -E '^FAIL' "$work/driver.out" || true
grep -q '^Traceback' "$work/driver.out" && sed -n '/^Traceback/,$p' "$work/driver.out"
tail -n 1 "$work/driver.out"
/usr/bin/python3 - "$work/report.json" <<'EOF' || rc=1
import json, sys
r = json.load(open(sys.argv[1]))
bad = [f"expectation {e['id']}: {e['detail']}" for e in r["expectations"] if not e["met"]]
# The two unknown commands the driver runs on purpose, the CommandId it makes
# up and the shell it deleted; anything else pywinrm sent fitted the scenario.
want = ["Command frobnicate --now", "Command powershell -encodedcommand ",
        "Command ShellId=", "Receive CommandId=8E1E0C1D-0000-4000-8000-000000000000"]
got = [u["request"] for u in r["unmatched"]]
if len(got) != len(want) or not all(any(g.startswith(w) for g in got) for w in want):
    bad.append(f"unmatched requests: {[u['request'][:80] for u in r['unmatched']]}")
kinds = [e["kind"] for e in r["events"]]
for k in ("winrs-create", "winrs-command", "winrs-signal", "winrs-delete", "winrs-receive-timeout"):
    if k not in kinds:
        bad.append(f"no {k} event")
creates = [e["detail"] for e in r["events"] if e["kind"] == "winrs-create"]
if not any("WorkingDirectory C:\\Windows" in d and "env FOO=bar & baz" in d for d in creates):
    bad.append("the Create's WorkingDirectory/Environment are not in the report")
if not any("WINRS_CODEPAGE=437" in d and "WINRS_NOPROFILE=FALSE" in d for d in creates):
    bad.append("pywinrm's Create options are not in the report")
print(f"pywinrm report: {len(r['expectations'])} expectations, {len(r['unmatched'])} unmatched (4 on purpose), "
      + ("ok" if not bad else "FAILED"))
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
[ "$rc" = 0 ] || { echo "pywinrm check: FAILED"; KEEP=1; echo "kept $work"; exit 1; }
echo "pywinrm check: passed"
