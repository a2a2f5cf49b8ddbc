#!/usr/bin/env bash
# Negotiate with an explicit credential and no realm asks no DNS server and
# no KDC, even with the system's own /etc/krb5.conf (KRB5_CONFIG unset, as a
# user runs etsn): whole sessions, etsn against etsn-mockd, run under
# tools/check-egress.sh, which fails on any connect/sendto off loopback by
# the client or the mock.
#
# When root can make one, every session runs in its own network namespace
# (`unshare -n`, loopback only), so that nothing could leave even if a
# lookup were tried, and a control session proves the trace would see one:
# a plain user name in a realm whose KDC is 192.0.2.1 (TEST-NET-1) must be
# caught trying to reach 192.0.2.1:88.
# Usage: tools/check-stock-krb5.sh BIN_DIR
set -euo pipefail
bin=$(cd "${1:-bin}" && pwd)
tools=$(cd "$(dirname "$0")" && pwd)
fixture=$tools/../fixtures/plain-session.xml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'P@ssw0rd-for-tests\n' >"$work/pw"
chmod 600 "$work/pw"

# One session in the current namespace: the mock, then the client as USER
# typing exit; succeeds when the remote prompt appeared.
cat >"$work/session.sh" <<'EOF'
#!/usr/bin/env bash
set -u
bin=$1 fixture=$2 work=$3 user=$4
[ "${NETNS:-0}" = 1 ] && ip link set lo up
rm -f "$work/mock.out" "$work/client.out"
"$bin/etsn-mockd" --listen 127.0.0.1:0 --fixture "$fixture" >"$work/mock.out" 2>"$work/mock.err" &
mock=$!
for _ in $(seq 100); do [ -s "$work/mock.out" ] && break; sleep 0.05; done
port=$(sed -E 's#^[a-z]+://[^:]+:([0-9]+)/.*#\1#' "$work/mock.out")
printf 'exit\n' | ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn" -ComputerName 127.0.0.1 \
    -Port "$port" -Credential "$user" >"$work/client.out" 2>&1
kill "$mock"
wait "$mock" 2>/dev/null
grep -q 'PS C:' "$work/client.out"
EOF
chmod +x "$work/session.sh"

netns=()
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    netns=(env NETNS=1 unshare -n)
fi

# session LABEL USER [VAR=VALUE...]: runs one traced session; prints the
# check's output and returns its status.
session() {
    local label=$1 user=$2
    shift 2
    TMPDIR=$work "$tools/check-egress.sh" -- env "$@" "${netns[@]}" "$work/session.sh" "$bin" "$fixture" \
        "$work" "$user" >"$work/$label.egress" 2>&1
}

failed=0
# What the suite's DOMAIN\user credentials do, with /etc/krb5.conf.
if session stock 'CONTOSO\alice' -u KRB5_CONFIG; then
    echo "stock krb5.conf: a CONTOSO\\alice session stays on loopback (client and mock)"
else
    echo "stock krb5.conf: FAILED, a CONTOSO\\alice session left loopback or did not run:" >&2
    cat "$work/stock.egress" "$work/client.out" >&2
    failed=1
fi
# A plain user name with no default realm.
if session norealm alice KRB5_CONFIG="$tools/krb5.conf"; then
    echo "no realm: an alice session stays on loopback"
else
    echo "no realm: FAILED, an alice session left loopback or did not run:" >&2
    cat "$work/norealm.egress" "$work/client.out" >&2
    failed=1
fi
if [ ${#netns[@]} -gt 0 ]; then
    printf '[libdefaults]\n default_realm = CONTROL.TEST\n dns_lookup_kdc = false\n%s\n' \
        '[realms]
 CONTROL.TEST = {
  kdc = 192.0.2.1
 }' >"$work/control.conf"
    if ! session control alice KRB5_CONFIG="$work/control.conf" &&
        grep -q 'to 192\.0\.2\.1:88' "$work/control.egress"; then
        echo "control: a realm's KDC at 192.0.2.1:88 is caught (inside unshare -n, nothing sent)"
    else
        echo "control: FAILED, the KDC lookup of a realm session was not caught:" >&2
        cat "$work/control.egress" >&2
        failed=1
    fi
else
    echo "control: skipped (needs root, ip and unshare -n to send nothing for real)"
fi
exit $failed
