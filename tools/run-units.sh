#!/bin/sh
# Runs each unit-test binary; with --valgrind, under valgrind with leak checks.
# Usage: run-units.sh [--valgrind] -- TEST...
wrap=""
if [ "$1" = "--valgrind" ]; then
    wrap="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --num-callers=50 --suppressions=$(dirname "$0")/valgrind.supp"
    shift
fi
[ "$1" = "--" ] && shift
# No realm and no DNS for GSSAPI (tests with their own KDC set their own).
KRB5_CONFIG="$(cd "$(dirname "$0")" && pwd)/krb5.conf"
export KRB5_CONFIG
failed=0
for t in "$@"; do
    # CK_FORK=no keeps valgrind on the test process itself.
    if ! CK_FORK=no $wrap "$t"; then
        echo "unit test failed: $t" >&2
        failed=1
    fi
done
exit $failed
