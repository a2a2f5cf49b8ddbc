#!/bin/sh
# Exits 0 when every build and test dependency is present, 1 otherwise.
# Arguments: the pkg-config module names the build needs.
command -v pkg-config >/dev/null 2>&1 || exit 1
pkg-config --exists "$@" || exit 1
for tool in valgrind tmux krb5kdc tcpdump openssl clang-format strace ip tshark; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || exit 1
done
# gss-ntlmssp: the NTLM mechanism for the GSSAPI mechglue.
ls /usr/lib/*/gssntlmssp/gssntlmssp.so >/dev/null 2>&1 || exit 1
# pywinrm and its NTLM auth for tools/check-pywinrm.sh.
/usr/bin/python3 -c 'import winrm, requests_ntlm' >/dev/null 2>&1 || exit 1
# Go and masterzen/winrm for tools/check-winrm-go.sh.
command -v go >/dev/null 2>&1 || exit 1
[ -d /usr/share/gocode/src/github.com/masterzen/winrm ] || exit 1
# libhttp-parser-dev has no pkg-config file.
[ -f /usr/include/http_parser.h ] || exit 1
exit 0
