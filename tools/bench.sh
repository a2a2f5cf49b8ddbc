#!/usr/bin/env bash
# make bench: numbers, not verdicts. Prints
#  - time from start to the first prompt (median of 5 runs),
#  - lines/s rendered and peak memory of both programs for the large-output
#    fixture (250,000 WriteLine2 host calls, 12 MB of text).
# Over NTLM with WinRM message encryption on loopback, as a session runs.
set -euo pipefail
bin=${1:-bin}
# No realm and no DNS: the numbers are etsn's, not the system resolver's.
KRB5_CONFIG="$(cd "$(dirname "$0")" && pwd)/krb5.conf"
export KRB5_CONFIG
work=$(mktemp -d)
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
printf 'P@ssw0rd-for-tests\n' >"$work/pw"
chmod 600 "$work/pw"
export ETSN_PASSWORD_FILE="$work/pw"

start_mock() {
    : >"$work/mock.out"
    "$bin/etsn-mockd" --listen 127.0.0.1:0 --fixture "$1" >"$work/mock.out" 2>"$work/mock.err" &
    mock_pid=$!
    for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
    port=$(sed -E 's#^[a-z]+://[^:]+:([0-9]+)/.*#\1#' "$work/mock.out")
}
stop_mock() {
    kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Time to first prompt: etsn reads from a FIFO that stays open until the
# prompt has appeared on its stdout.
start_mock fixtures/plain-session.xml
times=()
for run in 1 2 3 4 5; do
    rm -f "$work/in"; mkfifo "$work/in"
    t0=$(now_ms)
    "$bin/etsn" -ComputerName 127.0.0.1 -Port "$port" -Credential 'CONTOSO\alice' \
        <"$work/in" >"$work/out.$run" 2>&1 &
    pid=$!
    exec 3>"$work/in"
    until grep -q 'PS C:' "$work/out.$run" 2>/dev/null; do sleep 0.002; done
    t1=$(now_ms)
    echo exit >&3; exec 3>&-
    wait "$pid"
    times+=($((t1 - t0)))
done
stop_mock
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
echo "first prompt: median ${median} ms over 5 runs (${sorted% }) — includes NTLM, pool open, required-commands check, prompt"

# Throughput: 250,000 lines through both programs.
start_mock fixtures/large-output.xml
cmd='1..250000 | % { "$_: some long text to make 10 MB" }'
t0=$(now_ms)
printf '%s\nexit\n' "$cmd" |
    /usr/bin/time -f '%M' -o "$work/etsn.rss" \
        "$bin/etsn" -ComputerName 127.0.0.1 -Port "$port" -Credential 'CONTOSO\alice' \
        >"$work/big.out"
t1=$(now_ms)
mock_rss=$(awk '/VmHWM/ {print $2}' "/proc/$mock_pid/status")
stop_mock
lines=$(grep -cE '^[0-9]+: some long text' "$work/big.out")
bytes=$(wc -c <"$work/big.out")
ms=$((t1 - t0))
echo "large output: $lines lines ($((bytes / 1024 / 1024)) MiB) in ${ms} ms = $((lines * 1000 / ms)) lines/s"
echo "peak memory: etsn $(cat "$work/etsn.rss") KiB, etsn-mockd ${mock_rss} KiB"
