#!/usr/bin/env bash
# Part of the capture check (tools/check-capture.sh calls it with its work
# directory: session.pcap, pw, stdin, session.out, session.rc). Imports the
# sealed capture with etsn-pcap-import and checks the transcript: one
# exchange per POST with a body (counted by tshark's own HTTP dissector),
# every request and response decrypted, the SOAP actions and the commands
# typed present, no password; a wrong password refused with exit 3; the
# transcript replayed to etsn by etsn-mockd --replay gives the same screen
# and exit status; etsn-transcript decode prints the conversation.
# Usage: tools/check-pcap-import.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1 work=$2
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "pcap import check: FAILED: $*"; exit 1; }
command -v tshark >/dev/null || fail "tshark is missing (make deps installs it)"

ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn-pcap-import" -o "$work/imported.xml" "$work/session.pcap" \
    2>"$work/import.err" || { cat "$work/import.err"; fail "etsn-pcap-import exited $?"; }
posts=$(tshark -r "$work/session.pcap" -n -Y 'http.request.method == "POST" && http.content_length > 0' \
        -T fields -e frame.number 2>/dev/null | wc -l)
exchanges=$(grep -c '<exchange ' "$work/imported.xml" || true)
requests=$(grep -c '<request>' "$work/imported.xml" || true)
envelopes=$(grep -c '<s:Envelope ' "$work/imported.xml" || true)
[ "$posts" -gt 0 ] && [ "$exchanges" = "$posts" ] && [ "$requests" = "$posts" ] ||
    fail "$exchanges exchanges imported for $posts POSTs with a body"
# Every request and every response is a decrypted SOAP envelope.
[ "$envelopes" = $((2 * posts)) ] || fail "$envelopes SOAP envelopes for $posts exchanges"
grep -q 'status="[^2]' "$work/imported.xml" && fail "an exchange has a status other than 2xx"
for action in transfer/Create transfer/CreateResponse shell/Command shell/CommandResponse \
    shell/Receive shell/ReceiveResponse transfer/Delete transfer/DeleteResponse; do
    grep -q "/$action</a:Action>" "$work/imported.xml" || fail "no $action in the transcript"
done
for text in Get-Date hostname 'name="CREATE_PIPELINE"' 'name="SESSION_CAPABILITY"'; do
    grep -q "$text" "$work/imported.xml" || fail "'$text' is not in the transcript"
done
grep -q 'source="etsn-pcap-import"' "$work/imported.xml" && grep -q 'sealed="true"' "$work/imported.xml" ||
    fail "the transcript header does not say source etsn-pcap-import, sealed"
grep -q 'P@ssw0rd' "$work/imported.xml" && fail "the password is in the transcript"

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

# Replayed to etsn: the same screen and exit status as the captured session.
"$bin/etsn-mockd" --listen 127.0.0.1:0 --replay "$work/imported.xml" --report "$work/replay.json" \
    >"$work/replay.mock" 2>"$work/replay.mockerr" &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/replay.mock" ] && break; sleep 0.05; done
url=$(head -n 1 "$work/replay.mock")
[ -n "$url" ] || fail "etsn-mockd --replay did not start: $(cat "$work/replay.mockerr")"
port=${url##*:}; port=${port%%/*}
rc=0
ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn" -ComputerName 127.0.0.1 -Port "$port" \
    -Credential 'CONTOSO\alice' <"$work/stdin" >"$work/replay.out" 2>"$work/replay.err" || rc=$?
kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=
cmp -s "$work/session.out" "$work/replay.out" ||
    { diff "$work/session.out" "$work/replay.out" || true; fail "the replayed screen differs"; }
[ "$rc" = "$(cat "$work/session.rc")" ] || fail "the replay exited $rc, the session $(cat "$work/session.rc")"
grep -q '"met": false' "$work/replay.json" && fail "an expectation of the replay is unmet"
grep -q '"unmatched": \[\]' "$work/replay.json" || fail "the replay has unmatched requests"
echo "pcap import check: $exchanges exchanges for $posts POSTs with a body, all decrypted;" \
     "wrong password refused (exit 3); replay to etsn: same screen, exit $rc"
