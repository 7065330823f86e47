#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what is missing, builds, and runs every test suite:
#   build/       gcc, debugoptimized          suites unit + integration
#   build-san/   clang, ASan + UBSan + libFuzzer coverage  suites unit + fuzz
#                (one instrumented compile serves the unit tests under the
#                sanitizers and the fuzz harnesses' smoke runs; it replaced a
#                gcc ASan build and a clang fuzz build, saving one compile of
#                every library in CI's time budget)
# Ends with one line "N passed, N failed[, N skipped]" and a non-zero exit if
# anything failed. A configuration that does not build counts as a failure.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if ! scripts/setup.sh; then
  echo "setup failed"
  echo "0 passed, 1 failed"
  exit 1
fi

jobs=$(nproc)
build_failures=0
labels=()

# Sanitizers must stop the test, not print and carry on.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1:strict_string_checks=1

configure() {  # dir, env..., -- meson args...
  local dir=$1; shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  if [[ -f $dir/build.ninja ]]; then
    return 0  # meson re-configures by itself when a meson.build changed
  fi
  env "${envs[@]}" meson setup "$dir" "$@"
}

run_config() {  # label dir suites... ; configure must have succeeded
  local label=$1 dir=$2; shift 2
  local suite_args=()
  for s in "$@"; do suite_args+=(--suite "$s"); done
  echo "=== $label: build ($dir)"
  if ! ninja -C "$dir" -j "$jobs"; then
    echo "=== $label: BUILD FAILED"
    build_failures=$((build_failures + 1))
    return
  fi
  rm -f "$dir/meson-logs/testlog.junit.xml" "$dir/meson-logs/testlog.json"
  echo "=== $label: tests (${*})"
  meson test -C "$dir" --no-rebuild --print-errorlogs "${suite_args[@]}" || true
  labels+=("$label=$dir")
}

# Prefix /usr: tests/integration/package_install.sh packages this build dir
# (scripts/package.sh would otherwise reconfigure it; nothing is compiled
# differently).
if configure build -- --prefix=/usr; then
  run_config main build unit integration
else
  echo "=== main: CONFIGURE FAILED"; build_failures=$((build_failures + 1))
fi

if configure build-san CC=clang CXX=clang++ -- -Dfuzz=true -Dbenchmarks=disabled; then
  run_config sanitizers build-san unit fuzz
else
  echo "=== sanitizers: CONFIGURE FAILED"; build_failures=$((build_failures + 1))
fi

echo "=== summary"
counts=$(python3 scripts/count-results.py "${labels[@]}")
sed '$d' <<<"$counts"
read -r passed failed skipped <<<"$(tail -n 1 <<<"$counts")"
failed=$((failed + build_failures))
line="$passed passed, $failed failed"
((skipped > 0)) && line+=", $skipped skipped"
echo "$line"
((failed == 0))
