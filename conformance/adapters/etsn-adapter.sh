#!/bin/sh
# Example etsn-conform adapter. An adapter is run instead of --client with
# the case's arguments (Enter-PSSession style: -ComputerName H -Port P
# -Credential U ...) and these variables:
#   ETSN_CONFORM_URL    endpoint URL of the mock, e.g. http://127.0.0.1:40123/wsman
#   ETSN_CONFORM_HOST, ETSN_CONFORM_PORT, ETSN_CONFORM_PATH   its parts
#   ETSN_CONFORM_USER   the case's [user] (unset when it has none)
#   ETSN_PASSWORD_FILE  file (mode 0600) holding the case's [password]
#   ETSN_CONFORM_CLIENT the --client path given to etsn-conform
#   ETSN_CONFORM_CASE   the case id
# Its stdin, stdout, stderr and exit status are judged as the client's.
#
# This one only wraps bin/etsn, showing the mechanics; an adapter for
# another client (pypsrp, pywinrm, a Go or .NET client) would translate the
# arguments to that client's and map its output/exit status.
#
#   bin/etsn-conform --client bin/etsn --adapter conformance/adapters/etsn-adapter.sh \
#       --mockd bin/etsn-mockd --cases conformance/cases --fixtures fixtures
set -eu
client=${ETSN_CONFORM_CLIENT:?run me from etsn-conform with --client}
exec "$client" "$@"
