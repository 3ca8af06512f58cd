#!/usr/bin/env bash
# Make a Docker engine answer on this CI machine, changing only what is missing.
#
#   bash scripts/ci/docker-engine.sh          # safe to run again: a running engine is left alone
#
# 1. If `docker info` answers, nothing is changed.
# 2. Else Debian's docker.io package is installed (when dockerd is missing).
# 3. If the kernel's capability bounding set lacks CAP_SYS_RESOURCE (some VMs'
#    do), `docker run --privileged` fails with "unable to apply caps: operation
#    not permitted", because it asks for every capability. Then a small runc
#    wrapper that removes CAP_SYS_RESOURCE from each container's capability sets
#    is installed and registered as the engine's default runtime in
#    /etc/docker/daemon.json. Machines whose bounding set is complete are not
#    touched.
# 4. dockerd is started in the background (no init system is assumed), logging
#    to $DOCKERD_LOG, and the script waits until it answers.
#
# Every change is printed, prefixed with "docker-engine:".
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DAEMON_JSON=${DAEMON_JSON:-/etc/docker/daemon.json}
WRAPPER=${RUNC_WRAPPER:-/usr/local/libexec/riverbed/runc-without-sys-resource}
RUNTIME_NAME=runc-without-sys-resource
CAP_SYS_RESOURCE_BIT=24

say() { echo "docker-engine: $*"; }

# Debian's client speaks the engine's API version; a newer client on PATH may be
# a static build that shadows it (it negotiates down, but prefer the matching one).
docker_cli() {
  if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else command -v docker || true; fi
}

engine_answers() {
  local cli
  cli=$(docker_cli)
  [ -n "$cli" ] && timeout 20 "$cli" info >/dev/null 2>&1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# CapBnd from /proc/self/status, e.g. 000001fffeffffff: bit 24 is CAP_SYS_RESOURCE.
missing_sys_resource() {
  local hex
  hex=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  [ -n "$hex" ] && [ $(( (16#$hex >> CAP_SYS_RESOURCE_BIT) & 1 )) -eq 0 ]
}

if engine_answers; then
  say "a Docker engine answers ($($(docker_cli) version --format '{{.Server.Version}}' 2>/dev/null)); changing nothing"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "installing Debian's docker.io (no dockerd on this machine)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    docker.io iptables >/dev/null
fi

if missing_sys_resource; then
  runc_path=$(command -v runc || echo /usr/sbin/runc)
  tmp=$(mktemp)
  sed "s|@REAL_RUNC@|$runc_path|" "$(dirname "$0")/runc-without-sys-resource.py" >"$tmp"
  if ! cmp -s "$tmp" "$WRAPPER"; then
    say "CAP_SYS_RESOURCE is not in this machine's capability bounding set: installing $WRAPPER (runc minus CAP_SYS_RESOURCE)"
    as_root mkdir -p "$(dirname "$WRAPPER")"
    as_root install -m 0755 "$tmp" "$WRAPPER"
  fi
  rm -f "$tmp"
  if ! python3 - "$DAEMON_JSON" "$RUNTIME_NAME" "$WRAPPER" <<'PY'
import json, sys
path, name, wrapper = sys.argv[1:]
try:
    with open(path) as f:
        cfg = json.load(f)
except FileNotFoundError:
    cfg = {}
ok = cfg.get("default-runtime") == name and cfg.get("runtimes", {}).get(name, {}).get("path") == wrapper
sys.exit(0 if ok else 1)
PY
  then
    say "registering $RUNTIME_NAME as the engine's default runtime in $DAEMON_JSON"
    as_root mkdir -p "$(dirname "$DAEMON_JSON")"
    as_root python3 - "$DAEMON_JSON" "$RUNTIME_NAME" "$WRAPPER" <<'PY'
import json, sys
path, name, wrapper = sys.argv[1:]
try:
    with open(path) as f:
        cfg = json.load(f)
except FileNotFoundError:
    cfg = {}
cfg.setdefault("runtimes", {})[name] = {"path": wrapper}
cfg["default-runtime"] = name
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
PY
  fi
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  say "dockerd is running but does not answer yet; waiting for it"
else
  say "starting dockerd in the background (log: $DOCKERD_LOG)"
  as_root mkdir -p "$(dirname "$DOCKERD_LOG")"
  # setsid: the engine outlives this script and the CI step that ran it.
  as_root setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 120); do
  if engine_answers; then
    say "the engine answers ($($(docker_cli) version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 0.5
done
say "dockerd did not answer within 60 s; last lines of $DOCKERD_LOG:" >&2
tail -n 30 "$DOCKERD_LOG" >&2 || true
exit 1
