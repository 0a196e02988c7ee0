# tests/hosts/netns_hosts.sh — real network hosts on one machine, for MPI jobs over TCP.
# Sourced by run_scenario.sh. Needs root, iproute2 (ip netns) and util-linux (unshare).
#
#   hosts_up N      N network namespaces "<prefix>h1".."<prefix>hN", hostnames node1..nodeN
#                   (each its own UTS namespace), addresses 10.77.0.1..N/24 on eth0, joined
#                   by a bridge in a namespace of its own ("<prefix>br"): nothing is added to
#                   the root namespace's network. Names resolve through /etc/netns/<ns>/hosts
#                   (ip netns exec bind-mounts it over /etc/hosts). The rsh agent that Open
#                   MPI uses instead of ssh is written to $HOSTS_DIR/agent.
#   on_host I CMD   runs CMD as host I (its network, its hostname)
#   mpi_job SECS ARGS...  mpirun ARGS on host 1, under `timeout -k 5 SECS`, over TCP only
#   veth_bytes I    bytes through host I's eth0 (received + sent)
#   hosts_down      kills every process in the namespaces and deletes them (an EXIT trap)
# The prefix is "cfh<pid>-": unique per run. Namespaces left by a run that died (their pid
# is gone) are removed first.

HOSTS_SUBNET=10.77.0.0/24
HOSTS_DIR=""
HOSTS_PREFIX="cfh$$-"
HOSTS_N=0

hosts_skip() {  # exits 77: CTest's SKIP_RETURN_CODE
  echo "SKIPPED: network-namespace hosts are not available here: $*" >&2
  exit 77
}

hosts_check() {
  [ "$(id -u)" = 0 ] || hosts_skip "not root"
  command -v ip >/dev/null || hosts_skip "no 'ip' (iproute2)"
  command -v unshare >/dev/null || hosts_skip "no 'unshare' (util-linux)"
  command -v mpirun >/dev/null || hosts_skip "no mpirun"
  unshare --uts --net true 2>/dev/null || hosts_skip "unshare --uts --net is not permitted"
}

remove_namespace() {
  local ns=$1 pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "/etc/netns/$ns"
}

hosts_clean_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^cfh[0-9]+-' || true); do
    pid=${ns#cfh}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || remove_namespace "$ns"
  done
}

hosts_down() {
  local i
  for i in $(seq 1 "$HOSTS_N"); do
    local pids; pids=$(ip netns pids "${HOSTS_PREFIX}h$i" 2>/dev/null || true)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  done
  for i in $(seq 1 "$HOSTS_N"); do remove_namespace "${HOSTS_PREFIX}h$i"; done
  remove_namespace "${HOSTS_PREFIX}br"
  [ -n "$HOSTS_DIR" ] && rm -rf "$HOSTS_DIR"
  HOSTS_N=0
}

hosts_up() {
  local n=$1 i br="${HOSTS_PREFIX}br"
  hosts_check
  hosts_clean_stale
  HOSTS_DIR=$(mktemp -d /tmp/cfutures-hosts.XXXXXX)
  HOSTS_N=$n
  trap hosts_down EXIT
  trap 'exit 130' INT TERM
  ip netns add "$br" || hosts_skip "ip netns add failed"
  ip -n "$br" link add br0 type bridge
  ip -n "$br" link set br0 up
  for i in $(seq 1 "$n"); do
    local ns="${HOSTS_PREFIX}h$i"
    ip netns add "$ns"
    ip -n "$ns" link add eth0 type veth peer name v$i netns "$br"
    ip -n "$br" link set v$i master br0
    ip -n "$br" link set v$i up
    ip -n "$ns" addr add 10.77.0.$i/24 dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
  for i in $(seq 1 "$n"); do
    mkdir -p "/etc/netns/${HOSTS_PREFIX}h$i"
    {
      echo "127.0.0.1 localhost"
      local j; for j in $(seq 1 "$n"); do echo "10.77.0.$j node$j"; done
    } > "/etc/netns/${HOSTS_PREFIX}h$i/hosts"
  done
  # Open MPI's rsh agent: `agent nodeI command...` runs the command as host I, through a
  # shell as ssh would.
  cat > "$HOSTS_DIR/agent" <<AGENT
#!/bin/sh
host=\$1; shift
exec ip netns exec "${HOSTS_PREFIX}h\${host#node}" unshare --uts sh -c "hostname \$host; \$*"
AGENT
  chmod +x "$HOSTS_DIR/agent"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  # For programs started without mpirun (a singleton's daemon reads these too).
  export OMPI_MCA_plm_rsh_agent="$HOSTS_DIR/agent"
  export OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=$HOSTS_SUBNET
  export OMPI_MCA_oob_tcp_if_include=$HOSTS_SUBNET OMPI_MCA_mpi_yield_when_idle=1
  export OMPI_MCA_rmaps_base_oversubscribe=1
  # The hosts share this machine's CPUs: Open MPI's default binding (a job of one or two
  # processes to a core) would put the first process of every host on the same CPU.
  export OMPI_MCA_hwloc_base_binding_policy=none
}

on_host() {
  local i=$1; shift
  ip netns exec "${HOSTS_PREFIX}h$i" unshare --uts sh -c 'hostname "$0"; exec "$@"' "node$i" "$@"
}

mpi_job() {
  local secs=$1; shift
  on_host 1 timeout -k 5 "$secs" mpirun --allow-run-as-root "$@"
}

veth_bytes() {
  local i=$1
  ip netns exec "${HOSTS_PREFIX}h$i" sh -c \
    'echo $(( $(cat /sys/class/net/eth0/statistics/rx_bytes) + $(cat /sys/class/net/eth0/statistics/tx_bytes) ))'
}
