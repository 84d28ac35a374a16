#!/usr/bin/env bash
# Bad input, as a hostile or mistaken operator gives it: every case must exit with its code and
# print exactly its one-line message (file, line where there is one, field, reason) on stderr and
# nothing on stdout, within 10 s and a 4 GiB address space — no crash, no hang, no exhausted heap.
# A configuration case is run through both `check-config` and `run --config`, which must agree.
# evictctl's usage errors exit 2 as documented, with CLI11's wording of the problem.
# Usage: bad-input.sh EVICTD EVICTCTL
set -uo pipefail
evictd=$(realpath "$1")
evictctl=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
failures=0
checked=0

# The inputs.
mkdir adir
mkfifo fifo
head -c $((5 << 20)) /dev/zero | tr '\0' '#' >big.yaml
printf 'nodeName: "evil/../../namespaces/x?y=1&z"\nnodeConditions: true\n' >evil-node.yaml
printf 'nodeName: %s\n' "$(head -c 5000 /dev/zero | tr '\0' a)" >long-node.yaml
printf 'nodeName: Node_1\n' >upper-node.yaml
printf 'nodeName: n1\nkubeletConfigFile: adir\n' >kubelet-dir.yaml
printf 'nodeName: n1\nkubeletConfigFile: /dev/zero\n' >kubelet-zero.yaml
printf 'nodeName: n1\nmonitoringIntervall: 5s\n' >unknown-field.yaml
printf 'nodeName: n1\neviction:\n\tevictionHard: {memory.available: 1Gi}\n' >tab.yaml
printf 'nodeName: n1\neviction:\n  evictionHard: {memory.available: 100MB}\n' >megabytes.yaml
printf 'nodeName: n1\neviction:\n  evictionHard: {memory.availble: 100Mi}\n' >signal-typo.yaml
printf 'nodeName: n1\neviction: [unclosed\n' >syntax.yaml
printf 'nodeName: n1\nmetricsAddress: 127.0.0.1:70000\n' >port.yaml
printf 'nodeName: n1\nmetricsAddress: nohost\n' >nohost.yaml
printf 'nodeName: n1\nnodeName: n2\n' >twice.yaml
printf 'nodeName: n1\neviction: %s\n' "$(head -c 100000 /dev/zero | tr '\0' '[')" >deep.yaml
printf 'config: {}\nsteps: %s\n' "$(head -c 100000 /dev/zero | tr '\0' '[')" >deep-scenario.yaml
printf 'nodeName: n1\nstatusSocketGroup: no-such-group\n' >group.yaml
kubeconfig() {  # server, extra cluster fields
  printf 'current-context: c\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n'
  printf 'clusters: [{name: c, cluster: {server: "%s"%s}}]\nusers: [{name: u, user: {token: t}}]\n' "$1" "$2"
}
kubeconfig http://127.0.0.1:6443 "" >kc-http
kubeconfig https://127.0.0.1:6443 ", insecure-skip-tls-verify: true" >kc-insecure
kubeconfig https://127.0.0.1:6443 ", certificate-authority: missing-ca.crt" >kc-ca
printf 'garbage: [unclosed\n' >kc-garbage
for kc in kc-http kc-insecure kc-ca kc-garbage kc-missing; do
  printf 'nodeName: n1\nkubeconfig: %s\n' "$kc" >"$kc.yaml"
done

# name | the file | exit | stderr (paths relative to the directory the cases run in)
config_cases=(
  "a directory|adir|2|cannot read the configuration adir: is a directory, not a regular file"
  "/dev/zero|/dev/zero|2|cannot read the configuration /dev/zero: is a device, not a regular file"
  "/dev/urandom|/dev/urandom|2|cannot read the configuration /dev/urandom: is a device, not a regular file"
  "a FIFO|fifo|2|cannot read the configuration fifo: is a FIFO, not a regular file"
  "a missing file|missing.yaml|2|cannot read the configuration missing.yaml: cannot open: No such file or directory"
  "a 5 MiB file|big.yaml|2|cannot read the configuration big.yaml: is larger than 4194304 bytes"
  "a node name with a path and a query|evil-node.yaml|2|evil-node.yaml:1: nodeName: must be a DNS subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit), not \"evil/../../namespaces/x?y=1&z\""
  "a 5000-character node name|long-node.yaml|2|long-node.yaml:1: nodeName: is 5000 characters long; a name has at most 253"
  "a node name with capitals|upper-node.yaml|2|upper-node.yaml:1: nodeName: must be a DNS subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit), not \"Node_1\""
  "kubeletConfigFile naming a directory|kubelet-dir.yaml|2|kubelet-dir.yaml:2: kubeletConfigFile: cannot read adir: is a directory, not a regular file"
  "kubeletConfigFile naming /dev/zero|kubelet-zero.yaml|2|kubelet-zero.yaml:2: kubeletConfigFile: cannot read /dev/zero: is a device, not a regular file"
  "an unknown field|unknown-field.yaml|2|unknown-field.yaml:2: monitoringIntervall: unknown field (did you mean \"monitoringInterval\"?); the fields are nodeName, kubeconfig, eviction, kubeletConfigFile, pressureSignals, cgroupDriver, kubepods, containerRuntimeEndpoint, podSandboxImage, nodefsPath, monitoringInterval, pressureNotifications, memoryGrowthBound, imageMinimumGCAge, evictedPodMetricRetention, softEvictionMode, postEvictionWatch, dryRun, nodeConditions, podMetrics, stateDirectory, metricsAddress, statusSocket, statusSocketGroup, statusAddress, logLevel"
  "a tab in the indentation|tab.yaml|2|tab.yaml:3: a tab in the indentation: YAML indents with spaces only"
  "a size in megabytes|megabytes.yaml|2|megabytes.yaml:3: eviction.evictionHard[memory.available]: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)\$'; Kubernetes quantities have no \"B\": use 100M (10^6 bytes each) or 100Mi (2^20): \"100MB\""
  "a misspelt signal|signal-typo.yaml|2|signal-typo.yaml:3: eviction.evictionHard[memory.availble]: unsupported eviction signal memory.availble (did you mean \"memory.available\"?); the signals are memory.available, allocatableMemory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree, containerfs.available, containerfs.inodesFree, pid.available"
  "a metrics port above 65535|port.yaml|2|port.yaml:2: metricsAddress: 127.0.0.1:70000: the port must be a number up to 65535, not 70000"
  "a metrics address without a port|nohost.yaml|2|nohost.yaml:2: metricsAddress: nohost: not :PORT, IPv4:PORT, [IPv6]:PORT or localhost:PORT"
  "a key given twice|twice.yaml|2|twice.yaml:2: nodeName: given twice"
  "100 000 levels of nesting|deep.yaml|2|deep.yaml:2: eviction: nested more than 500 levels deep"
  "an unknown socket group|group.yaml|2|group.yaml:2: statusSocketGroup: no group named \"no-such-group\""
  "an http:// kubeconfig|kc-http.yaml|2|kc-http.yaml:2: kubeconfig: kc-http: clusters[c].server: must be https:// (TLS is always on), not http://127.0.0.1:6443"
  "insecure-skip-tls-verify|kc-insecure.yaml|2|kc-insecure.yaml:2: kubeconfig: kc-insecure: clusters[c].insecure-skip-tls-verify: evictd always verifies the API server's certificate"
  "a kubeconfig naming a missing CA|kc-ca.yaml|2|kc-ca.yaml:2: kubeconfig: kc-ca: certificate-authority: missing-ca.crt: cannot open: No such file or directory"
  "a kubeconfig that does not parse|kc-garbage.yaml|2|kc-garbage.yaml:2: kubeconfig: kc-garbage:2: end of sequence flow not found"
  "a missing kubeconfig|kc-missing.yaml|2|kc-missing.yaml:2: kubeconfig: cannot read the kubeconfig kc-missing: cannot open: No such file or directory"
)
scenario_cases=(
  "a directory|adir|2|cannot read the scenario adir: is a directory, not a regular file"
  "/dev/zero|/dev/zero|2|cannot read the scenario /dev/zero: is a device, not a regular file"
  "a FIFO|fifo|2|cannot read the scenario fifo: is a FIFO, not a regular file"
  "100 000 levels of nesting|deep-scenario.yaml|2|deep-scenario.yaml:2: steps: nested more than 500 levels deep"
)

# evictctl | arguments | a part of the message (CLI11 words it)
evictctl_cases=(
  "-o yaml status|--output: yaml not in {table,json}"
  "|A subcommand is required"
  "pods --signal|--signal: 1 required"
  "evictions --limit -1|--limit: must be positive, not -1"
  "evictions --limit 0|--limit: must be positive, not 0"
  "--timeout 0 status|--timeout: must be positive, not 0"
  "watch --resume e:x|--resume: expected EPOCH:SEQUENCE (a number), not \"e:x\""
  "watch --resume e:-1|--resume: expected EPOCH:SEQUENCE (a number), not \"e:-1\""
  "stauts|evictctl: unknown command \"stauts\" (did you mean \"status\"?); the commands are status, pods, explain, evictions, watch"
  "status -o yaml|--output: yaml not in {table,json}"
  "--address 10.0.0.1:9852 status|--address: must be a loopback host:port (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), not 10.0.0.1:9852"
)

# evictd's own command line: a misspelt command is named with what it likely meant.
evictd_cases=(
  "chek-config x.yaml|evictd: unknown command \"chek-config\" (did you mean \"check-config\"?); the commands are version, simulate, check-config, run"
  "simulat x.yaml|evictd: unknown command \"simulat\" (did you mean \"simulate\"?)"
  "frobnicate|evictd: unknown command \"frobnicate\"; the commands are version, simulate, check-config, run"
)

# Runs the program with the arguments and checks the outcome against the case: the exit code,
# nothing on stdout, and stderr exactly (or containing `want_part`, with `contains`).
check() {
  local what=$1 want_exit=$2 want_err=$3
  shift 3
  run_and_judge "$what" "$want_exit" "$want_err" exact "$evictd" "$@"
}
run_and_judge() {
  local what=$1 want_exit=$2 want_err=$3 how=$4
  shift 4
  checked=$((checked + 1))
  (ulimit -v 4194304 && exec timeout 10 "$@") >out 2>err </dev/null
  local status=$?
  local problem=""
  if [[ $status -eq 124 ]]; then
    problem="hung (killed after 10 s)"
  elif [[ $status -ne $want_exit ]]; then
    problem="exit $status, want $want_exit"
  elif [[ -s out ]]; then
    problem="printed on stdout: $(head -c 200 out)"
  elif [[ $how == exact && "$(cat err)" != "$want_err" ]] ||
    [[ $how == contains && "$(cat err)" != *"$want_err"* ]]; then
    problem="stderr: $(head -c 400 err)
       want: $want_err"
  fi
  if [[ -n $problem ]]; then
    echo "FAIL $what: $problem"
    failures=$((failures + 1))
  else
    echo "ok   $what (exit $status)"
  fi
}

for entry in "${config_cases[@]}"; do
  IFS='|' read -r name file want_exit want_err <<<"$entry"
  check "check-config: $name" "$want_exit" "$want_err" check-config "$file"
  check "run: $name" "$want_exit" "$want_err" run --config "$file"
done
for entry in "${scenario_cases[@]}"; do
  IFS='|' read -r name file want_exit want_err <<<"$entry"
  check "simulate: $name" "$want_exit" "$want_err" simulate "$file"
done

for entry in "${evictctl_cases[@]}"; do
  IFS='|' read -r args want_part <<<"$entry"
  # shellcheck disable=SC2086 # the arguments are words
  run_and_judge "evictctl $args" 2 "$want_part" contains "$evictctl" --socket "$tmp/none.sock" $args
done

for entry in "${evictd_cases[@]}"; do
  IFS='|' read -r args want_part <<<"$entry"
  # shellcheck disable=SC2086 # the arguments are words
  run_and_judge "evictd $args" 2 "$want_part" contains "$evictd" $args
done

echo "$((checked - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
