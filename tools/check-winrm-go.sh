#!/usr/bin/env bash
# masterzen/winrm (Debian's golang-github-masterzen-winrm-dev), a second WinRS
# client not written here, against etsn-mockd's WinRS cmd shell
# (fixtures/winrs.xml) with NTLM over HTTPS: tools/winrm-go checks what the
# library gets, then this script checks the mock's report.
# Usage: tools/check-winrm-go.sh BIN_DIR BUILD_DIR
set -euo pipefail
bin=${1:-bin}
build=${2:-build}
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/masterzen/winrm ]; then
    echo "winrm-go check: FAILED (golang-go / golang-github-masterzen-winrm-dev missing: make deps)"
    exit 1
fi
mkdir -p "$build/gocache"
# Debian's Go libraries live in /usr/share/gocode (GOPATH mode, no network).
GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$(cd "$build" && pwd)/gocache" \
    go build -o "$build/winrm-go" ./tools/winrm-go
work=$(mktemp -d)
mock_pid=
cleanup() {
    if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true; fi
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
# go-ntlmssp computes its NTLMv2 response with the domain the server's
# CHALLENGE names (TargetName), not the user's: the mock's gss-ntlmssp
# acceptor names the fixture users' domain, as a member of CONTOSO would.
NETBIOS_DOMAIN_NAME=CONTOSO "$bin/etsn-mockd" --listen 127.0.0.1:0 --fixture "${FIXTURE:-fixtures/winrs.xml}" \
    --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
    --report "$work/report.json" >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
url=$(head -n 1 "$work/mock.out")
[ -n "$url" ] || { echo "winrm-go check: FAILED (the mock did not start)"; cat "$work/mock.err"; exit 1; }
port=${url##*:}; port=${port%%/*}
printf 'P@ssw0rd-for-tests\n' >"$work/pw"
chmod 600 "$work/pw"
rc=0
ETSN_PASSWORD_FILE="$work/pw" "$build/winrm-go" 127.0.0.1 "$port" 'CONTOSO\alice' \
    >"$work/driver.out" 2>&1 || rc=$?
kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=
grep -E '^FAIL' "$work/driver.out" || true
tail -n 1 "$work/driver.out"
/usr/bin/python3 - "$work/report.json" <<'PY' || rc=1
import json, sys
r = json.load(open(sys.argv[1]))
met = {e["id"]: e["met"] for e in r["expectations"]}
bad = [i for i in ("winrs-shell-created", "winrs-command:echo hi", "winrs-codepage:65001",
                   "winrs-signal-terminate", "winrs-shell-deleted", "encrypted") if not met.get(i)]
# The unknown program the driver runs on purpose, and RunWithString's stdin
# End, which masterzen/winrm sends after it terminated the command (WinRM
# answers that with the unknown-CommandId fault too).
un = sorted(u["request"].split("=")[0] for u in r["unmatched"])
if un != ["Command frobnicate", "Send CommandId"]:
    bad.append(f"unmatched requests: {[u['request'] for u in r['unmatched']]}")
ev = [e["detail"] for e in r["events"] if e["kind"] == "winrs-stdin"]
if not any("7 bytes" in d for d in ev):
    bad.append(f"stdin not recorded: {ev}")
print("winrm-go report: " + ("ok" if not bad else "FAILED " + "; ".join(bad)))
sys.exit(1 if bad else 0)
PY
[ "$rc" = 0 ] || { echo "winrm-go check: FAILED"; KEEP=1; echo "kept $work"; exit 1; }
echo "winrm-go check: passed"
