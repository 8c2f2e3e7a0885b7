#!/usr/bin/env bash
# Fetches the real Cluster API CRDs (MachineDeployment, MachineSet, Machine) of the pinned CLUSTER_API_VERSION from
# the Go module proxy into .cache/cluster-api/<version>/, for the NodePool clusterapi provider's tests and demo.
# Idempotent: a warm cache returns at once. Prints the directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$root/hack/versions.env"
out="$root/.cache/cluster-api/$CLUSTER_API_VERSION"
kinds=(machinedeployments machinesets machines)
if [[ -f "$out/.complete" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
dir=$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/cluster-api@$CLUSTER_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[[ -n "$dir" ]] || { echo "fetch-cluster-api-crds: go mod download gave no Dir" >&2; exit 1; }
for k in "${kinds[@]}"; do
  cp "$dir/config/crd/bases/cluster.x-k8s.io_$k.yaml" "$out/"
  chmod 0644 "$out/cluster.x-k8s.io_$k.yaml"
done
touch "$out/.complete"
echo "$out"
