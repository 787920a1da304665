#!/usr/bin/env bash
# Copies the machine line and the table of a benchmark results file into the README, between
# the markers `<!-- bench table: start -->` and `<!-- bench table: end -->`.
#
#   deploy/bench/readme-table.sh RESULTS README
set -euo pipefail
results="${1:?results file}"
readme="${2:?README file}"
for marker in '<!-- bench table: start -->' '<!-- bench table: end -->'; do
    grep -qxF "$marker" "$readme" || { echo "readme-table: no line '$marker' in $readme" >&2; exit 1; }
done
block="$(awk '/^Measured / && !machine { machine = $0; next }
              /^\|/ { table = table $0 "\n"; in_table = 1; next }
              in_table { exit }
              END { if (machine == "" || table == "") exit 1; printf "%s\n\n%s", machine, table }' "$results")" \
    || { echo "readme-table: no machine line and table in $results" >&2; exit 1; }
tmp="$(mktemp "$readme.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
BLOCK="$block" awk '
    $0 == "<!-- bench table: start -->" { print; print ""; print ENVIRON["BLOCK"]; print ""; skip = 1; next }
    $0 == "<!-- bench table: end -->" { skip = 0 }
    !skip { print }' "$readme" >"$tmp"
# mktemp makes the file private; the README keeps the mode it had.
chmod --reference="$readme" "$tmp"
mv "$tmp" "$readme"
