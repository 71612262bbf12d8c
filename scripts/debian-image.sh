#!/usr/bin/env bash
# Builds a Docker image from Debian's packages, for machines that reach
# Debian's mirror but no container registry (and for tests that must not
# depend on one):
#
#   scripts/debian-image.sh NAME[:TAG] [PACKAGE...]
#
# The image is a minimal Debian bookworm (mmdebstrap --variant=minbase)
# with the packages given, imported into the Docker engine under NAME. It
# is built only when the engine does not have NAME already; set
# LADDER_IMAGE_REBUILD=1 to build it again. mmdebstrap is installed with
# apt-get when it is missing and this runs as root.
#
# Examples:
#   scripts/debian-image.sh ladder.local/debian:bookworm
#   scripts/debian-image.sh ladder.local/postgres:15 postgresql-15
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 NAME[:TAG] [PACKAGE...]" >&2
  exit 2
fi
name=$1
shift

if [ -z "${LADDER_IMAGE_REBUILD:-}" ] && docker image inspect "$name" >/dev/null 2>&1; then
  exit 0
fi

if ! command -v mmdebstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing mmdebstrap" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
  else
    echo "mmdebstrap is missing: apt-get install mmdebstrap" >&2
    exit 1
  fi
fi

include=()
if [ $# -gt 0 ]; then
  include=(--include="$(IFS=,; echo "$*")")
fi

echo "building $name from Debian bookworm packages${*:+ ($*)}" >&2
start=$(date +%s)
# The root filesystem streams as a tar straight into the engine; nothing
# is left on disk but the image.
mmdebstrap --quiet --variant=minbase "${include[@]}" \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
  bookworm - |
  docker import --change 'CMD ["/bin/bash"]' - "$name" >/dev/null
echo "built $name in $(( $(date +%s) - start ))s" >&2
