#!/usr/bin/env bash
# Refreshes the vendored front-end libraries from the npm registry at the versions pinned
# below (no CDN at run time, no build step). Each package's files and licence are copied
# as published; VERSIONS records what is here. Run from anywhere: static/vendor/refresh.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# package@version  destination  files inside the package (the licence is always copied)
packages=(
  "axe-core@4.14.1 $root/tests/vendor/axe-core axe.min.js"
  "chart.js@4.6.2 $root/static/vendor/chart.js dist/chart.umd.min.js"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
: > "$here/VERSIONS.new"
for entry in "${packages[@]}"; do
  read -r spec dest files <<<"$entry"
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  tarball="$work/$(echo "${spec%@*}" | tr -d @ | tr / -)-${spec##*@}.tgz"
  rm -rf "$work/package" "$dest" && mkdir -p "$dest"
  tar xzf "$tarball" -C "$work"
  for f in $files; do
    mkdir -p "$dest/$(dirname "$f")"
    cp -r "$work/package/$f" "$dest/$f"
  done
  cp "$work"/package/LICEN[CS]E* "$dest/"  # LICENSE, LICENSE.md, …: as the package names it
  echo "$spec ${dest#$root/}" >> "$here/VERSIONS.new"
done
mv "$here/VERSIONS.new" "$here/VERSIONS"
