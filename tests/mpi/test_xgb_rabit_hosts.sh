#!/usr/bin/env bash
# mpitest_xgb_rabit with its 2 ranks on two "hosts": two network namespaces joined by a veth pair,
# each rank in its own UTS namespace with its own hostname (docs/scaling.md "Distributed
# XGBoost"). The group leader's tracker then listens on its veth address (the default when the
# group's hostnames differ), the other host's rank joins it over the veth, and every check of the
# 1-host run holds: boosters byte-identical across the hosts and to one process's, refusals one
# line on both hosts. Needs root and `ip netns` (skipped with a line otherwise).
set -euo pipefail
: "${HF_BUILD_DIR:?}"
DRIVER="$HF_BUILD_DIR/tests/mpi_mpitest_xgb_rabit"
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v unshare >/dev/null; then
    echo "xgb_rabit_hosts: skipped (needs root, ip and unshare)"
    exit 0
fi
TAG=hfx$$ # unique names: other runs may hold their own namespaces
NA=${TAG}a NB=${TAG}b NET=10.$((($$ % 200) + 20)).$((($$ / 200) % 250)).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hf_xgb_hosts.XXXXXX")
cleanup() {
    ip netns del "$NA" 2>/dev/null || true
    ip netns del "$NB" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$NA"
ip netns add "$NB"
ip link add "${NA}0" type veth peer name "${NB}0"
ip link set "${NA}0" netns "$NA"
ip link set "${NB}0" netns "$NB"
ip -n "$NA" addr add "${NET}1/24" dev "${NA}0"
ip -n "$NB" addr add "${NET}2/24" dev "${NB}0"
for ns in "$NA" "$NB"; do
    ip -n "$ns" link set lo up
done
ip -n "$NA" link set "${NA}0" up
ip -n "$NB" link set "${NB}0" up

# Open MPI's rsh agent: runs the command in the host's namespace under its own hostname.
cat >"$WORK/agent.sh" <<AGENT
#!/bin/sh
host=\$1; shift
case "\$host" in ${NET}1) ns=$NA; name=${TAG}-a ;; *) ns=$NB; name=${TAG}-b ;; esac
exec ip netns exec \$ns unshare --uts sh -c "hostname \$name; exec sh -c \"\\\$0\"" "\$*"
AGENT
chmod +x "$WORK/agent.sh"
cat >"$WORK/run.sh" <<RUN
#!/bin/sh
hostname ${TAG}-a
exec mpirun --host ${NET}1:1,${NET}2:1 -np 2 --mca plm_rsh_agent $WORK/agent.sh \\
    --mca oob_tcp_if_include ${NET}0/24 --mca btl tcp,self --mca btl_tcp_if_include ${NET}0/24 \\
    -x HF_RABIT_TIMEOUT=30 "\$@"
RUN
chmod +x "$WORK/run.sh"
out=$(ip netns exec "$NA" unshare --uts "$WORK/run.sh" "$DRIVER" 2>&1) || {
    echo "$out"
    echo "xgb_rabit_hosts: the 2-host run failed"
    exit 1
}
echo "$out"
# The tracker listened on the leader's veth address, not loopback.
grep -q "on ${NET}1 did not start: no module xgboost" <<<"$out" || {
    echo "xgb_rabit_hosts: expected the tracker on ${NET}1 (the leader host's veth address)"
    exit 1
}
grep -q "mpitest_xgb_rabit on 2 ranks: ok" <<<"$out"
