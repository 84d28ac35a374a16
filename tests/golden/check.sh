#!/usr/bin/env bash
# Golden tests of `evictd simulate`:
#  - every examples/scenarios/NAME.yaml must print exactly NAME.expected.jsonl (and run with -o text);
#  - every tests/golden/NAME.bad.yaml must exit 2 and print exactly NAME.expected.stderr.
# Run with UPDATE=1 to rewrite the expected files after an intended change (then review the diff).
set -uo pipefail
evictd=$(realpath "$1")
scenarios=$2
golden=$3
failures=0
checked=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for scenario in "$scenarios"/*.yaml; do
  name=$(basename "$scenario" .yaml)
  expected="$scenarios/$name.expected.jsonl"
  checked=$((checked + 1))
  if ! "$evictd" simulate "$scenario" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL $name: exit $? ($(cat "$tmp/err"))"; failures=$((failures + 1)); continue
  fi
  if [[ "${UPDATE:-}" == 1 ]]; then cp "$tmp/out" "$expected"; fi
  if ! diff -u "$expected" "$tmp/out"; then
    echo "FAIL $name: output differs from $expected"; failures=$((failures + 1)); continue
  fi
  if ! "$evictd" simulate --output text "$scenario" >"$tmp/text" 2>&1 || [[ ! -s "$tmp/text" ]]; then
    echo "FAIL $name: --output text failed"; failures=$((failures + 1)); continue
  fi
  echo "ok   $name"
done

for scenario in "$golden"/*.bad.yaml; do
  name=$(basename "$scenario" .bad.yaml)
  expected="$golden/$name.expected.stderr"
  checked=$((checked + 1))
  (cd "$golden" && "$evictd" simulate "$(basename "$scenario")" >"$tmp/out" 2>"$tmp/err")
  status=$?
  if [[ "${UPDATE:-}" == 1 ]]; then cp "$tmp/err" "$expected"; fi
  if [[ $status -ne 2 ]]; then
    echo "FAIL $name: exit $status, want 2"; failures=$((failures + 1)); continue
  fi
  if [[ -s "$tmp/out" ]] || ! diff -u "$expected" "$tmp/err"; then
    echo "FAIL $name: stderr differs from $expected (or stdout not empty)"; failures=$((failures + 1)); continue
  fi
  echo "ok   $name (exit 2)"
done

if "$evictd" simulate "$tmp/does-not-exist.yaml" >/dev/null 2>&1; then
  echo "FAIL missing file: exit 0"; failures=$((failures + 1))
fi
checked=$((checked + 1))

echo "$((checked - failures)) passed, $failures failed"
[[ $failures -eq 0 && $checked -gt 1 ]]
