#!/bin/sh
# Checks that every conformance case cites only what a reader of the repository
# can open (docs/sources.md, "How to cite"; docs/conformance.md, "Citations").
#
#   tools/check-sources.sh                 all of conformance/cases/*.case
#   tools/check-sources.sh FILE...         these case files
#   tools/check-sources.sh --self-test     proves the check fails on bad cases
#
# In [source] and [requirement] it fails on: `issue N`; a *.md or *.txt name
# not under docs/; a docs/X.md that does not exist, or `docs/X.md, Heading`
# whose heading is not one of X.md's; a PowerShell *.cs or *.resx not listed in
# docs/sources.md; an `MS-PSRP N.N` / `MS-WSMV N.N` section not listed there.
# Each `;`-separated citation of [source] must also start with a document
# short name of docs/sources.md, a PowerShell file, docs/X.md or a repository
# path that exists. In the rest of the tree (docs, C comments, fixtures, tools)
# it fails on any mention of the private developer notes and on an MS-PSRP or
# MS-WSMV section that docs/sources.md does not list. Exit 0 when all hold, 1
# with one line per offence.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)

check() {
    awk -v root="$root" -v sources="$root/docs/sources.md" '
    function fail(msg) { printf "%s: %s\n", cur, msg; bad++ }
    function exists(p,   line, r) {
        r = (getline line < p); close(p)
        return r >= 0
    }
    function load_sources(   line, insec, s, m) {
        if (!exists(sources)) { printf "check-sources: %s missing\n", sources; exit 2 }
        while ((getline line < sources) > 0) {
            if (line ~ /^## Documents/) insec = 1
            else if (line ~ /^##/) insec = 0
            if (insec && match(line, /^\| `[^`]+` \|/)) {
                s = substr(line, 4, RLENGTH - 6); shortname[s] = 1
            }
            s = line
            while (match(s, /`[^`]+`/)) {
                m = substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH)
                if (m ~ /^MS-(PSRP|WSMV) [0-9]+(\.[0-9]+)*$/) section[m] = 1
                if (m ~ /^src\/.*\.(cs|resx)$/) {
                    pspath[m] = 1; n = split(m, parts, "/"); psbase[parts[n]] = 1
                }
            }
        }
        close(sources)
    }
    function headings(f,   line, h) {
        if (f in loaded) return
        loaded[f] = 1
        while ((getline line < (root "/" f)) > 0) {
            if (line !~ /^#+ /) continue
            h = line; sub(/^#+ +/, "", h); sub(/ +$/, "", h); heading[f SUBSEP h] = 1
            # "Engine (mockserver/engine.h)" may be cited as "Engine".
            if (sub(/ \([^()]*\)$/, "", h)) heading[f SUBSEP h] = 1
        }
        close(root "/" f)
    }
    # Checks that hold anywhere in [source] and [requirement].
    function check_text(where, t,   s, tok, rest, sect, n, parts) {
        s = t
        while (match(s, /[Ii]ssue #?[0-9]+/)) {
            fail(where ": \"" substr(s, RSTART, RLENGTH) "\" cannot be resolved by a reader; cite the document or docs/ section instead")
            s = substr(s, RSTART + RLENGTH)
        }
        s = t
        while (match(s, /[A-Za-z0-9_.\/-]*[A-Za-z0-9_]\.(md|txt)/)) {
            tok = substr(s, RSTART, RLENGTH); rest = substr(s, RSTART + RLENGTH)
            s = rest
            if (tok !~ /^docs\/[^\/]+\.md$/) {
                fail(where ": \"" tok "\" is not a file under docs/ (private notes and other files cannot be cited)")
                continue
            }
            if (!exists(root "/" tok)) { fail(where ": " tok " does not exist"); continue }
            if (substr(rest, 1, 2) == ", ") {
                sect = substr(rest, 3)
                if (match(sect, /[():;"]| — /)) sect = substr(sect, 1, RSTART - 1)
                sub(/ +$/, "", sect)
                headings(tok)
                if (!((tok SUBSEP sect) in heading))
                    fail(where ": \"" sect "\" is not a heading of " tok)
            }
        }
        s = t
        while (match(s, /[A-Za-z0-9_.\/-]*[A-Za-z0-9_]\.(cs|resx)([^A-Za-z0-9_]|$)/)) {
            tok = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
            sub(/[^A-Za-z0-9_]$/, "", tok)
            if (tok ~ /^src\//) {
                if (!(tok in pspath)) fail(where ": PowerShell file " tok " is not listed in docs/sources.md")
            } else {
                n = split(tok, parts, "/")
                if (!(parts[n] in psbase)) fail(where ": PowerShell file " parts[n] " is not listed in docs/sources.md")
            }
        }
        s = t
        while (match(s, /MS-(PSRP|WSMV) [0-9]+(\.[0-9]+)*/)) {
            tok = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
            if (!(tok in section)) fail(where ": " tok " is not in the section list of docs/sources.md")
        }
    }
    # One citation of [source]: it must start with something a reader can open.
    function check_item(it,   name, p) {
        if (it ~ /^docs\//) return
        if (it ~ /^PowerShell src\//) return
        if (it ~ /^[A-Za-z0-9_]+\.(cs|resx)([ ,(]|$)/) return
        if (match(it, /^(ref|mockserver|conformance|fixtures|tools)\/[^ ,;()]+/)) {
            p = substr(it, 1, RLENGTH)
            if (!exists(root "/" p)) fail("[source]: repository file " p " does not exist")
            return
        }
        for (name in shortname) {
            if (substr(it, 1, length(name)) == name) {
                p = substr(it, length(name) + 1, 1)
                if (p == "" || p == " " || p == ",") return
            }
        }
        fail("[source]: \"" it "\" does not start with a document of docs/sources.md, a PowerShell file, docs/X.md or a repository path")
    }
    function finish(   i, c, depth, item, n) {
        if (cur == "") return
        gsub(/[ \t]+/, " ", req); gsub(/[ \t]+/, " ", src)
        check_text("[requirement]", req)
        check_text("[source]", src)
        depth = 0; item = ""; n = length(src)
        for (i = 1; i <= n + 1; i++) {
            c = (i <= n) ? substr(src, i, 1) : ";"
            if (c == "(") depth++
            if (c == ")" && depth > 0) depth--
            if (c == ";" && depth == 0) {
                sub(/^ +/, "", item); sub(/ +$/, "", item)
                if (item != "") check_item(item)
                item = ""
            } else item = item c
        }
    }
    BEGIN { load_sources(); cur = "" }
    FNR == 1 {
        finish(); cur = FILENAME; sec = ""; req = ""; src = ""
        if (index(cur, root "/") == 1) cur = substr(cur, length(root) + 2)
    }
    /^\[[a-z0-9-]+\]$/ { sec = $0; next }
    sec == "[source]" { src = src " " $0 }
    sec == "[requirement]" { req = req " " $0 }
    END { finish(); if (bad) { printf "check-sources: %d citation(s) a reader cannot resolve\n", bad; exit 1 } }
    ' "$@"
}

# Private developer notes must not be cited anywhere in the tree (docs,
# comments, fixtures, tools): a reader cannot open them.
private_notes='powershell-behaviour|enter-pssession\.txt|auth-and-transport-notes|oracles\.md|mock-replay-design|performance-notes|shared/spec/'
check_tree() {
    tree="README.md Makefile docs ref mockserver conformance tools fixtures"
    bad=0
    hits=$(cd "$1" && grep -rnIE "$private_notes" $tree 2>/dev/null | grep -v '^tools/check-sources\.sh:' || true)
    if [ -n "$hits" ]; then
        printf '%s\n' "$hits" | sed 's/$/  <- cites a private note/'
        bad=1
    fi
    # Every MS-PSRP / MS-WSMV section named anywhere is one docs/sources.md lists.
    hits=$(cd "$1" && grep -rnoIE 'MS-(PSRP|WSMV) [0-9]+(\.[0-9]+)*' $tree 2>/dev/null |
        grep -v '^tools/check-sources\.sh:\|^docs/sources\.md:' || true)
    for h in $(printf '%s\n' "$hits" | sed 's/ /@/g'); do
        sec=$(printf '%s' "${h##*:}" | sed 's/@/ /g')
        if ! grep -qF "\`$sec\`" "$root/docs/sources.md"; then
            echo "${h%:*}: $sec is not in the section list of docs/sources.md"
            bad=1
        fi
    done
    if [ $bad != 0 ]; then
        echo "check-sources: citations in the tree a reader cannot resolve"
        return 1
    fi
}

self_test() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-sources.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    mk() { printf '[id]\n%s\n[requirement]\n%s\n[source]\n%s\n[fixture]\nplain-session.xml\n' \
        "$1" "$2" "$3" >"$tmp/$1.case"; }
    status=0
    mk good '"exit" -- Enter-PSSession reference page, Description' \
        'Enter-PSSession reference page, Example 5; MS-PSRP 3.1.5.3.9 wxf:Signal;
RunspaceRef.cs CreatePipeline; RemotingErrorIdStrings.resx RemoteHostReadLineAsSecureStringPrompt;
docs/host.md, Output modes (PSStyle.cs); docs/mockd.md, Engine (Receive); ref/client/session.c;
PowerShell src/System.Management.Automation/engine/remoting/client/RunspaceRef.cs'
    if ! out=$(check "$tmp/good.case"); then echo "self-test: good case rejected: $out"; status=1; fi
    n=0
    # bad NAME REQUIREMENT SOURCE REASON: the case must fail, and for REASON.
    bad() {
        n=$((n + 1))
        mk "$1" "$2" "$3"
        if out=$(check "$tmp/$1.case"); then
            echo "self-test: bad case '$1' passed"; status=1
        elif ! printf '%s\n' "$out" | grep -qF -- "$4"; then
            echo "self-test: bad case '$1' failed, but not with \"$4\": $out"; status=1
        fi
    }
    bad private x 'powershell-behaviour.md, Leaving' '"powershell-behaviour.md" is not a file under docs/'
    bad txt 'x -- enter-pssession.txt Example 2' 'Enter-PSSession reference page, Example 2' \
        '[requirement]: "enter-pssession.txt" is not a file under docs/'
    bad issue x 'Enter-PSSession reference page, -UseSSL; issue 3' '"issue 3" cannot be resolved'
    bad nodoc x 'docs/nowhere.md' 'docs/nowhere.md does not exist'
    bad heading x 'docs/host.md, Line editing' '"Line editing" is not a heading of docs/host.md'
    bad reqheading 'x (docs/host.md, No such heading: y)' 'docs/host.md' \
        '[requirement]: "No such heading" is not a heading of docs/host.md'
    bad psfile x 'Unlisted.cs Method' 'PowerShell file Unlisted.cs is not listed'
    bad resx 'x (NotThere.resx Name)' 'docs/host.md' 'PowerShell file NotThere.resx is not listed'
    bad pspath x 'PowerShell src/Elsewhere/ConsoleHost.cs' \
        'PowerShell file src/Elsewhere/ConsoleHost.cs is not listed'
    bad section x 'MS-PSRP 9.9.9 Nothing' 'MS-PSRP 9.9.9 is not in the section list'
    bad unknown x 'Some Blog, part 2' '"Some Blog, part 2" does not start with a document'
    bad repofile x 'ref/client/no_such_file.c' 'repository file ref/client/no_such_file.c does not exist'
    mkdir -p "$tmp/tree/docs"
    echo 'See powershell-behaviour.md, Leaving.' >"$tmp/tree/docs/x.md"
    if out=$(check_tree "$tmp/tree") || ! printf '%s\n' "$out" | grep -qF 'x.md:1:See powershell-behaviour.md'; then
        echo "self-test: a private note cited in docs/ was not reported: $out"; status=1
    fi
    echo '/* MS-PSRP 2.2.4 and MS-PSRP 9.8.7 */' >"$tmp/tree/docs/x.md"
    if out=$(check_tree "$tmp/tree") || ! printf '%s\n' "$out" | grep -qF 'docs/x.md:1: MS-PSRP 9.8.7 is not in' ||
        printf '%s\n' "$out" | grep -qF '2.2.4 is not'; then
        echo "self-test: an unlisted MS-PSRP section in docs/ was not reported alone: $out"; status=1
    fi
    [ $status = 0 ] && echo "check-sources self-test: a good case passes, $n bad cases and 2 bad citations in docs/ fail, each for its reason"
    return $status
}

if [ "${1:-}" = "--self-test" ]; then
    self_test
    exit $?
fi
if [ $# -eq 0 ]; then
    set -- "$root"/conformance/cases/*.case
fi
n=$#
check "$@"
check_tree "$root"
echo "sources: the $n case files cite only what docs/sources.md and docs/ resolve; no private notes or unlisted MS-PSRP/MS-WSMV sections in the tree"
