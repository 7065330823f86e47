#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds msgw's Debian package from an already-built meson build dir (no second
# compile) and prints the path of the .deb, the last line of its output.
#
#   scripts/package.sh [BUILDDIR]      default: build
#
# The package files (msgw_VERSION_amd64.deb, the -dbgsym .ddeb, .buildinfo,
# .changes) end up in BUILDDIR/pkg/. dpkg-buildpackage itself writes them next
# to the source tree (its parent directory): they are moved from there.
# A build dir configured with another prefix than /usr is reconfigured to /usr
# first (no source uses the prefix: nothing is recompiled, only relinked if
# at all). To build the package from source instead, as Debian would:
#   dpkg-buildpackage -us -uc -b
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
[[ -f $build/build.ninja ]] || { echo "package: $build is not a meson build dir" >&2; exit 1; }

# meson's introspection files (meson-info/), read directly: a meson start per
# question costs seconds on a busy machine.
info() {  # NAME (meson-info/intro-NAME.json, as j) PYTHON [ARGS: sys.argv[3:]]
  python3 -c 'import json,os,sys; j=json.load(open(sys.argv[1])); exec(sys.argv[2])' \
    "$build/meson-info/intro-$1.json" "${@:2}"
}
prefix=$(info buildoptions 'print([o["value"] for o in j if o["name"]=="prefix"][0])')
if [[ $prefix != /usr ]]; then
  echo "package: $build has prefix $prefix: reconfiguring it to /usr"
  meson configure "$build" -Dprefix=/usr >/dev/null
fi
# Regenerated after a reconfigure, and what meson installs up to date (only
# that: a developer's build dir may not have built every test): debian/rules
# runs meson install --no-rebuild.
ninja -C "$build" build.ninja >/dev/null
mapfile -t installed < <(info targets '
for t in j:
    if t.get("installed"):
        for f in t["filename"]: print(os.path.relpath(f, sys.argv[3]))' "$build")
((${#installed[@]} > 0)) || { echo "package: $build installs nothing" >&2; exit 1; }
ninja -C "$build" "${installed[@]}" >/dev/null

cd "$root"
parent=$(dirname "$root")
version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
outputs=("msgw_${version}_${arch}.deb" "msgw-dbgsym_${version}_${arch}.deb"
         "msgw_${version}_${arch}.buildinfo" "msgw_${version}_${arch}.changes")
for f in "${outputs[@]}"; do rm -f "$parent/$f"; done

log=$build/meson-logs/package.log
# --no-pre-clean: the tree is cleaned after each build (below), and dh_prep
# empties debian/tmp and debian/msgw before installing into them.
if ! MSGW_PREBUILT_BUILDDIR=$build dpkg-buildpackage -us -uc -b --no-pre-clean >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "package: dpkg-buildpackage failed (whole log: $log)" >&2
  exit 1
fi
# What the build left in the tree (debian/tmp, debian/msgw, debian/files...).
debian/rules clean >/dev/null 2>&1 || true

mkdir -p "$build/pkg"
for f in "${outputs[@]}"; do [[ -f $parent/$f ]] && mv -f "$parent/$f" "$build/pkg/"; done
deb=$build/pkg/msgw_${version}_${arch}.deb
[[ -f $deb ]] || { echo "package: no $deb (log: $log)" >&2; exit 1; }
echo "$deb"
