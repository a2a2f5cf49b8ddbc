#!/usr/bin/env bash
# make demo: an interactive etsn session against etsn-mockd playing
# fixtures/plain-session.xml, over NTLM with WinRM message encryption.
set -euo pipefail
bin=${1:-bin}
fixture=${DEMO_FIXTURE:-fixtures/plain-session.xml}
# The mock and the client use no realm and no DNS (not /etc/krb5.conf's).
KRB5_CONFIG="$(cd "$(dirname "$0")" && pwd)/krb5.conf"
export KRB5_CONFIG
work=$(mktemp -d)
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
"$bin/etsn-mockd" --listen 127.0.0.1:0 --fixture "$fixture" --report "$work/report.json" \
    >"$work/mockd.out" 2>"$work/mockd.err" &
mock_pid=$!
for _ in $(seq 50); do [ -s "$work/mockd.out" ] && break; sleep 0.1; done
url=$(head -n 1 "$work/mockd.out")
[ -n "$url" ] || { cat "$work/mockd.err" >&2; exit 1; }
port=$(echo "$url" | sed -E 's#^[a-z]+://[^:]+:([0-9]+)/.*#\1#')
user=$(sed -nE 's#.*<user name="([^"]+)".*#\1#p' "$fixture" | head -n 1)
# The fixture's test password goes through a 0600 file, never argv.
sed -nE 's#.*<user name="[^"]+" password="([^"]+)".*#\1#p' "$fixture" | head -n 1 >"$work/pw"
chmod 600 "$work/pw"
echo "etsn demo: mock WinRM server at $url, user $user (fixture $fixture)."
echo "Try: Get-Date, Get-Location, Get-Foo (unknown), exit"
ETSN_PASSWORD_FILE="$work/pw" "$bin/etsn" -ComputerName 127.0.0.1 -Port "$port" -Credential "$user"
