#!/usr/bin/env bash
# The systemd unit: `systemd-analyze verify` accepts it (with ExecStart pointing at the binary just
# built), and `systemd-analyze security --offline=true` rates its exposure at most 3.0 ("OK").
# Usage: check-unit.sh UNIT EVICTD_BINARY
set -euo pipefail
unit=$1
binary=$2
dir=$(mktemp -d /tmp/evictd-unit-XXXXXX)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/bin/evictd|$binary|g" "$unit" > "$dir/evictd.service"
systemd-analyze verify "$dir/evictd.service"
report=$(systemd-analyze security --offline=true "$dir/evictd.service" 2>&1)
exposure=$(grep -o 'Overall exposure level for evictd.service: [0-9.]*' <<<"$report" | awk '{print $NF}')
if [[ -z "$exposure" ]]; then
  echo "no exposure level in:" >&2
  echo "$report" >&2
  exit 1
fi
echo "exposure $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }' || { echo "exposure $exposure > 3.0" >&2; exit 1; }
# Type=notify with the watchdog: the daemon must ping it, so the unit must ask for it.
grep -q '^Type=notify$' "$unit"
grep -q '^WatchdogSec=' "$unit"
echo "unit OK"
