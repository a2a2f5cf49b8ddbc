#!/usr/bin/env bash
# Records a sealed etsn session against a scripted fixture (ETSN_RECORD), then
# replays the recording with etsn-mockd --replay to etsn with the same stdin:
# the screen and the exit status must be the same, the replay's report must
# have every expectation met and no unmatched request, the transcript must be
# 0600 and hold no secret; a changed command must come back as a near-miss
# with the nearest recorded command and a diff; etsn-transcript decode must
# show the conversation. Usage: tools/check-replay.sh BIN_DIR
set -euo pipefail
bin=${1:-bin}
work=$(mktemp -d)
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "replay check: files kept in $work" || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "replay check: FAILED: $*"; exit 1; }

printf 'P@ssw0rd-for-tests\n' >"$work/pw"
chmod 600 "$work/pw"
cat >"$work/stdin" <<'IN'
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

# run NAME STDIN MOCKD-ARGS... : starts etsn-mockd, runs etsn against it,
# stops the mock (which writes NAME.json); the exit status is in NAME.rc.
run() {
    local name=$1 input=$2
    shift 2
    "$bin/etsn-mockd" --listen 127.0.0.1:0 --report "$work/$name.json" "$@" \
        >"$work/$name.mock" 2>"$work/$name.mockerr" &
    mock_pid=$!
    for _ in $(seq 100); do [ -s "$work/$name.mock" ] && break; sleep 0.05; done
    local url port
    url=$(head -n 1 "$work/$name.mock")
    [ -n "$url" ] || fail "etsn-mockd $* did not start: $(cat "$work/$name.mockerr")"
    port=${url##*:}; port=${port%%/*}
    set +e
    env ETSN_PASSWORD_FILE="$work/pw" ${RECORD:+ETSN_RECORD="$RECORD"} \
        "$bin/etsn" -ComputerName 127.0.0.1 -Port "$port" -Credential 'CONTOSO\alice' \
        <"$input" >"$work/$name.out" 2>"$work/$name.err"
    echo $? >"$work/$name.rc"
    set -e
    kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=
}

# 1. Record against the scripted fixture.
RECORD="$work/session.xml" run record "$work/stdin" --fixture fixtures/recorded-session.xml
[ "$(cat "$work/record.rc")" = 5 ] || fail "the recorded session exited $(cat "$work/record.rc"), not 5"
grep -q '"met": false' "$work/record.json" && fail "the recorded session missed an expectation"
[ "$(stat -c %a "$work/session.xml")" = 600 ] || fail "the transcript is not mode 0600"
grep -q '</transcript>' "$work/session.xml" || fail "the transcript is not closed"
grep -q 'name="CREATE_PIPELINE"' "$work/session.xml" || fail "no decoded CREATE_PIPELINE in the transcript"
grep -q '<SS[^>]*>SCRUBBED</SS>' "$work/session.xml" || fail "the SecureString answer was not scrubbed"
grep -q -e 'P@ssw0rd-for-tests' -e 'EncryptedSessionKey">[^S]' "$work/session.xml" &&
    fail "a secret is in the transcript"
exchanges=$(grep -c '<exchange ' "$work/session.xml")

# 2. Replay it to etsn with the same stdin: same screen, same status, all met.
run replay "$work/stdin" --replay "$work/session.xml"
cmp -s "$work/record.out" "$work/replay.out" || { diff "$work/record.out" "$work/replay.out" || true; fail "stdout differs"; }
cmp -s "$work/record.err" "$work/replay.err" || { diff "$work/record.err" "$work/replay.err" || true; fail "stderr differs"; }
[ "$(cat "$work/replay.rc")" = 5 ] || fail "the replay exited $(cat "$work/replay.rc"), not 5"
grep -q '"met": false' "$work/replay.json" && { grep '"met": false' "$work/replay.json"; fail "an expectation of the replay is unmet"; }
grep -q '"unmatched": \[\]' "$work/replay.json" || fail "the replay has unmatched requests"
met=$(grep -c '"met": true' "$work/replay.json")
[ "$met" -ge 10 ] || fail "only $met expectations in the replay's report"

# 3. A changed command is a near-miss with the nearest recorded one and a diff.
sed 's/^Get-Date$/Get-Dat/' "$work/stdin" >"$work/stdin2"
run miss "$work/stdin2" --replay "$work/session.xml"
grep -q '"nearest": "Get-Date"' "$work/miss.json" || fail "the near-miss does not name Get-Date"
grep -q '"difference": "line 1 column 8' "$work/miss.json" || fail "the near-miss has no diff"

# 4. The decode tool shows the conversation.
"$bin/etsn-transcript" decode "$work/session.xml" >"$work/decoded.txt"
grep -q "CREATE_PIPELINE" "$work/decoded.txt" && grep -q "Read-Host -AsSecureString" "$work/decoded.txt" ||
    fail "etsn-transcript decode does not show the conversation"
echo "replay check: $exchanges exchanges recorded; replay to etsn: same screen, exit 5, $met expectations met, 0 unmatched; near-miss reported with a diff"
