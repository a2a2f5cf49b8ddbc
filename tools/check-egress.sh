#!/usr/bin/env bash
# Runs a command (make test runs the suite through it) under strace and fails
# when any of its processes tried to reach an address off loopback: a
# connect, sendto, sendmsg or sendmmsg to AF_INET outside 127.0.0.0/8, to
# AF_INET6 other than ::1 (or ::ffff:127.x), or any AF_PACKET frame. AF_UNIX
# and AF_NETLINK stay on the machine and are fine. Only the command and its
# descendants are traced (strace -f), so other traffic on the machine cannot
# make the verdict flaky; a packet that was never sent (a failed connect) is
# still an attempt and still fails. A packet capture would be no second
# witness: it cannot tell the suite's packets from the rest of the machine's,
# so it could only be flaky.
#
# Usage: tools/check-egress.sh [--self-test] -- COMMAND [ARG...]
#        tools/check-egress.sh --self-test
# --self-test first proves that the check catches a leak (see self_test).
# Exit status: the command's when it failed, else 1 on egress, 2 when the
# tracing itself failed.
set -uo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
GRACE=${EGRESS_GRACE:-10} # seconds for stragglers after the command exits
work=
cleanup() { [ -n "$work" ] && rm -rf "$work"; }
trap cleanup EXIT

# Reads strace -f output; prints one line per attempt off loopback with the
# process's program (its last execve, else its parent's).
offenders() {
    awk '
    function prog(p,   n) {
        for (n = 0; p != "" && n < 64; n++) {
            if (p in exe) return exe[p]
            p = parent[p]
        }
        return "?"
    }
    function loopback(fam, a) {
        if (fam == "AF_INET") return a ~ /^127\./
        return a == "::1" || a ~ /^::ffff:127\./
    }
    {
        pid = $1
        if ($0 ~ /execve\("/ && $0 !~ /= -1 /) {
            s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s); exe[pid] = s
        }
        if ($0 ~ /(clone3?|v?fork)(\(| resumed>)/ && $0 ~ /= [0-9]+$/) {
            c = $0; sub(/.*= /, "", c); parent[c] = pid
        }
        if ($0 !~ /(connect|sendto|sendmsg|sendmmsg)(\(| resumed>)/) next
        call = $0; sub(/^[0-9]+ +(<\.\.\. )?/, "", call); sub(/[( ].*/, "", call)
        rest = $0
        while (match(rest, /sa_family=AF_(INET6?|PACKET)[^}]*/)) {
            sa = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH)
            fam = sa; sub(/^sa_family=/, "", fam); sub(/,.*/, "", fam)
            port = ""; if (match(sa, /htons\([0-9]+\)/)) port = substr(sa, RSTART + 6, RLENGTH - 7)
            addr = ""
            if (match(sa, /inet_addr\("[^"]*"\)/)) addr = substr(sa, RSTART + 11, RLENGTH - 13)
            else if (match(sa, /AF_INET6, "[^"]*"/)) addr = substr(sa, RSTART + 11, RLENGTH - 12)
            if (fam != "AF_PACKET" && loopback(fam, addr)) continue
            dest = fam == "AF_PACKET" ? "a raw frame (AF_PACKET)" : \
                   fam == "AF_INET6" ? "[" addr "]:" port : addr ":" port
            printf "pid %s (%s): %s to %s\n", pid, prog(pid), call, dest
        }
    }' "$1" | sort -u
}

# strace must see the command's very first process, so it starts it.
traced_run() {
    local log=$1 rcfile=$2
    shift 2
    strace -f --seccomp-bpf -qq -s 0 -e signal=none \
        -e trace=connect,sendto,sendmsg,sendmmsg,execve,clone,clone3,fork,vfork \
        -o "$log" -- bash -c '"$@"; echo $? >"$0"' "$rcfile" "$@" &
    local spid=$! waited=0
    # The command's status appears when it ends; strace itself waits for
    # every descendant, so a process the suite left behind would hang here.
    until [ -s "$rcfile" ] || ! kill -0 "$spid" 2>/dev/null; do sleep 0.2; done
    while kill -0 "$spid" 2>/dev/null && [ "$waited" -lt $((GRACE * 5)) ]; do
        sleep 0.2
        waited=$((waited + 1))
    done
    if kill -0 "$spid" 2>/dev/null; then
        echo "egress check: processes left running $GRACE s after the command ended:" >&2
        local st pid
        for st in /proc/[0-9]*/status; do
            [ "$(awk '/^TracerPid:/ {print $2}' "$st" 2>/dev/null)" = "$spid" ] || continue
            pid=${st#/proc/}
            pid=${pid%/status}
            echo "  pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
            kill -KILL "$pid" 2>/dev/null
        done
        echo 1 >"$rcfile.left"
    fi
    wait "$spid"
    local srv=$?
    if [ ! -s "$rcfile" ]; then
        echo "egress check: strace could not run the command (status $srv)" >&2
        return 2
    fi
    return 0
}

check() {
    command -v strace >/dev/null || { echo "egress check: strace is not installed" >&2; return 2; }
    work=$(mktemp -d)
    local log=$work/trace rc
    traced_run "$log" "$work/rc" "$@" || return 2
    rc=$(cat "$work/rc")
    local bad
    bad=$(offenders "$log")
    if [ -n "$bad" ]; then
        local keep
        keep=$(mktemp "${TMPDIR:-/tmp}/etsn-egress.XXXXXX")
        cp "$log" "$keep"
        echo "egress check: FAILED, $(wc -l <<<"$bad") attempt(s) to reach an address off loopback:" >&2
        head -n 20 <<<"$bad" >&2
        echo "egress check: the whole trace is in $keep" >&2
    elif [ -e "$work/rc.left" ]; then
        echo "egress check: FAILED, the command left processes running" >&2
    else
        echo "egress check: no process left loopback ($(grep -cE ' (connect|sendto|sendmsg|sendmmsg)\(' "$log") socket calls traced)"
    fi
    [ "$rc" != 0 ] && return "$rc"
    [ -z "$bad" ] && [ ! -e "$work/rc.left" ]
}

# Proves the check fails for a leak, without sending anything off the
# machine: a connect on a UDP socket sends no packet (it only sets the
# peer), and the sendto/sendmsg calls run inside `unshare -n`, a network
# namespace with nothing but a down loopback, where they fail with
# ENETUNREACH after strace has seen them. 192.0.2.1 and 2001:db8::1 are
# documentation addresses (RFC 5737, RFC 3849) that never answer anyway.
self_test() {
    local out failed=0 tmp
    # The traces the check keeps of the failures it must report go here.
    tmp=$(mktemp -d)
    export TMPDIR=$tmp
    out=$("$self" -- bash -c 'exec 3<>/dev/udp/192.0.2.1/53' 2>&1)
    if [ $? = 1 ] && grep -qE '\((/usr)?/bin/bash\): connect to 192\.0\.2\.1:53' <<<"$out"; then
        echo "egress self-test: a UDP connect to 192.0.2.1:53 is caught"
    else
        echo "egress self-test: FAILED, a UDP connect to 192.0.2.1:53 was not caught: $out" >&2
        failed=1
    fi
    local py=/usr/bin/python3
    if [ -x "$py" ] && unshare -n true 2>/dev/null; then
        out=$("$self" -- unshare -n "$py" -I -c '
import socket
for fam, dest in ((socket.AF_INET, ("192.0.2.1", 53)), (socket.AF_INET6, ("2001:db8::1", 53))):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for send in (lambda: s.sendto(b"q", dest), lambda: s.sendmsg([b"q"], [], 0, dest)):
        try:
            send()
        except OSError:
            pass
' 2>&1)
        if [ $? = 1 ] && grep -q 'sendto to 192.0.2.1:53' <<<"$out" &&
            grep -q 'sendmsg to \[2001:db8::1\]:53' <<<"$out"; then
            echo "egress self-test: sendto/sendmsg to 192.0.2.1:53 and [2001:db8::1]:53 are caught"
        else
            echo "egress self-test: FAILED, sendto/sendmsg off loopback not caught: $out" >&2
            failed=1
        fi
        out=$("$self" -- unshare -n "$py" -I -c '
import socket
for fam, dest in ((socket.AF_INET, ("127.0.0.1", 9)), (socket.AF_INET6, ("::1", 9))):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for send in (lambda: s.sendto(b"q", dest), lambda: s.connect(dest)):
        try:
            send()
        except OSError:
            pass
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    u.connect("/nonexistent/etsn-egress")
except OSError:
    pass
' 2>&1)
        if [ $? = 0 ]; then
            echo "egress self-test: loopback and AF_UNIX pass"
        else
            echo "egress self-test: FAILED, loopback traffic was flagged: $out" >&2
            failed=1
        fi
    else
        echo "egress self-test: sendto/sendmsg part skipped (needs $py and unshare -n)"
    fi
    rm -rf "$tmp"
    return $failed
}

if [ "${1:-}" = "--self-test" ]; then
    shift
    (self_test) || exit 1 # a subshell: its TMPDIR stays there
fi
[ "${1:-}" = "--" ] && shift
[ $# -eq 0 ] && exit 0
check "$@"
