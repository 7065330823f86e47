#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs one libFuzzer harness for a smoke: seeds are copied to a scratch corpus
# so the source tree is never written, and a crash input is shown before the
# scratch directory goes.
# Usage: run-fuzz.sh HARNESS SECONDS [SEED_DIR...]
set -uo pipefail
harness=$1 seconds=$2; shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/msgw-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
for seeds in "$@"; do
  [[ -d $seeds ]] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null
done
# libFuzzer's default failure code is 77, which meson reads as "skipped":
# make every failure an ordinary non-zero exit.
"$harness" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus"
rc=$?
for crash in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
  [[ -e $crash ]] || continue
  echo "fuzz input that failed ($crash):"
  od -A d -t x1z -v "$crash" | head -n 40
done
((rc == 77)) && rc=1
exit $rc
