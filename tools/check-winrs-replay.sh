#!/usr/bin/env bash
# WinRS record and replay with an independent client: pywinrm (Debian's
# python3-winrm) runs tools/pywinrm-check.py against fixtures/winrs.xml while
# etsn-mockd --record writes the conversation and tcpdump (as root) captures
# it; then the recording, and the capture imported with etsn-pcap-import,
# are each replayed with etsn-mockd --replay to the same pywinrm driver,
# which must get the same stdout, stderr and exit codes (it checks every one)
# and meet every expectation of the replay; a command the recording lacks is
# a near-miss with the nearest recorded one and a diff. Then masterzen/winrm's session
# (tools/winrm-go, NTLM over HTTPS) is recorded and replayed to it the same way,
# and an etsn PSRP session recorded by the mock replays to etsn.
# Usage: tools/check-winrs-replay.sh BIN_DIR BUILD_DIR
set -euo pipefail
bin=${1:-bin}
build=${2:-build}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
mock_pid= cap_pid=
cleanup() {
    [ -n "$cap_pid" ] && kill "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null || true
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "winrs replay check: FAILED: $*"; KEEP=1; echo "kept $work"; exit 1; }
/usr/bin/python3 -c 'import winrm, requests_ntlm' 2>/dev/null ||
    fail "python3-winrm / python3-requests-ntlm missing: make deps"

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

start_mock() {
    local name=$1
    shift
    "$bin/etsn-mockd" --listen 127.0.0.1:0 --report "$work/$name.json" "$@" \
        >"$work/$name.mock" 2>"$work/$name.mockerr" &
    mock_pid=$!
    for _ in $(seq 100); do [ -s "$work/$name.mock" ] && break; sleep 0.05; done
    url=$(head -n 1 "$work/$name.mock")
    [ -n "$url" ] || fail "etsn-mockd $* did not start: $(cat "$work/$name.mockerr")"
    port=${url##*:}; port=${port%%/*}
}
stop_mock() { kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=; }

run_driver() {
    local name=$1 rc=0
    OPENSSL_CONF="$work/openssl.cnf" ETSN_PASSWORD_FILE="$work/pw" PYTHONDONTWRITEBYTECODE=1 \
        /usr/bin/python3 "$here/pywinrm-check.py" "$url" 'CONTOSO\alice' >"$work/$name.out" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        grep -E '^FAIL' "$work/$name.out" || true
        grep -q '^Traceback' "$work/$name.out" && sed -n '/^Traceback/,$p' "$work/$name.out"
        fail "$name: pywinrm's checks failed"
    fi
}

# The replay's report: every expectation met; unmatched only the two requests
# the recorded server refused too (a made-up CommandId, a deleted shell).
check_report() {
    /usr/bin/python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
bad = [f"expectation {e['id']}: {e['detail']}" for e in r["expectations"] if not e["met"]]
want = ["Command ShellId=", "Receive CommandId=8E1E0C1D-0000-4000-8000-000000000000"]
got = [u["request"] for u in r["unmatched"]]
if len(got) != len(want) or not all(any(g.startswith(w) for g in got) for w in want):
    bad.append(f"unmatched requests: {[(u['request'][:60], u.get('difference', '')[:120]) for u in r['unmatched']]}")
ids = [e["id"] for e in r["expectations"]]
for need in ("winrs-command:echo hi", "winrs-command:ping -t localhost", "winrs-signal-ctrl-c",
             "winrs-codepage:437", "winrs-shell-deleted", "encrypted"):
    if need not in ids:
        bad.append(f"no expectation {need}")
for b in bad:
    print("  " + b)
print(f"{len(ids)} expectations met")
sys.exit(1 if bad else 0)
EOF
}

replay_to_pywinrm() {
    local name=$1 transcript=$2 n
    start_mock "$name" --replay "$transcript" --fixture fixtures/winrs.xml
    run_driver "$name"
    stop_mock
    n=$(check_report "$work/$name.json") || { echo "$n"; fail "$name: the replay's report"; }
    cmp -s "$work/session.out" "$work/$name.out" ||
        { diff "$work/session.out" "$work/$name.out" || true; fail "$name: pywinrm saw something else"; }
    echo "winrs replay check: $name: pywinrm got the same stdout/stderr/exit codes" \
         "($(grep -c '^ok' "$work/$name.out") checks), ${n##*$'\n'}"
}

# 1. The session, recorded by the mock and (as root) captured by tcpdump.
capture=no
start_mock session --fixture fixtures/winrs.xml --record "$work/session.xml"
if [ "$(id -u)" = 0 ] && command -v tcpdump >/dev/null; then
    tcpdump -Z root -i any --immediate-mode -U -B 32768 -s 0 -w "$work/session.pcap" "tcp port $port" \
        2>"$work/tcpdump.err" &
    cap_pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$work/tcpdump.err" 2>/dev/null && break; sleep 0.05; done
    grep -q "listening on" "$work/tcpdump.err" && capture=yes
fi
run_driver session
sleep 0.3
if [ -n "$cap_pid" ]; then kill "$cap_pid"; wait "$cap_pid" 2>/dev/null || true; cap_pid=; fi
stop_mock
t="$work/session.xml"
[ "$(stat -c %a "$t")" = 600 ] || fail "the recording is mode $(stat -c %a "$t"), not 0600"
grep -q 'source="etsn-mockd --record"' "$t" && grep -q 'sealed="true"' "$t" ||
    fail "the recording's header does not say etsn-mockd --record, sealed"
grep -q 'P@ssw0rd' "$t" && fail "the password is in the recording"
grep -q '<etsn:text [^>]*>hi&#13;' "$t" || fail "pywinrm's stdout is not in the recording as etsn:text"
echo "winrs replay check: recorded $(grep -c '<exchange ' "$t") exchanges of pywinrm's session"
replay_to_pywinrm recording "$t"
# A command line the recording lacks: cmd.exe's answer, and a near-miss in
# the report with the nearest recorded command and a diff.
start_mock near-miss --replay "$t" --fixture fixtures/winrs.xml
OPENSSL_CONF="$work/openssl.cnf" ETSN_PASSWORD_FILE="$work/pw" /usr/bin/python3 - "$url" >"$work/near-miss.out" 2>&1 <<'EOF' ||
import os, sys, winrm
pw = open(os.environ["ETSN_PASSWORD_FILE"]).read().strip()
s = winrm.Session(sys.argv[1], auth=("CONTOSO\\alice", pw), transport="ntlm", message_encryption="always")
r = s.run_cmd("echo", ["hj"])
sys.exit(0 if r.status_code == 1 and b"'echo' is not recognized" in r.std_err else 1)
EOF
    { cat "$work/near-miss.out"; fail "near-miss: pywinrm did not get cmd.exe's answer"; }
stop_mock
grep -q '"request": "Command echo hj", "nearest": "echo hi", "difference": "[^"]*line 1 column 7: -echo hi +echo hj' \
    "$work/near-miss.json" || { grep -A3 '"unmatched"' "$work/near-miss.json"; fail "near-miss: not reported with the nearest and a diff"; }
echo "winrs replay check: near-miss: 'echo hj' reported with the nearest recorded 'echo hi' and a diff"

# 2. The capture, imported with the password and replayed.
dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$work/tcpdump.err" 2>/dev/null)
if [ "$capture" = no ]; then
    echo "winrs replay check: capture skipped (needs root and tcpdump that can capture)"
elif [ "${dropped:-0}" != 0 ]; then
    echo "winrs replay check: capture skipped (tcpdump dropped $dropped packets)"
else
    ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn-pcap-import" -o "$work/imported.xml" "$work/session.pcap" \
        2>"$work/import.err" || { cat "$work/import.err"; fail "etsn-pcap-import failed"; }
    a=$(grep -c '<exchange ' "$t"); b=$(grep -c '<exchange ' "$work/imported.xml")
    [ "$a" = "$b" ] || fail "the import has $b exchanges, the recording $a"
    echo "winrs replay check: imported $b exchanges from the capture"
    replay_to_pywinrm imported "$work/imported.xml"
fi

# 3. masterzen/winrm (Go), NTLM over HTTPS: recorded, then replayed to it.
if command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/masterzen/winrm ]; then
    mkdir -p "$build/gocache"
    GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$(cd "$build" && pwd)/gocache" \
        go build -o "$build/winrm-go" ./tools/winrm-go
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
    tls=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
    run_go() {
        local name=$1 rc=0
        shift
        # go-ntlmssp answers with the domain the CHALLENGE names (check-winrm-go.sh).
        NETBIOS_DOMAIN_NAME=CONTOSO start_mock "$name" "${tls[@]}" "$@"
        ETSN_PASSWORD_FILE="$work/pw" "$build/winrm-go" 127.0.0.1 "$port" 'CONTOSO\alice' \
            >"$work/$name.out" 2>&1 || rc=$?
        stop_mock
        [ "$rc" = 0 ] || { grep -E '^FAIL' "$work/$name.out" || tail -n 3 "$work/$name.out"; fail "$name: winrm-go's checks failed"; }
    }
    run_go go-session --fixture fixtures/winrs.xml --record "$work/go.xml"
    run_go go-replay --replay "$work/go.xml" --fixture fixtures/winrs.xml
    cmp -s "$work/go-session.out" "$work/go-replay.out" ||
        { diff "$work/go-session.out" "$work/go-replay.out" || true; fail "go-replay: winrm-go saw something else"; }
    /usr/bin/python3 - "$work/go-replay.json" <<'EOF' || fail "go-replay: the replay's report"
import json, sys
r = json.load(open(sys.argv[1]))
bad = [f"expectation {e['id']}: {e['detail']}" for e in r["expectations"] if not e["met"]]
# RunWithString's stdin End after the command was terminated: refused when
# recorded, refused again.
un = sorted(u["request"].split("=")[0] for u in r["unmatched"])
if un != ["Send CommandId"]:
    bad.append(f"unmatched requests: {[u['request'] for u in r['unmatched']]}")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
    echo "winrs replay check: go-replay: masterzen/winrm got the same results" \
         "($(grep -c '^ok' "$work/go-replay.out") checks) from its replayed recording"
else
    echo "winrs replay check: masterzen/winrm skipped (golang-go / its package missing: make deps)"
fi
# 4. PSRP: etsn's session recorded by the mock (--record) and by etsn itself
#    (ETSN_RECORD) at once; the mock's recording replays to etsn.
cat >"$work/psrp.stdin" <<'IN'
Get-Date
Get-Item C:\nope
Read-Host
bob
Read-Host -AsSecureString
hunter2
exit 5
IN
run_etsn() {
    local name=$1 rc=0
    shift
    env "$@" ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn" -ComputerName 127.0.0.1 -Port "$port" \
        -Credential 'CONTOSO\alice' <"$work/psrp.stdin" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    echo "$rc" >"$work/$name.rc"
}
start_mock psrp --fixture fixtures/recorded-session.xml --record "$work/psrp-mock.xml"
run_etsn psrp ETSN_RECORD="$work/psrp-etsn.xml"
stop_mock
[ "$(cat "$work/psrp.rc")" = 5 ] || fail "psrp: the session exited $(cat "$work/psrp.rc"), not 5"
m=$(grep -c '<exchange ' "$work/psrp-mock.xml"); e=$(grep -c '<exchange ' "$work/psrp-etsn.xml")
[ "$m" = "$e" ] || fail "psrp: the mock recorded $m exchanges, etsn $e"
for f in psrp-mock psrp-etsn; do
    grep -o 'name="[A-Z_]*"' "$work/$f.xml" | sort | uniq -c >"$work/$f.msgs"
done
cmp -s "$work/psrp-mock.msgs" "$work/psrp-etsn.msgs" ||
    { diff "$work/psrp-etsn.msgs" "$work/psrp-mock.msgs" || true; fail "psrp: the two recordings hold other PSRP messages"; }
grep -q '<SS[^>]*>SCRUBBED</SS>' "$work/psrp-mock.xml" && ! grep -q -e 'P@ssw0rd' -e hunter2 "$work/psrp-mock.xml" ||
    fail "psrp: the mock's recording is not scrubbed"
start_mock psrp-replay --replay "$work/psrp-mock.xml"
run_etsn psrp-replay
stop_mock
for s in out err rc; do
    cmp -s "$work/psrp.$s" "$work/psrp-replay.$s" ||
        { diff "$work/psrp.$s" "$work/psrp-replay.$s" || true; fail "psrp: the replay's $s differs"; }
done
grep -q '"met": false' "$work/psrp-replay.json" && fail "psrp: an expectation of the replay is unmet"
grep -q '"unmatched": \[\]' "$work/psrp-replay.json" || fail "psrp: the replay has unmatched requests"
echo "winrs replay check: psrp: etsn's session recorded by the mock ($m exchanges, the same PSRP" \
     "messages as ETSN_RECORD's) replays to etsn: same screen, exit 5"
echo "winrs replay check: passed"
