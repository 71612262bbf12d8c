#!/usr/bin/env bash
# Runs ladder's whole test suite, installing the components the tests use
# for real when they are missing: a headless Chromium for the dashboard,
# PostgreSQL for the shared store, a registry (docker-registry, which the
# tests start on 127.0.0.1 ports of their own), a static busybox for the
# images they push to it, and OpenSSH for a site reached over ssh.
# Under CI=true a test that lacks its component fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

# have_postgres: PostgreSQL's server binaries, where Debian's package puts
# them (the tests' harness, internal/store/postgres/pgtest, looks there).
have_postgres() {
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || [ -n "${LADDER_PG_BINDIR:-}" ]
}

need_pkgs=()
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
# A static busybox goes into the FROM-scratch test images (a shell for
# CMD-SHELL health checks); docker-registry is the tests' real registry.
command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
have_postgres || need_pkgs+=(postgresql)
# internal/dockertest starts a second dockerd (a second site's engine) on a
# bridge of its own, made with ip.
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
# buildkitd runs its build steps with runc.
command -v runc >/dev/null 2>&1 || need_pkgs+=(runc)
# internal/dockertest also serves the second engine over ssh (a site whose
# docker host is ssh://...): sshd, ssh and ssh-keygen.
[ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need_pkgs+=(openssh-client)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need_pkgs[*]}"
    # The tests start their own PostgreSQL servers in temporary
    # directories: the package must neither create the system's "main"
    # cluster nor start a service. policy-rc.d (exit 101) forbids starting
    # services during the install; createcluster.conf, kept by
    # --force-confold, stops the cluster being created.
    policy_rc=/usr/sbin/policy-rc.d
    own_policy=
    if [ ! -e "$policy_rc" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
      chmod 755 "$policy_rc"
      own_policy=1
    fi
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
      mkdir -p /etc/postgresql-common
      echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold \
      "${need_pkgs[@]}" >/dev/null
    [ -z "$own_policy" ] || rm -f "$policy_rc"
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

# The images the end-to-end tests run (a Debian base, PostgreSQL from
# Debian's packages), built once per machine before the tests start so
# parallel tests do not build them twice; nothing is done when the engine
# has them.
if docker info >/dev/null 2>&1; then
  ./scripts/debian-image.sh ladder.local/debian:bookworm
  ./scripts/debian-image.sh ladder.local/postgres:15 postgresql-15
fi

go vet ./...
go test -count=1 -timeout 45m "$@" ./...

# Fuzz the loaders of compose.yaml and ladder.yaml for a bounded number of
# inputs each (10,000: 5 to 30 s each on two cores): whatever a file holds,
# loading must end in a project or positioned diagnostics, never a panic or
# a hang.
# A count, not a duration: with -fuzztime as a duration, Go 1.26's fuzzing
# coordinator can report its own end-of-time deadline as a failure ("context
# deadline exceeded", no failing input written) when a worker is slow to
# stop on a loaded machine. LADDER_FUZZTIME takes either form.
for target in FuzzLoadCompose FuzzLoadLadder; do
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "${LADDER_FUZZTIME:-10000x}" ./internal/spec/
done
