#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# SPDX license lines: every tracked source file starts with
#   // SPDX-License-Identifier: GPL-3.0-or-later     (C, C++)
#   # SPDX-License-Identifier: GPL-3.0-or-later      (shell, Python, meson, TOML, debian/rules, units)
# as its first line, or its second after a shebang (a `#!` must stay first).
#
#   scripts/spdx.sh            add the line to every tracked source file that lacks it
#   scripts/spdx.sh --check    list the files that lack it; exit 1 if any does
#
# "Source" is chosen by name below; test data (fuzz corpora, conformance
# messages, SIPp scenarios) and documentation are not source and are left alone.
# Files are taken from `git ls-files`, so nothing untracked (build dirs) is
# touched. Idempotent.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

tag='SPDX-License-Identifier: GPL-3.0-or-later'
mode=fix
case ${1:-} in
  --check) mode=check ;;
  '') ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# The comment leader of a source file, or nothing for a file that is not source.
leader() {
  case $1 in
    tests/fuzz/corpus/* | tests/data/*) ;;
    *.cpp | *.hpp | *.cc | *.hh | *.c | *.h) echo '//' ;;
    *.sh | *.py | *.toml | */meson.build | meson.build | meson_options.txt) echo '#' ;;
    debian/rules | debian/*.service | debian/*.tmpfiles | debian/*.postrm | debian/*.postinst | debian/*.prerm | debian/*.preinst) echo '#' ;;
  esac
}

missing=0
while IFS= read -r -d '' f; do
  lead=$(leader "$f")
  [[ -n $lead ]] || continue
  [[ -f $f ]] || continue  # deleted in the work tree, not yet committed
  # Already tagged: on line 1, or line 2 after a shebang.
  first=$(sed -n 1p "$f")
  if [[ $first == '#!'* ]]; then line=$(sed -n 2p "$f"); else line=$first; fi
  [[ $line == "$lead $tag" ]] && continue
  if [[ $mode == check ]]; then
    echo "no SPDX line: $f"
    missing=$((missing + 1))
    continue
  fi
  tmp=$(mktemp "$f.spdx.XXXXXX")
  if [[ $first == '#!'* ]]; then
    { printf '%s\n' "$first"; printf '%s %s\n' "$lead" "$tag"; sed 1d "$f"; } >"$tmp"
  else
    { printf '%s %s\n' "$lead" "$tag"; cat "$f"; } >"$tmp"
  fi
  chmod --reference="$f" "$tmp"
  mv "$tmp" "$f"
  echo "added: $f"
done < <(git ls-files -z)

if [[ $mode == check ]]; then
  if ((missing > 0)); then
    echo "spdx: $missing source file(s) without '$tag' (run scripts/spdx.sh)"
    exit 1
  fi
  echo "spdx: every source file carries '$tag'"
fi
