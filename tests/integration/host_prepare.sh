#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# host prepare on the rig's host reserves hugepages: with the rig's config
# (scripts/rig.sh: config/examples/spa-to-carrier.toml) and the host's 2 MiB
# pools emptied, `msgwctl host check` sees the shortfall, `host prepare`
# reserves what the config needs on each node, a second run changes
# nothing, and check is then clean on hugepages. The pools (and the
# hugetlbfs mount, if there was none) are restored on exit. Seconds.
# Usage: host_prepare.sh MSGWCTL CONFIG   (root; under the rig lock)
set -euo pipefail
msgwctl=$1 config=$2
if [[ $(id -u) -ne 0 ]]; then echo "needs root (sysfs writes)"; exit 77; fi
total=$(awk '/^HugePages_Total:/ {print $2}' /proc/meminfo)
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
if [[ $total != "$free" ]]; then echo "hugepages in use ($free of $total free): not touching them"; exit 77; fi

# Every 2 MiB pool prepare may write: per node, or the host's without NUMA.
pools=(/sys/devices/system/node/node*/hugepages/hugepages-2048kB/nr_hugepages)
[[ -e ${pools[0]} ]] || pools=(/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)
declare -A saved
for p in "${pools[@]}"; do saved[$p]=$(cat "$p"); done
mounted_before=no
grep -q ' hugetlbfs ' /proc/mounts && mounted_before=yes
work=$(mktemp -d /tmp/msgw-host-prepare.XXXXXX)
cleanup() {
  for p in "${pools[@]}"; do echo "${saved[$p]}" >"$p" || true; done
  if [[ $mounted_before == no ]] && grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts; then umount /dev/hugepages || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

for p in "${pools[@]}"; do echo 0 >"$p"; done
"$msgwctl" -c "$config" host check --json >"$work/before.json" || true
python3 - "$work/before.json" <<'PY' || fail "check does not see the missing hugepages"
import json, sys
d = json.load(open(sys.argv[1]))
hp = [i for i in d["items"] if i["check"] == "hugepages"]
assert hp and all(i["status"] != "ok" for i in hp), hp
PY
echo "ok: host check reports the missing hugepages"

"$msgwctl" -c "$config" host prepare >"$work/first.txt" || { cat "$work/first.txt"; fail "host prepare"; }
cat "$work/first.txt"
grep -q '^done: echo [0-9]* > .*hugepages-2048kB/nr_hugepages$' "$work/first.txt" || fail "no nr_hugepages written"
"$msgwctl" -c "$config" host check --json >"$work/after.json" || true
python3 - "$work/after.json" <<'PY' || fail "hugepages not reserved after prepare"
import json, sys
d = json.load(open(sys.argv[1]))
hp = [i for i in d["items"] if i["check"] in ("hugepages", "hugetlbfs")]
assert len(hp) >= 2 and all(i["status"] == "ok" for i in hp), hp
print("ok: " + "; ".join(i["subject"] + ": " + i["message"] for i in hp))
PY
declare -A reserved
for p in "${pools[@]}"; do reserved[$p]=$(cat "$p"); done

"$msgwctl" -c "$config" host prepare >"$work/second.txt" || { cat "$work/second.txt"; fail "second host prepare"; }
grep -qx '# nothing to do: the host already has what the config needs' "$work/second.txt" \
  || { cat "$work/second.txt"; fail "second run planned something"; }
for p in "${pools[@]}"; do [[ $(cat "$p") == "${reserved[$p]}" ]] || fail "second run changed $p"; done
echo "ok: a second host prepare changes nothing"
