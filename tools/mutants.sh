#!/bin/bash
# Mutation check of the wire constants and the behaviours the suite claims.
#
#   tools/mutants.sh [--tree DIR] [--list FILE] [--only GLOB...] [--no-units] [--keep]
#
# For each mutant in tools/mutants.list (see the head of that file): apply it
# to a scratch copy of the tree (its own build/ and bin/), rebuild
# incrementally, run the unit tests, then the conformance suite (stopped at
# the first failing case, which is rerun alone to rule out a timing flake),
# and restore the file. A mutant is "killed" when a unit test or a case
# fails, "survived" when everything passes, "build-broken" when it does not
# compile ("error" when the suite could not run; counted with them).
# Mutants in ref/core change client and mock alike: only a check
# that states the wire text itself can notice them.
#
# --tree DIR   the tree to mutate (default: this script's repository); it is
#              copied, never changed
# --list FILE  the mutant list (default: tools/mutants.list next to this script)
# --only 'GLOB...'  only mutants whose name matches one of these (blank-separated)
# --no-units   the conformance suite alone judges (what the suite itself catches)
# --keep       keep the scratch directory
# Exit status: 0 when the kill ratio is at least 90%, 1 below, 2 on errors.
# The whole script is one function, read before it runs: editing this file
# during a run (a run takes half an hour) cannot change the running one.
main() {
set -u
here=$(cd "$(dirname "$0")" && pwd)
tree=$(cd "$here/.." && pwd)
list="$here/mutants.list"
only='*'
keep=0
run_units=1
while [ $# -gt 0 ]; do
    case "$1" in
    --tree) tree=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --list) list=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --no-units) run_units=0; shift ;;
    *) echo "usage: $0 [--tree DIR] [--list FILE] [--only GLOB...] [--no-units] [--keep]" >&2; exit 2 ;;
    esac
done
[ -r "$list" ] || { echo "mutants: cannot read $list" >&2; exit 2; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/etsn-mutants.XXXXXX") || exit 2
work="$scratch/tree"
cleanup() { [ "$keep" = 1 ] && echo "scratch kept: $scratch" || rm -rf "$scratch"; }
trap cleanup EXIT
trap 'exit 2' INT TERM
mkdir -p "$work"
tar -C "$tree" --exclude=./build --exclude=./bin --exclude=./.git -cf - . | tar -C "$work" -xf -

build() { make -C "$work" -j2 all >"$scratch/build.log" 2>&1; }
units() { (cd "$work" && make --no-print-directory unit) >"$scratch/unit.log" 2>&1; }
# conform [extra args...]: the suite of the scratch tree. etsn-conform itself
# is the process started (absolute paths, no subshell), so that its PID is
# the one first_failure stops; it stops its own mocks and clients.
conform() {
    "$work/bin/etsn-conform" --client "$work/bin/etsn" --mockd "$work/bin/etsn-mockd" \
        --cases "$work/conformance/cases" --fixtures "$work/fixtures" "$@"
}

# Runs the suite, stops it at the first FAIL line; prints the failing case
# id, nothing when all passed, "error" when the suite neither failed a case
# nor ended with its summary.
first_failure() {
    local log pid
    log=$(mktemp "$scratch/conform.XXXXXX")
    conform >"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        if grep -q '^FAIL ' "$log"; then
            kill -TERM "$pid" 2>/dev/null
            break
        fi
        sleep 0.5
    done
    wait "$pid" 2>/dev/null
    if grep -q '^FAIL ' "$log"; then
        grep -m1 '^FAIL ' "$log" | cut -d' ' -f2
    elif ! grep -qE '^[0-9]+ passed, 0 failed' "$log"; then
        echo error
    fi
}

# killed-by text for the current mutant, empty when nothing noticed it, or
# "error: ..." when the suite could not say.
verdict_reason() {
    if [ "$run_units" = 1 ] && ! units; then
        echo "unit: $(grep -m1 'unit test failed' "$scratch/unit.log" | sed 's|.*/||') $(grep -m1 -E ':[FE]:' "$scratch/unit.log" | cut -d: -f1,2,4)"
        return
    fi
    local id try
    for try in 1 2; do
        id=$(first_failure)
        [ "$id" != error ] && break
    done
    if [ "$id" = error ]; then
        echo "error: the suite ended without a verdict twice"
        return
    fi
    if [ -n "$id" ]; then
        # A case can fail under load; it counts only if it fails alone too.
        if ! conform --filter "$id" >"$scratch/rerun.log" 2>&1; then
            echo "case $id"
            return
        fi
        conform >"$scratch/full.log" 2>&1
        for id in $(grep '^FAIL ' "$scratch/full.log" | cut -d' ' -f2); do
            if ! conform --filter "$id" >"$scratch/rerun.log" 2>&1; then
                echo "case $id"
                return
            fi
        done
    fi
}

# apply FILE FROM TO: replaces the one occurrence of FROM (exactly one).
apply() {
    python3 - "$work/$1" "$2" "$3" <<'EOF'
import sys
path, old, new = sys.argv[1], sys.argv[2].replace("{NL}", "\n"), sys.argv[3].replace("{NL}", "\n")
text = open(path, encoding="utf-8").read()
n = text.count(old)
if n != 1:
    sys.exit(f"{n} occurrences of the original text in {path}")
open(path, "w", encoding="utf-8").write(text.replace(old, new))
EOF
}

echo "mutants: baseline build and tests of $tree"
start=$(date +%s)
if ! build; then
    tail -n 20 "$scratch/build.log"
    echo "mutants: the unmutated tree does not build" >&2
    exit 2
fi
green=1
units || green=0
if [ "$green" = 1 ] && ! conform >"$scratch/baseline.log" 2>&1; then
    # Under load a timing-sensitive case can fail; it must pass alone.
    for id in $(grep '^FAIL ' "$scratch/baseline.log" | cut -d' ' -f2); do
        conform --filter "$id" >"$scratch/rerun.log" 2>&1 || green=0
    done
    grep -qE '^[0-9]+ passed' "$scratch/baseline.log" || green=0
fi
if [ "$green" = 0 ]; then
    grep -E '^FAIL|unit test failed' "$scratch/baseline.log" "$scratch/unit.log" 2>/dev/null
    echo "mutants: the unmutated tree is not green; fix that first" >&2
    exit 2
fi

# The list: blocks separated by blank lines; "mutant NAME", "file PATH",
# pairs of "from TEXT"/"to TEXT", "breaks TEXT", or "not-applicable TEXT".
killed=0 survived=0 broken=0 na=0 total=0
survivors=""
run_mutant() {
    local name=$1 file=$2 breaks=$3 na_reason=$4
    shift 4
    local g wanted=0
    set -f # the globs are for names, not files
    for g in $only; do
        case "$name" in $g) wanted=1 ;; esac
    done
    set +f
    [ "$wanted" = 1 ] || return 0
    if [ -n "$na_reason" ]; then
        na=$((na + 1))
        printf '%-34s not-applicable  %s\n' "$name" "$na_reason"
        return
    fi
    total=$((total + 1))
    cp -p "$work/$file" "$scratch/orig"
    local ok=1
    while [ $# -ge 2 ]; do
        if ! apply "$file" "$1" "$2" 2>"$scratch/apply.err"; then ok=0; fi
        shift 2
    done
    local t0 verdict reason=""
    t0=$(date +%s)
    if [ "$ok" = 0 ]; then
        verdict=list-error
        reason=$(cat "$scratch/apply.err")
        broken=$((broken + 1))
    elif ! build; then
        verdict=build-broken
        reason=$(grep -m1 'error:' "$scratch/build.log")
        broken=$((broken + 1))
    else
        reason=$(verdict_reason)
        if [ "${reason#error}" != "$reason" ]; then
            verdict=error
            broken=$((broken + 1))
        elif [ -n "$reason" ]; then
            verdict=killed
            killed=$((killed + 1))
        else
            verdict=SURVIVED
            reason="nothing noticed: $breaks"
            survived=$((survived + 1))
            survivors="$survivors $name"
        fi
    fi
    # Restore with a new mtime so that make rebuilds what the mutant built.
    cp "$scratch/orig" "$work/$file"
    touch "$work/$file"
    printf '%-34s %-12s %4ss  %s\n' "$name" "$verdict" $(($(date +%s) - t0)) "$reason"
}

name="" file="" breaks="" na_reason=""
pairs=()
flush() {
    [ -n "$name" ] && run_mutant "$name" "$file" "$breaks" "$na_reason" "${pairs[@]}"
    name="" file="" breaks="" na_reason=""
    pairs=()
}
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
    '#'*) ;;
    '') flush ;;
    'mutant '*) flush; name=${line#mutant } ;;
    'file '*) file=${line#file } ;;
    'from '*) pairs+=("${line#from }") ;;
    'to '*) pairs+=("${line#to }") ;;
    'to') pairs+=("") ;;
    'breaks '*) breaks=${line#breaks } ;;
    'not-applicable '*) na_reason=${line#not-applicable } ;;
    *) echo "mutants: $list: cannot read line: $line" >&2; exit 2 ;;
    esac
done <"$list"
flush

elapsed=$(($(date +%s) - start))
scored=$((killed + survived))
if [ "$scored" -gt 0 ]; then
    pct=$((100 * killed / scored))
else
    pct=0
fi
echo "killed $killed of $scored ($pct%), survived $survived, build-broken or error $broken," \
    "not applicable $na; $total mutants in ${elapsed}s"
[ -n "$survivors" ] && echo "survivors:$survivors"
[ "$pct" -ge 90 ] && exit 0
exit 1
}
main "$@"
