#!/bin/sh
# Exits 0 when every build and test dependency is present, 1 otherwise.
# Arguments: the pkg-config module names the build needs.
command -v pkg-config >/dev/null 2>&1 || exit 1
pkg-config --exists "$@" || exit 1
for tool in valgrind tmux krb5kdc tcpdump openssl clang-format tshark; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || exit 1
done
# gss-ntlmssp: the NTLM mechanism for the GSSAPI mechglue.
ls /usr/lib/*/gssntlmssp/gssntlmssp.so >/dev/null 2>&1 || exit 1
# libhttp-parser-dev has no pkg-config file.
[ -f /usr/include/http_parser.h ] || exit 1
exit 0
