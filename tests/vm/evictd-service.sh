#!/usr/bin/env bash
# evictd.service under a real systemd: run inside the real-kernel lab's v2-systemd mode
# (tests/vm/run --mode v2-systemd -- tests/vm/evictd-service.sh BUILD_DIR), as an operator installs
# it: the binaries in /usr/bin, the unit as shipped, containerd's own unit, the systemd cgroup
# driver's kubepods.slice. Checks, each failing loudly:
#   - Type=notify: `systemctl start` returns once evictd said READY=1, with its STATUS= line;
#   - evictd locks itself in memory under the unit's memlock limit, with CAP_SYS_RESOURCE alone;
#   - the unit's hardening leaves sampling, the CRI and the status socket working (evictctl status);
#   - structured journal fields, read back with `journalctl -o json`;
#   - `systemctl reload` refuses a bad file and keeps running, then applies a good one;
#   - the watchdog: a stopped evictd (SIGSTOP) is killed and restarted after WatchdogSec;
#   - `systemctl stop` ends it cleanly.
set -euo pipefail
build=$(realpath "$1")
source_dir=$(realpath "$(dirname "$0")/../..")
step() { echo "== $*"; }
fail() {
  echo "FAILED: $*"
  journalctl -u evictd --no-pager -n 40 || true
  exit 1
}
# Polls `condition` (a command) every 200 ms for up to `seconds`.
wait_for() {
  local seconds=$1
  shift
  for ((i = 0; i < seconds * 5; i++)); do
    if "$@"; then return 0; fi
    sleep 0.2
  done
  return 1
}
property() { systemctl show -p "$1" --value evictd; }

step "PID 1 is $(cat /proc/1/comm), cgroup $(stat -f -c %T /sys/fs/cgroup)"
[[ $(cat /proc/1/comm) == systemd ]] || fail "PID 1 is not systemd"
[[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]] || fail "/sys/fs/cgroup is not the unified hierarchy"

step "install as an operator would"
install -m 0755 "$build/daemon/evictd" "$build/daemon/evictctl" /usr/bin/
install -m 0644 "$source_dir/systemd/evictd.service" /etc/systemd/system/evictd.service
# The kubelet with cgroupDriver: systemd makes these (transient units under /run/systemd/transient).
cat >/etc/systemd/system/kubepods.slice <<'UNIT'
[Slice]
MemoryMax=600M
UNIT
for tier in burstable besteffort; do printf '[Slice]\n' >"/etc/systemd/system/kubepods-$tier.slice"; done
mkdir -p /etc/evictd
cat >/etc/evictd/config.yaml <<'YAML'
nodeName: lab-node
cgroupDriver: systemd
eviction:
  evictionHard: {memory.available: "100Mi"}
YAML
systemctl daemon-reload
systemctl start kubepods.slice kubepods-burstable.slice kubepods-besteffort.slice
systemctl start containerd || fail "containerd did not start"

step "systemctl start evictd (Type=notify)"
systemctl start evictd || fail "systemctl start evictd"
[[ $(property ActiveState)/$(property SubState) == active/running ]] ||
  fail "evictd is $(property ActiveState)/$(property SubState)"
status_text=$(property StatusText)
echo "StatusText: $status_text"
[[ -n $status_text ]] || fail "no STATUS= line"

step "locked in memory under the unit's limits, with no capability for it"
pid=$(property MainPID)
locked_kb=$(awk '/^VmLck:/ {print $2}' "/proc/$pid/status")
[[ $locked_kb -gt 0 ]] || fail "evictd locked nothing (VmLck $locked_kb kB): $(journalctl -u evictd --no-pager | grep -i 'memory' | tail -3)"
capabilities=$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")
[[ $capabilities == 0000000001000000 ]] || fail "evictd runs with CapEff $capabilities, not CAP_SYS_RESOURCE alone"
echo "VmLck ${locked_kb} kB, CapEff $capabilities"

step "evictctl status through the unit's socket, under its hardening"
socket_mode=$(stat -c %a /run/evictd/evictd.sock)
[[ $socket_mode == 660 ]] || fail "the status socket is mode $socket_mode, not 660"
wait_for 10 bash -c 'evictctl status | grep -q "Runtime: .*  connected"' ||
  fail "the runtime is not connected: $(evictctl status 2>&1)"
status=$(evictctl status)
echo "$status"
grep -q "Cgroups:       v2, systemd driver" <<<"$status" ||
  fail "evictctl status does not show the systemd layout"
grep -q "memory.available" <<<"$status" || fail "no memory.available observation"
# 100Mi on the lab's 3 GiB guest is within reach of the kernel's watermarks: named, with a value.
grep -q "Warning:       memory.available < 100Mi (hard) leaves .* Use at least [0-9]*Mi" <<<"$status" ||
  fail "evictctl status does not name the threshold the kernel's watermarks make too late"
journalctl -u evictd --no-pager | grep -q "warning: memory.available < 100Mi" ||
  fail "check-config (ExecStartPre) did not say it in the journal"
grep -q "psi trigger kubepods: /sys/fs/cgroup/kubepods.slice/memory.pressure" <<<"$status" ||
  fail "the PSI trigger on kubepods.slice was not armed under the unit's hardening"

step "structured journal fields (journalctl -o json)"
journalctl -u evictd -o json --no-pager | python3 -c '
import json, sys
entries = [json.loads(line) for line in sys.stdin]
started = [e for e in entries if e.get("MESSAGE", "").startswith("evictd ") and "started" in e["MESSAGE"]]
assert started, "no start line in the journal"
entry = started[-1]
for field, expected in {"SYSLOG_IDENTIFIER": "evictd", "NODE": "lab-node", "CGROUPS": "v2", "PRIORITY": "6"}.items():
    assert entry.get(field) == expected, f"{field}={entry.get(field)!r}, not {expected!r}"
print("start entry:", {k: entry[k] for k in ("MESSAGE", "NODE", "CGROUPS", "MODE", "PRIORITY")})
' || fail "journal fields"

step "systemctl reload: a bad file is refused, a good one applied"
echo "monitoringIntervall: 5s" >>/etc/evictd/config.yaml
systemctl reload evictd
wait_for 10 bash -c 'journalctl -u evictd --no-pager | grep -q "reload refused"' ||
  fail "the bad file was not refused"
[[ $(property ActiveState) == active ]] || fail "a bad file stopped evictd"
sed -i 's/^monitoringIntervall: 5s$/logLevel: debug/' /etc/evictd/config.yaml
systemctl reload evictd
wait_for 10 bash -c 'journalctl -u evictd --no-pager | grep -q "configuration reloaded"' ||
  fail "the good file was not applied"

step "the watchdog restarts a stopped evictd"
pid=$(property MainPID)
kill -STOP "$pid"
stopped_at=$(date +%s)
wait_for 30 bash -c "[[ \$(systemctl show -p MainPID --value evictd) != $pid && \$(systemctl show -p ActiveState --value evictd) == active ]]" ||
  fail "evictd (PID $pid, stopped) was not restarted"
echo "restarted $(($(date +%s) - stopped_at)) s after SIGSTOP as PID $(property MainPID), NRestarts=$(property NRestarts)"
journalctl -u evictd --no-pager | grep -q "Watchdog timeout" || fail "systemd did not say why"

step "systemctl stop"
systemctl stop evictd
[[ $(property ActiveState) == inactive ]] || fail "evictd is $(property ActiveState) after stop"
[[ ! -e /run/evictd/evictd.sock ]] || fail "the status socket outlived the service"

# Uninstalled, so that the package test that follows in the same boot finds a clean node.
rm -f /usr/bin/evictd /usr/bin/evictctl /etc/systemd/system/evictd.service
rm -rf /etc/evictd /var/lib/evictd
systemctl daemon-reload
echo "evictd.service under systemd: OK"
