#!/usr/bin/env bash
# Captures a whole etsn session on loopback with tcpdump and checks that no
# SOAP or PSRP text crosses the wire in clear: every POST body after the
# authentication handshake must be multipart/encrypted. Then
# tools/check-pcap-import.sh imports such captures with the password.
# Usage: tools/check-capture.sh BIN_DIR   (needs root for the capture)
set -euo pipefail
bin=${1:-bin}
if [ "$(id -u)" != 0 ] || ! command -v tcpdump >/dev/null; then
    echo "capture check: skipped (needs root and tcpdump)"
    exit 0
fi
# No realm and no DNS: the capture must hold this session only.
KRB5_CONFIG="$(cd "$(dirname "$0")" && pwd)/krb5.conf"
export KRB5_CONFIG
work=$(mktemp -d)
mock_pid= cap_pid=
cleanup() {
    [ -n "$cap_pid" ] && kill "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null || true
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
"$bin/etsn-mockd" --listen 127.0.0.1:0 --fixture fixtures/plain-session.xml \
    --report "$work/report.json" >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
url=$(head -n 1 "$work/mock.out")
port=${url##*:}; port=${port%%/*}
tcpdump -Z root -i any --immediate-mode -U -s 0 -w "$work/session.pcap" "tcp port $port" 2>"$work/tcpdump.err" &
cap_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/tcpdump.err" && break; sleep 0.05; done
if ! grep -q "listening on" "$work/tcpdump.err" || ! kill -0 "$cap_pid" 2>/dev/null; then
    # No capture to judge (e.g. no CAP_NET_RAW in this sandbox): say so, do not pass.
    echo "capture check: skipped (tcpdump cannot capture here: $(head -n 1 "$work/tcpdump.err"))"
    exit 0
fi
printf 'P@ssw0rd-for-tests\n' >"$work/pw"
chmod 600 "$work/pw"
printf 'Get-Date\nhostname\nexit\n' |
    ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn" -ComputerName 127.0.0.1 -Port "$port" \
        -Credential 'CONTOSO\alice' >"$work/session.out"
sleep 0.3
kill "$cap_pid"; wait "$cap_pid" 2>/dev/null || true; cap_pid=
grep -q "SERVER01" "$work/session.out" || { echo "capture check: the session did not run"; exit 1; }
# Plain text that would betray an unsealed body: SOAP, PSRP CLIXML, output.
bad=$(tcpdump -r "$work/session.pcap" -A 2>/dev/null |
      grep -c -E 's:Envelope|creationXml|<Obj |Tuesday, November|P@ssw0rd' || true)
posts=$(tcpdump -r "$work/session.pcap" -A 2>/dev/null | grep -o 'POST /[^ ]* HTTP/1.1' | wc -l)
sealed=$(tcpdump -r "$work/session.pcap" -A 2>/dev/null |
         grep -c 'Content-Type: multipart/encrypted' || true)
echo "capture check: $posts POSTs, $sealed sealed bodies (requests and replies), $bad plaintext hits"
# Every POST is either a handshake leg (empty body) or sealed.
handshake=$(tcpdump -r "$work/session.pcap" -A 2>/dev/null | grep -c '^Authorization: Negotiate' || true)
[ "$bad" = 0 ] && [ "$sealed" -gt 0 ] && [ $((sealed + handshake)) -ge "$posts" ] ||
    { echo "capture check: FAILED ($handshake handshake legs)"; exit 1; }

tools/check-pcap-import.sh "$bin" "$work"
