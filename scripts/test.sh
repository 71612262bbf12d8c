#!/usr/bin/env bash
# Runs ladder's whole test suite, installing the components the tests use
# for real (a headless Chromium for the dashboard) when they are missing.
# Under CI=true a test that lacks its component fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
# buildkitd runs its build steps with runc.
command -v runc >/dev/null 2>&1 || need_pkgs+=(runc)
# A static busybox goes into the FROM-scratch images of the compose
# target's field tests (a shell for CMD-SHELL health checks) and is the
# base image of the BuildKit tests.
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || need_pkgs+=(busybox-static)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "missing ${need_pkgs[*]}: install them (apt-get install ${need_pkgs[*]}) or the tests that need them skip (and fail under CI=true)" >&2
  fi
fi

# A current buildkitd for the Dockerfile tests (the engine's own BuildKit
# may be too old for heredocs and COPY --link), built once per machine and
# version into the cache; internal/build's tests start it.
buildkit_version=v0.18.2
buildkit_bin="${XDG_CACHE_HOME:-$HOME/.cache}/ladder-ci/bin/buildkit-$buildkit_version"
if [ ! -x "$buildkit_bin/buildkitd" ]; then
  echo "building buildkitd $buildkit_version into $buildkit_bin"
  mkdir -p "$buildkit_bin.tmp"
  GOBIN="$buildkit_bin.tmp" GOFLAGS= go install \
    "github.com/moby/buildkit/cmd/buildkitd@$buildkit_version" "github.com/moby/buildkit/cmd/buildctl@$buildkit_version"
  rm -rf "$buildkit_bin" && mv "$buildkit_bin.tmp" "$buildkit_bin"
fi
export LADDER_BUILDKITD="$buildkit_bin/buildkitd"

go vet ./...
go test -count=1 -timeout 45m "$@" ./...
