#!/usr/bin/env bash
# Builds the pinned upstream binaries that the local meta-cluster runs, from the Go module proxy, into .cache/bin.
# Idempotent: a binary whose stamp matches its pinned version is skipped, so a warm run takes seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$root/hack/versions.env"
bin="$root/.cache/bin"
work="$root/.cache/build"
mkdir -p "$bin" "$work"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { printf '[build-binaries] %s\n' "$*" >&2; }

# up_to_date NAME VERSION: true when .cache/bin/NAME was built from VERSION.
up_to_date() { up_to_date_in "$bin" "$@"; }
# up_to_date_in DIR NAME VERSION: the same for DIR/NAME.
up_to_date_in() { [[ -x "$1/$2" && -f "$1/.$2.version" && "$(cat "$1/.$2.version")" == "$3" ]]; }
stamp() { echo "$2" >"$bin/.$1.version"; }

# wrapper_module DIR MODULE VERSION: a throwaway module that requires MODULE@VERSION, so that the upstream
# module's own replace directives (which `go install pkg@version` refuses) do not apply.
wrapper_module() {
  local dir=$1 module=$2 version=$3
  mkdir -p "$dir"
  (cd "$dir" && rm -f go.mod go.sum && go mod init metapilot.local/build >/dev/null 2>&1 &&
    go mod edit -require="$module@$version")
}

# kubelet and kube-proxy run the meta-cluster's real nodes (hack/lib/metacluster.ts, realnodes.ts,
# realnode-services.ts); the others its control plane.
kubernetes_commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)

# build_kubernetes_release VERSION OUT_DIR COMMAND...: the commands of k8s.io/kubernetes VERSION into OUT_DIR.
build_kubernetes_release() {
  local v=$1 out=$2 need=0
  shift 2
  local commands=("$@")
  mkdir -p "$out"
  for c in "${commands[@]}"; do up_to_date_in "$out" "$c" "$v" || need=1; done
  [[ $need == 1 ]] || return 0
  log "kubernetes $v: resolving staging modules"
  local dir="$work/kubernetes-$v"
  wrapper_module "$dir" k8s.io/kubernetes "$v"
  local gomod
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  # k8s.io/kubernetes replaces each staging module with ./staging/src/<path>; the same code is published as
  # <path> v0.<minor>.<patch>. Take the list from the real go.mod so a new staging module is never missed.
  local staging_version="v0${v#v1}"
  local count=0
  while read -r mod; do
    (cd "$dir" && go mod edit -replace="$mod=$mod@$staging_version")
    count=$((count + 1))
  done < <(grep -oE '^\s*k8s\.io/[a-z0-9./-]+ => \./staging/src/' "$gomod" | awk '{print $1}')
  log "kubernetes $v: $count staging replaces; building (cold: several minutes)"
  local pkg="k8s.io/component-base/version"
  local ldflags="-s -w -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$v" | cut -d. -f2) \
    -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z \
    -X k8s.io/client-go/pkg/version.gitVersion=$v"
  (cd "$dir" && go mod tidy -e >/dev/null 2>&1 || true)
  for c in "${commands[@]}"; do
    up_to_date_in "$out" "$c" "$v" && continue
    (cd "$dir" && go get "k8s.io/kubernetes/cmd/$c@$v" >/dev/null 2>&1 || true)
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out/$c" "k8s.io/kubernetes/cmd/$c")
    echo "$v" >"$out/.$c.version"
    log "built $c $v into $out"
  done
}

build_kubernetes() {
  build_kubernetes_release "$KUBERNETES_VERSION" "$bin" "${kubernetes_commands[@]}"
}

# The control plane of the release before KUBERNETES_VERSION, for the upgrade of a tenant on real pods (make bench
# only: a second Kubernetes build is several more minutes cold). Into .cache/bin/previous/.
build_kubernetes_previous() {
  build_kubernetes_release "$PREVIOUS_KUBERNETES_VERSION" "$bin/previous" kube-apiserver kube-controller-manager \
    kube-scheduler
}

build_etcd() {
  up_to_date etcd "$ETCD_VERSION" && return 0
  local dir="$work/etcd"
  wrapper_module "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 &&
    go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3)
  stamp etcd "$ETCD_VERSION"
  log "built etcd $ETCD_VERSION"
}

# kwok ships its stage definitions (what a fake kubelet does to nodes and pods) in its module; take the
# fast node, lease heartbeat and fast pod stages from the exact version we built, and add ours from hack/kwok/.
kwok_stages() {
  local src
  src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  [[ -d $src ]] || (cd "$work/kwok" && go mod download "sigs.k8s.io/kwok@$KWOK_VERSION")
  local out="$bin/kwok-stages.yaml"
  shopt -s nullglob
  : >"$out.tmp"
  for f in "$src"/node/fast/node-initialize.yaml "$src"/node/heartbeat-with-lease/*.yaml "$src"/pod/fast/pod-*.yaml \
    "$src"/volume/fast/pv-*.yaml "$src"/volume/fast/pvc-*.yaml "$root"/hack/kwok/*.yaml; do
    [[ $(basename "$f") == kustomization.yaml ]] && continue
    { echo "---"; cat "$f"; } >>"$out.tmp"
  done
  mv "$out.tmp" "$out"
  # The StorageClass those volume stages provision for; hack/metacluster creates it as the default class.
  cp "$src/volume/fast/storage-class.yaml" "$bin/kwok-storageclass.yaml"
}

build_kwok() {
  # The stages are cheap to assemble and follow hack/kwok/: always rebuilt.
  up_to_date kwok "$KWOK_VERSION" && { kwok_stages; return 0; }
  local dir="$work/kwok"
  wrapper_module "$dir" sigs.k8s.io/kwok "$KWOK_VERSION"
  # kwok's go.mod names a newer go line than some toolchains; GOTOOLCHAIN=local makes that an error we see
  # instead of a silent toolchain download.
  (cd "$dir" && go get "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >/dev/null &&
    go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok)
  stamp kwok "$KWOK_VERSION"
  kwok_stages
  log "built kwok $KWOK_VERSION"
}

build_helm() {
  up_to_date helm "$HELM_VERSION" && return 0
  local dir="$work/helm"
  wrapper_module "$dir" helm.sh/helm/v3 "$HELM_VERSION"
  (cd "$dir" && go get "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >/dev/null &&
    go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$bin/helm" helm.sh/helm/v3/cmd/helm)
  stamp helm "$HELM_VERSION"
  log "built helm $HELM_VERSION"
}

# crictl talks to a real node's containerd over CRI: hack/metacluster down stops and removes its pod sandboxes with
# it, so that containerd tears their network namespaces and mounts down.
build_crictl() {
  up_to_date crictl "$CRI_TOOLS_VERSION" && return 0
  local dir="$work/cri-tools"
  wrapper_module "$dir" sigs.k8s.io/cri-tools "$CRI_TOOLS_VERSION"
  (cd "$dir" && go get "sigs.k8s.io/cri-tools/cmd/crictl@$CRI_TOOLS_VERSION" >/dev/null &&
    go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" -o "$bin/crictl" sigs.k8s.io/cri-tools/cmd/crictl)
  stamp crictl "$CRI_TOOLS_VERSION"
  log "built crictl $CRI_TOOLS_VERSION"
}

# CoreDNS answers cluster.local names for the pods of real nodes (hack/lib/realnode-services.ts). Built with only
# the plugins its Corefile uses, in the order of CoreDNS's own plugin.cfg: the cloud DNS plugins of the full build
# (route53, azure, clouddns) would add their SDKs to a cold build for nothing.
coredns_plugins=(bind ready errors template kubernetes)

build_coredns() {
  local stamp_value="$COREDNS_VERSION ${coredns_plugins[*]}"
  up_to_date coredns "$stamp_value" && return 0
  local dir="$work/coredns"
  wrapper_module "$dir" github.com/coredns/coredns "$COREDNS_VERSION"
  {
    echo "// Generated by hack/build-binaries.sh: CoreDNS $COREDNS_VERSION with the plugins the meta-cluster uses."
    echo "package main"
    echo
    echo "import ("
    echo "	\"github.com/coredns/coredns/core/dnsserver\""
    echo "	\"github.com/coredns/coredns/coremain\""
    for p in "${coredns_plugins[@]}"; do echo "	_ \"github.com/coredns/coredns/plugin/$p\""; done
    echo ")"
    echo
    echo "func init() {"
    printf '	dnsserver.Directives = []string{'
    printf '"%s", ' "${coredns_plugins[@]}"
    echo "}"
    echo "}"
    echo
    echo "func main() { coremain.Run() }"
  } >"$dir/main.go"
  # No `go get` of the module: that loads its main package, and with it every plugin's dependencies (1.6 GB of
  # modules instead of 0.26 GB). go build (-mod=mod) adds what these plugins need, at the versions CoreDNS requires.
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/coredns" .)
  stamp coredns "$stamp_value"
  log "built coredns $COREDNS_VERSION (${coredns_plugins[*]})"
}

build_prometheus() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    ln -sf "$(command -v prometheus)" "$bin/prometheus"
    ln -sf "$(command -v promtool)" "$bin/promtool"
    return 0
  fi
  log "installing Debian's $PROMETHEUS_DEBIAN_PACKAGE package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "$PROMETHEUS_DEBIAN_PACKAGE" >/dev/null
  ln -sf "$(command -v prometheus)" "$bin/prometheus"
  ln -sf "$(command -v promtool)" "$bin/promtool"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(prometheus etcd kwok helm kubernetes crictl coredns)
for t in "${targets[@]}"; do
  "build_$t"
done
