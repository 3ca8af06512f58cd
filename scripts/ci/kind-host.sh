#!/usr/bin/env bash
# Everything the kind tests need on a fresh CI machine, changing only what is missing:
#
#   bash scripts/ci/kind-host.sh      # safe to run again
#
# - a Docker engine (scripts/ci/docker-engine.sh);
# - debootstrap and zstd from Debian's packages (`riverbed kind prepare --offline`
#   bootstraps its Debian base with the one and compresses its image cache with the other);
# - docker-registry from Debian's packages: the kind tests' registry on loopback
#   (tests/kind/registry.py starts its own on 127.0.0.1; the package's service is not kept);
# - a check that Go, Java and Maven are there (the offline images build kind and
#   Kubernetes from the Go module proxy, Kafka from Maven Central's jars).
#
# Every change is printed, prefixed with "kind-host:".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "kind-host: $*"; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

bash "$here/docker-engine.sh"

missing=()
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} from Debian's packages"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" docker-registry "* ]] && [ -d /run/systemd/system ]; then
    # The package's service listens on every interface: the tests need none of it.
    say "stopping and disabling the docker-registry service the package started"
    as_root systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi

status=0
for tool in go java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "kind-host: $tool is missing: install it (Go 1.24+, JDK 17+, Maven 3.6+)" >&2
    status=1
  fi
done
exit "$status"
