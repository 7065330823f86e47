#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# msgwctl host check|prepare on a fixture host tree (--root): exit status,
# text and JSON, --dry-run, a real run writing the tree's files, and a
# second run with nothing to do. The checks themselves: host_unit.
set -u
msgwctl=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
expect() {  # description, expected rc, actual rc
  if [[ $2 != "$3" ]]; then echo "FAIL: $1 (exit $3, wanted $2)"; fail=1; else echo "ok: $1"; fi
}
has() {  # file, fixed string
  grep -qF -- "$2" "$1" || { echo "FAIL: no '$2' in:"; cat "$1"; fail=1; }
}

# One NUMA node (CPUs 0-3) without hugepages, hugetlbfs mounted, an IOMMU,
# NIC 0000:03:00.0 on ixgbe (interface enp3s0f0), vfio-pci loaded.
h=$tmp/host
node=$h/sys/devices/system/node/node0
mkdir -p "$node/hugepages/hugepages-2048kB" "$h/proc/net" "$h/sys/class/iommu/dmar0" \
  "$h/sys/bus/pci/drivers/ixgbe" "$h/sys/bus/pci/drivers/vfio-pci" "$h/sys/kernel/iommu_groups/17/devices" \
  "$h/sys/bus/pci/devices/0000:03:00.0/net/enp3s0f0"
echo 0 >"$node/hugepages/hugepages-2048kB/nr_hugepages"
echo 0 >"$node/hugepages/hugepages-2048kB/free_hugepages"
echo 0-3 >"$node/cpulist"
for c in 0 1 2 3; do mkdir -p "$h/sys/devices/system/cpu/cpu$c"; ln -s "$node" "$h/sys/devices/system/cpu/cpu$c/node0"; done
echo "ro quiet" >"$h/proc/cmdline"
echo "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0" >"$h/proc/mounts"
printf 'Hugepagesize:       2048 kB\n' >"$h/proc/meminfo"
printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' >"$h/proc/net/route"
touch "$h/sys/bus/pci/drivers/ixgbe/unbind" "$h/sys/bus/pci/drivers/vfio-pci/bind" "$h/sys/kernel/iommu_groups/17/devices/0000:03:00.0"
dev=$h/sys/bus/pci/devices/0000:03:00.0
echo "(null)" >"$dev/driver_override"
echo 0 >"$dev/numa_node"
ln -s "$h/sys/bus/pci/drivers/ixgbe" "$dev/driver"
ln -s "$h/sys/kernel/iommu_groups/17" "$dev/iommu_group"
cat >"$tmp/nic.toml" <<'TOML'
[dataplane]
main_lcore = 0
worker_lcores = [2]
memory_mb = 512
hugepages = "on"
[[port]]
name = "access"
pci = "0000:03:00.0"
address = "10.10.0.1/24"
TOML

"$msgwctl" -c "$tmp/nic.toml" host check --root "$h" >"$tmp/out" 2>&1
expect "check: no hugepages, NIC on ixgbe" 1 $?
has "$tmp/out" "FAIL  hugepages"
has "$tmp/out" "fix: msgwctl host prepare, or: echo 256 > $node/hugepages/hugepages-2048kB/nr_hugepages"
has "$tmp/out" "FAIL  pci_driver"
has "$tmp/out" "on ixgbe (interface enp3s0f0), not vfio-pci"
has "$tmp/out" "warn  isolation"

"$msgwctl" host check --json -c "$tmp/nic.toml" --root "$h" >"$tmp/json"
expect "check --json" 1 $?
python3 - "$tmp/json" <<'PY' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
st = {(i["check"], i["subject"].split(" ")[0]): i["status"] for i in d["items"]}
assert d["ok"] is False, d
assert st[("hugepages", "node0")] == "fail" and st[("pci_driver", "0000:03:00.0")] == "fail", st
assert st[("iommu", "host")] == "ok" and st[("numa", "0000:03:00.0")] == "ok", st
assert st[("isolation", "cpu")] == "warn", st
PY

"$msgwctl" host prepare --dry-run -c "$tmp/nic.toml" --root "$h" >"$tmp/out" 2>&1
expect "prepare --dry-run" 0 $?
has "$tmp/out" "echo 256 > $node/hugepages/hugepages-2048kB/nr_hugepages"
has "$tmp/out" "echo vfio-pci > $dev/driver_override"
has "$tmp/out" "echo 0000:03:00.0 > $dev/driver/unbind"
has "$tmp/out" "echo 0000:03:00.0 > $h/sys/bus/pci/drivers/vfio-pci/bind"
[[ $(cat "$node/hugepages/hugepages-2048kB/nr_hugepages") == 0 && $(cat "$dev/driver_override") == "(null)" ]] \
  || { echo "FAIL: --dry-run wrote"; fail=1; }

"$msgwctl" host prepare --json -c "$tmp/nic.toml" --root "$h" >"$tmp/json"
expect "prepare" 0 $?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] and not d["dry_run"] and len(d["actions"]) == 4 and all(a["state"] == "done" for a in d["actions"]), d' "$tmp/json" || fail=1
[[ $(cat "$node/hugepages/hugepages-2048kB/nr_hugepages") == 256 && $(cat "$dev/driver_override") == vfio-pci &&
   $(cat "$h/sys/bus/pci/drivers/vfio-pci/bind") == 0000:03:00.0 ]] || { echo "FAIL: prepare did not write"; fail=1; }

# What the kernel does on that bind; then there is nothing left to do.
ln -sfn "$h/sys/bus/pci/drivers/vfio-pci" "$dev/driver"
"$msgwctl" host prepare -c "$tmp/nic.toml" --root "$h" >"$tmp/out" 2>&1
expect "second prepare" 0 $?
has "$tmp/out" "# nothing to do"

# Refused: the NIC's interface carries the default route.
ln -sfn "$h/sys/bus/pci/drivers/ixgbe" "$dev/driver"
printf 'enp3s0f0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n' >>"$h/proc/net/route"
"$msgwctl" host prepare -c "$tmp/nic.toml" --root "$h" >"$tmp/out" 2>&1
expect "prepare refuses the default route's NIC" 1 $?
has "$tmp/out" "# refused: 0000:03:00.0 (port access): its interface enp3s0f0 carries the host's default route"

# Warnings alone exit 0: a vdev config (no IOMMU or vfio needed), workers not isolated.
sed 's/^pci = .*/device = "net_null0"/; s/^hugepages = .*/hugepages = "auto"/' "$tmp/nic.toml" >"$tmp/vdev.toml"
"$msgwctl" -c "$tmp/vdev.toml" host check --root "$h" >"$tmp/out" 2>&1
expect "check with warnings only" 0 $?
has "$tmp/out" "warn  isolation"

"$msgwctl" -c "$tmp/none.toml" host check --root "$h" 2>"$tmp/err"
expect "missing config" 1 $?
has "$tmp/err" "none.toml"
"$msgwctl" host prepare --dry-run=yes 2>"$tmp/err"
expect "a flag with a value is a usage error" 2 $?
exit $fail
