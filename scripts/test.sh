#!/usr/bin/env bash
# Runs ladder's whole test suite, installing the components the tests use
# for real when they are missing: a headless Chromium for the dashboard, a
# registry (docker-registry, which the tests start on 127.0.0.1 ports of
# their own) and a static busybox for the images they push to it.
# Under CI=true a test that lacks its component fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
# A static busybox goes into the FROM-scratch test images (a shell for
# CMD-SHELL health checks); docker-registry is the tests' real registry.
command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need_pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  else
    echo "missing ${need_pkgs[*]}: install them (apt-get install ${need_pkgs[*]}) or the tests that need them skip (and fail under CI=true)" >&2
  fi
fi

go vet ./...
go test -count=1 -timeout 45m "$@" ./...

# Fuzz the loaders of compose.yaml and ladder.yaml for a bounded time each
# (40 s in all by default): whatever a file holds, loading must end in a
# project or positioned diagnostics, never a panic or a hang.
for target in FuzzLoadCompose FuzzLoadLadder; do
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "${LADDER_FUZZTIME:-20s}" ./internal/spec/
done
