# shellcheck shell=bash
# lib.sh - several "hosts" on this one machine for the multi-host tests (sourced; not a test).
#
# A host is a network namespace with its own hostname (a UTS namespace) and its own node-local
# directory (a private mount namespace), joined to the other hosts by a veth pair to a bridge in a
# hub namespace: Open MPI sees separate machines (its TCP transport between hosts, shared memory
# only inside one). Everything else - the build, the run directory, the shard directory - is the
# same file system on every host, as a cluster's parallel file system is.
#
#   hf_hosts_setup N       creates hosts $HF_HOSTS_ID-h0 .. -h(N-1), names them hf0 .. hfN-1
#                          (their hostnames), and tears them down when the shell exits (any way)
#   hf_hosts_exec H CMD    runs CMD on host H (hf0, hf1, ...): its network, hostname, node-local dir
#   hf_hosts_mpirun HOSTLIST ARGS...  mpirun from host hf0 with --host HOSTLIST ("hf0:2,hf1:2"),
#                          Open MPI's rsh agent entering the other hosts through nsenter
#
# Each host sees its own directory (under $HF_HOSTS_DIR/node/<host>) at the one path
# $HF_HOSTS_NODE_LOCAL, like a node's /tmp or NVMe at the same path on every node; it lasts
# from one command to the next, so a later run on a host finds what an earlier one left there.
# Names are unique per shell (pid and a random number), so a leftover of a killed test never
# breaks the next; leftovers whose shell is gone are removed at the next setup.

set -u

HF_TEST_SRC=${HF_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
HF_HOSTS_SUBNET=10.231.17

hf_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Deletes the namespaces of setups whose shell is no longer running (a killed test).
hf_hosts__reap() {
    local ns pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^hfh-[0-9]*-'); do
        pid=${ns#hfh-}
        pid=${pid%%-*}
        kill -0 "$pid" 2>/dev/null && continue
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
}

hf_hosts_cleanup() {
    local rc=$? ns pids
    trap - EXIT
    for ns in ${HF_HOSTS_NS:-}; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    done
    [ -n "${HF_HOSTS_CLEANUP_HOOK:-}" ] && $HF_HOSTS_CLEANUP_HOOK
    for ns in ${HF_HOSTS_NS:-}; do
        ip netns del "$ns" 2>/dev/null
    done
    if [ -n "${HF_HOSTS_DIR:-}" ]; then
        if [ "$rc" -eq 0 ] && [ -z "${HF_HOSTS_KEEP:-}" ]; then
            rm -rf "$HF_HOSTS_DIR"
        else
            echo "(test files kept in $HF_HOSTS_DIR)" >&2
        fi
    fi
    exit "$rc"
}

hf_hosts_setup() {
    local n=${1:?usage: hf_hosts_setup N} i ns hub
    [ "$(id -u)" = 0 ] || hf_fail "the hosts tests need root (network namespaces)"
    command -v ip >/dev/null && command -v unshare >/dev/null || hf_fail "ip and unshare are needed"
    hf_hosts__reap
    HF_HOSTS_ID=hfh-$$-$RANDOM
    HF_HOSTS_DIR=$(mktemp -d /tmp/hf-hosts.XXXXXX) || hf_fail "mktemp"
    chmod 755 "$HF_HOSTS_DIR"
    HF_HOSTS_NODE_LOCAL=$HF_HOSTS_DIR/node-local
    mkdir -p "$HF_HOSTS_NODE_LOCAL" || hf_fail "mkdir"
    HF_HOSTS_NS=""
    HF_HOSTS_N=$n
    export HF_HOSTS_ID HF_HOSTS_DIR HF_HOSTS_NODE_LOCAL HF_HOSTS_N
    trap hf_hosts_cleanup EXIT
    trap 'exit 130' INT TERM
    hub=$HF_HOSTS_ID-hub
    ip netns add "$hub" || hf_fail "ip netns add $hub"
    HF_HOSTS_NS=$hub
    ip -n "$hub" link add br0 type bridge && ip -n "$hub" link set br0 up &&
        ip -n "$hub" link set lo up || hf_fail "the bridge in $hub"
    for ((i = 0; i < n; i++)); do
        ns=$HF_HOSTS_ID-h$i
        ip netns add "$ns" || hf_fail "ip netns add $ns"
        HF_HOSTS_NS="$HF_HOSTS_NS $ns"
        ip -n "$hub" link add "p$i" type veth peer name eth0 netns "$ns" &&
            ip -n "$hub" link set "p$i" master br0 && ip -n "$hub" link set "p$i" up &&
            ip -n "$ns" addr add "$HF_HOSTS_SUBNET.$((i + 1))/24" dev eth0 &&
            ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up ||
            hf_fail "the network of host hf$i ($ns)"
        mkdir -p "$HF_HOSTS_DIR/node/hf$i" || hf_fail "mkdir"
    done
    export HF_HOSTS_NS
    # Open MPI's rsh agent: "AGENT HOST CMD..." runs CMD through a shell on HOST, as ssh would.
    cat >"$HF_HOSTS_DIR/rsh" <<AGENT
#!/bin/sh
h=\$1
shift
exec bash -c '. "$HF_TEST_SRC/tests/hosts/lib.sh" && hf_hosts_exec "\$@"' sh "\$h" sh -c "\$*"
AGENT
    chmod 755 "$HF_HOSTS_DIR/rsh"
}

# hf_hosts_exec HOST CMD...: CMD on HOST (hf0, hf1, ...), with its hostname and node-local dir.
# HOST's network namespace, and a UTS and a mount namespace of its own for each command.
hf_hosts_exec() {
    local h=${1:?usage: hf_hosts_exec HOST CMD...} i
    shift
    i=${h#hf}
    # nsenter, not `ip netns exec`: that one mounts a new /sys, without the cgroup file systems
    # under /sys/fs/cgroup that slurmd needs.
    nsenter --net="/run/netns/$HF_HOSTS_ID-h$i" unshare --uts --mount --propagation private \
        sh -c 'hostname "$1" && mount --bind "$2" "$3" && shift 3 && exec "$@"' sh \
        "$h" "$HF_HOSTS_DIR/node/$h" "$HF_HOSTS_NODE_LOCAL" "$@"
}

# hf_hosts_mpirun HOSTLIST MPIRUN-ARGS...: mpirun on hf0 with ranks on the hosts of HOSTLIST.
# The TCP transport between hosts on the veth subnet, shared memory within one host.
hf_hosts_mpirun() {
    local hosts=${1:?usage: hf_hosts_mpirun HOSTLIST ARGS...}
    shift
    hf_hosts_exec hf0 mpirun --host "$hosts" --mca plm_rsh_agent "$HF_HOSTS_DIR/rsh" \
        --mca oob_tcp_if_include "$HF_HOSTS_SUBNET.0/24" \
        --mca btl_tcp_if_include "$HF_HOSTS_SUBNET.0/24" "$@"
}

# hf_hosts_same_results A B: two results.json agree on every score, parameter and selection:
# everything but timing and placement (which rank or host ran what, fit times, paths). Further
# keys to leave out may follow (spec_sha256 where the two specs differ on purpose).
hf_hosts_same_results() {
    "$PYTHON" "$HF_SOURCE_DIR/tests/lib/same_results.py" "$@" || hf_fail "results differ: $1 vs $2"
}

# hf_hosts_same_file A B WHAT: the two files are byte for byte the same (predictions).
hf_hosts_same_file() {
    cmp -s "$1" "$2" || hf_fail "$3 differ: $1 vs $2 ($(cmp "$1" "$2" 2>&1 | head -n 1))"
}

# hf_hosts_same_model A B: two model.h5 files hold the same datasets and attributes, bit for bit,
# apart from the time they were created.
hf_hosts_same_model() {
    "$PYTHON" - "$1" "$2" <<'PY' || hf_fail "models differ: $1 vs $2"
import sys
import h5py
import numpy as np
def items(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for k, v in obj.attrs.items():
                if k != "created":
                    out[name + "@" + k] = np.asarray(v).tobytes() if not isinstance(v, (str, bytes)) else v
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()].tobytes() if obj.dtype.kind != "O" else repr(obj[()])
        visit("/", f)
        f.visititems(visit)
    return out
a, b = items(sys.argv[1]), items(sys.argv[2])
bad = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
if bad:
    print("model.h5 differs in: " + ", ".join(bad[:10]), file=sys.stderr)
    sys.exit(1)
PY
}
