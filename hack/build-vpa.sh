#!/usr/bin/env bash
# Builds the upstream Vertical Pod Autoscaler recommender of the pinned VPA_VERSION from the Go module proxy into
# .cache/bin/vpa-recommender, and copies the VPA CRD of the same version (deploy/vpa-v1-crd-gen.yaml in the module)
# to .cache/bin/vpa-v1-crd-gen.yaml. Only `make bench` needs it: the recommender benchmark runs upstream VPA beside
# ours on the same history. Idempotent: a binary whose stamp matches the pinned version is skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$root/hack/versions.env"
bin="$root/.cache/bin"
work="$root/.cache/build/vpa"
mkdir -p "$bin" "$work"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[build-vpa] %s\n' "$*" >&2; }

module=k8s.io/autoscaler/vertical-pod-autoscaler
v=$VPA_VERSION
if [[ -x "$bin/vpa-recommender" && -f "$bin/.vpa-recommender.version" && "$(cat "$bin/.vpa-recommender.version")" == "$v" &&
  -s "$bin/vpa-v1-crd-gen.yaml" ]]; then
  exit 0
fi

# A throwaway module that requires the VPA module, as build-binaries.sh does for the others.
(cd "$work" && rm -f go.mod go.sum && go mod init metapilot.local/build >/dev/null 2>&1 &&
  go mod edit -require="$module@$v")
dir=$(cd "$work" && go mod download -json "$module@$v" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[[ -n "$dir" ]] || { log "go mod download gave no Dir"; exit 1; }
cp "$dir/deploy/vpa-v1-crd-gen.yaml" "$bin/vpa-v1-crd-gen.yaml.tmp"
chmod 0644 "$bin/vpa-v1-crd-gen.yaml.tmp"
mv "$bin/vpa-v1-crd-gen.yaml.tmp" "$bin/vpa-v1-crd-gen.yaml"
log "vpa $v: building the recommender (cold: a few minutes)"
(cd "$work" && go get "$module/pkg/recommender@$v" >/dev/null &&
  go build -trimpath -ldflags "-s -w" -o "$bin/vpa-recommender" "$module/pkg/recommender")
echo "$v" >"$bin/.vpa-recommender.version"
log "built vpa-recommender $v"
