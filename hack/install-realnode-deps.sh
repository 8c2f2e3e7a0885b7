#!/usr/bin/env bash
# Installs what real nodes of the local meta-cluster need from Debian, idempotently: containerd and runc (the
# container runtime), the bridge, host-local and loopback CNI plugins, umoci (builds OCI images without a Docker
# engine), busybox-static (the content of the test image), iptables (the kubelet's and the pod-egress chains), and gcc
# with libc6-dev (the static pause binary).
# A machine that has them all runs no apt at all, so a warm run takes milliseconds.
set -euo pipefail

log() { printf '[realnode-deps] %s\n' "$*" >&2; }

# Debian package -> a file that proves it is installed (CNI plugins live outside $PATH).
declare -A proof=(
  [containerd]=/usr/bin/containerd
  [runc]=/usr/sbin/runc
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [umoci]=/usr/bin/umoci
  [busybox-static]=/bin/busybox
  [iptables]=/usr/sbin/iptables
  # gcc and the static C library compile Kubernetes' pause.c for the sandbox image (hack/lib/images.ts).
  [gcc]=/usr/bin/gcc
  [libc6-dev]=/usr/include/stdio.h
)

missing=()
for pkg in "${!proof[@]}"; do
  [[ -e ${proof[$pkg]} ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
log "installing ${missing[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
# Debian's containerd package enables a system-wide containerd service; real nodes run their own containerd per
# node and never use it. Where services may start (no policy-rc.d refusing them), it is stopped again below.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" containerd "* ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  "${sudo[@]}" systemctl disable --now containerd >/dev/null 2>&1 || true
fi
for pkg in "${!proof[@]}"; do
  [[ -e ${proof[$pkg]} ]] || { log "$pkg installed but ${proof[$pkg]} is missing"; exit 1; }
done
log "installed ${missing[*]}"
