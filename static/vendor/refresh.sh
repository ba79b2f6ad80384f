#!/usr/bin/env bash
# Refreshes the vendored front-end libraries from the npm registry at the versions pinned
# below (no CDN at run time, no build step). Each package's files and licence are copied
# as published; VERSIONS records what is here. Run from anywhere: static/vendor/refresh.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# package@version  destination  files inside the package (globs allowed; the licence files,
# LICENSE* or license*, are always copied). The chat page loads the UMD builds with classic
# <script> tags and static/chat/markdown.js configures them. KaTeX keeps only its woff2 fonts:
# every browser the chat supports takes the first source of katex.min.css's @font-face, woff2.
packages=(
  "axe-core@4.14.1 $root/tests/vendor/axe-core axe.min.js"
  "markdown-it@15.0.3 $here/markdown-it dist/browser/markdown-it.umd.min.js"
  "markdown-it-texmath@1.0.0 $here/markdown-it-texmath texmath.js"
  "katex@0.19.1 $here/katex dist/katex.min.js dist/katex.min.css dist/fonts/*.woff2"
  "@highlightjs/cdn-assets@11.12.0 $here/highlight.js highlight.min.js styles/a11y-dark.min.css"
  "dompurify@3.5.0 $here/dompurify dist/purify.min.js"
  "chart.js@4.6.2 $here/chart.js dist/chart.umd.min.js"
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
  (
    cd "$work/package"
    shopt -s nullglob
    for f in $files LICENSE* license*; do  # unquoted: the globs expand inside the package
      mkdir -p "$dest/$(dirname "$f")"
      cp -r "$f" "$dest/$f"
    done
  )
  echo "$spec ${dest#$root/}" >> "$here/VERSIONS.new"
done
mv "$here/VERSIONS.new" "$here/VERSIONS"
