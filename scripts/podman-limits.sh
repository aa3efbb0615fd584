# shellcheck shell=bash disable=SC2034
# Sourced (bash) by the scripts that run podman (container-image.sh,
# compose-local-images.sh, compose.sh). Sets podman_limits to the resource
# limits given to builds and containers: rootful podman asks for nofile and
# nproc limits far above what a host without CAP_SYS_RESOURCE can grant, so
# they are set within the host's hard limit. The scripts also pass
# `--runtime runc`: crun refuses hosts whose cgroup v2 hierarchy has
# controllers while v1 is in use (a hybrid layout); runc runs on both.
nofile="$(ulimit -Hn)"
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then
    nofile=65536
fi
podman_limits="--ulimit nofile=$nofile:$nofile --ulimit nproc=4096:4096"
