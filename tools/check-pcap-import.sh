#!/usr/bin/env bash
# Part of the capture check: tools/check-capture.sh calls it, as root, once
# tcpdump has proved it can capture here, with its work directory. Two sealed
# etsn <-> etsn-mockd sessions are captured with tcpdump: plain-session.xml,
# and recorded-session.xml (errors, a warning, Read-Host, a SecureString,
# exit 5); a capture in which the kernel dropped packets is taken again (a
# lost segment leaves a hole no importer can fill, and the RC4 stream of the
# sealed bodies cannot skip it). Each capture is imported with
# etsn-pcap-import and the password, and must give: one exchange per POST
# with a body (counted by tshark's own HTTP dissector), every request and
# response decrypted, the SOAP actions and the commands typed, no password or
# SecureString; and, replayed to etsn by etsn-mockd --replay, the same
# stdout, stderr and exit status.
# A wrong password is refused with exit 3; import | etsn-transcript decode -
# prints the conversation.
# Usage: tools/check-pcap-import.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1 work=$2/import
mkdir -p "$work"
mock_pid= cap_pid=
cleanup() {
    [ -n "$cap_pid" ] && kill "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null || true
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "pcap import check: FAILED: $*"; exit 1; }
command -v tshark >/dev/null || fail "tshark is missing (make deps installs it)"

# start_mock NAME ARGS...: etsn-mockd on a free port; sets port.
start_mock() {
    local name=$1
    shift
    "$bin/etsn-mockd" --listen 127.0.0.1:0 --report "$work/$name.json" "$@" \
        >"$work/$name.mock" 2>"$work/$name.mockerr" &
    mock_pid=$!
    for _ in $(seq 100); do [ -s "$work/$name.mock" ] && break; sleep 0.05; done
    local url
    url=$(head -n 1 "$work/$name.mock")
    [ -n "$url" ] || fail "etsn-mockd $* did not start: $(cat "$work/$name.mockerr")"
    port=${url##*:}; port=${port%%/*}
}
stop_mock() { kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=; }

# run_etsn NAME STDIN: etsn against $port; NAME.out, NAME.err, NAME.rc.
run_etsn() {
    local rc=0
    ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn" -ComputerName 127.0.0.1 -Port "$port" \
        -Credential 'CONTOSO\alice' <"$2" >"$work/$1.out" 2>"$work/$1.err" || rc=$?
    echo "$rc" >"$work/$1.rc"
}

# check_import NAME COMMAND...: imports NAME.pcap, checks the transcript, replays it.
check_import() {
    local name=$1 t="$work/$1.imported.xml"
    shift
    ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn-pcap-import" -o "$t" "$work/$name.pcap" \
        2>"$work/$name.import.err" || { cat "$work/$name.import.err"; fail "$name: etsn-pcap-import failed"; }
    local posts exchanges envelopes
    posts=$(tshark -r "$work/$name.pcap" -n -Y 'http.request.method == "POST" && http.content_length > 0' \
            -T fields -e frame.number 2>/dev/null | wc -l)
    exchanges=$(grep -c '<exchange ' "$t" || true)
    envelopes=$(grep -c '<s:Envelope ' "$t" || true)
    [ "$posts" -gt 0 ] && [ "$exchanges" = "$posts" ] ||
        fail "$name: $exchanges exchanges imported for $posts POSTs with a body"
    # Every request and every response is a decrypted SOAP envelope.
    [ "$envelopes" = $((2 * posts)) ] || fail "$name: $envelopes SOAP envelopes for $posts exchanges"
    for action in transfer/Create transfer/CreateResponse shell/Command shell/CommandResponse \
        shell/Receive shell/ReceiveResponse transfer/Delete transfer/DeleteResponse; do
        grep -q "/$action</a:Action>" "$t" || fail "$name: no $action in the transcript"
    done
    for text in "$@" 'name="CREATE_PIPELINE"' 'name="SESSION_CAPABILITY"' 'source="etsn-pcap-import"' \
        'sealed="true"'; do
        grep -qF "$text" "$t" || fail "$name: '$text' is not in the transcript"
    done
    grep -q -e 'P@ssw0rd' -e hunter2 "$t" && fail "$name: a secret is in the transcript"

    # Replayed to etsn: the same screen and exit status as the captured session.
    start_mock "$name.replay" --replay "$t"
    run_etsn "$name.replay" "$work/$name.stdin"
    stop_mock
    cmp -s "$work/$name.out" "$work/$name.replay.out" ||
        { diff "$work/$name.out" "$work/$name.replay.out" || true; fail "$name: the replayed screen differs"; }
    cmp -s "$work/$name.err" "$work/$name.replay.err" ||
        { diff "$work/$name.err" "$work/$name.replay.err" || true; fail "$name: the replayed stderr differs"; }
    [ "$(cat "$work/$name.replay.rc")" = "$(cat "$work/$name.rc")" ] ||
        fail "$name: the replay exited $(cat "$work/$name.replay.rc"), the session $(cat "$work/$name.rc")"
    grep -q '"met": false' "$work/$name.replay.json" && fail "$name: an expectation of the replay is unmet"
    grep -q '"unmatched": \[\]' "$work/$name.replay.json" || fail "$name: the replay has unmatched requests"
    echo "pcap import check: $name: $exchanges exchanges for $posts POSTs with a body, all decrypted;" \
         "replay to etsn: same screen, exit $(cat "$work/$name.rc")"
}

# capture NAME FIXTURE: a session on FIXTURE with NAME.stdin, captured to
# NAME.pcap without a dropped packet (three tries); NAME.out/.err/.rc.
capture() {
    local name=$1 fixture=$2 try dropped
    for try in 1 2 3; do
        start_mock "$name" --fixture "$fixture"
        # A large buffer (-B, KiB): loopback segments are up to 64 KiB each.
        tcpdump -Z root -i any --immediate-mode -U -B 32768 -s 0 -w "$work/$name.pcap" "tcp port $port" \
            2>"$work/$name.tcpdump" &
        cap_pid=$!
        for _ in $(seq 100); do grep -q "listening on" "$work/$name.tcpdump" 2>/dev/null && break; sleep 0.05; done
        run_etsn "$name" "$work/$name.stdin"
        sleep 0.3
        kill "$cap_pid"; wait "$cap_pid" 2>/dev/null || true; cap_pid=
        stop_mock
        dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$work/$name.tcpdump")
        [ "${dropped:-0}" = 0 ] && return 0
        echo "pcap import check: $name: tcpdump dropped $dropped packets (try $try), capturing again"
    done
    echo "pcap import check: skipped (tcpdump keeps dropping packets here)"
    exit 0
}

printf 'P@ssw0rd-for-tests\n' >"$work/pw"
chmod 600 "$work/pw"
printf 'Get-Date\nhostname\nexit\n' >"$work/session.stdin"
capture session fixtures/plain-session.xml
grep -q "SERVER01" "$work/session.out" || fail "the captured session did not run"
check_import session Get-Date hostname

# A wrong password is refused, clearly, with exit status 3 and no output file.
printf 'not-the-password\n' >"$work/pw-wrong"
chmod 600 "$work/pw-wrong"
rc=0
ETSN_PASSWORD_FILE="$work/pw-wrong" "$bin/etsn-pcap-import" -o "$work/wrong.xml" "$work/session.pcap" \
    2>"$work/wrong.err" || rc=$?
[ "$rc" = 3 ] && grep -q 'The password does not match the captured NTLM exchange of CONTOSO\\alice' \
    "$work/wrong.err" && [ ! -e "$work/wrong.xml" ] ||
    { cat "$work/wrong.err"; fail "a wrong password gave exit $rc"; }

# A capture printed as a readable conversation: import, then decode.
ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn-pcap-import" -q "$work/session.pcap" |
    "$bin/etsn-transcript" decode - >"$work/decoded.txt"
grep -q 'Get-Date' "$work/decoded.txt" && grep -q 'CREATE_PIPELINE' "$work/decoded.txt" ||
    fail "etsn-pcap-import | etsn-transcript decode - does not show the conversation"

# A second capture: errors, a warning, Read-Host, a SecureString, exit 5.
cat >"$work/host.stdin" <<'IN'
Get-Date
Get-Item C:\nope
throw 'boom'
Write-Warning 'low disk'
Read-Host
bob
Read-Host -AsSecureString
hunter2
exit 5
IN
capture host fixtures/recorded-session.xml
[ "$(cat "$work/host.rc")" = 5 ] || fail "the second session exited $(cat "$work/host.rc"), not 5"
check_import host 'Get-Item C:\nope' 'Read-Host -AsSecureString' 'name="PIPELINE_HOST_CALL"'
echo "pcap import check: wrong password refused (exit 3); import | decode shows the conversation"
