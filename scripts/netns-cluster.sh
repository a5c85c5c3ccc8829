#!/usr/bin/env bash
# Simulates a cluster of N hosts on this machine with Linux network namespaces, so that mpirun starts
# ranks on separate network stacks and they talk over TCP, as across machines, without any sshd.
#
#   scripts/netns-cluster.sh up N [SLOTS]     create namespaces kvf-node0..kvf-node(N-1), SLOTS each (default 1)
#   scripts/netns-cluster.sh down             remove everything that up created; safe to repeat
#   scripts/netns-cluster.sh run [-N N] [-s SLOTS] -- MPIRUN_ARGS...
#                                             up (unless already up), mpirun, then always down;
#                                             exits with mpirun's status
#
# Each namespace has lo and an eth0 that is one end of a veth pair; the other end is a port of the bridge
# kvf-br0 in the root namespace. The bridge has the first address of the subnet, so that mpirun in the
# root namespace reaches the daemons, and node i has address i+2 of the subnet. Open MPI's rsh launcher
# starts its daemons through an agent script that enters the namespace (and a UTS namespace with the
# node's host name) instead of calling ssh.
#
# Environment:
#   KVF_NETNS_SUBNET     private IPv4 subnet for the bridge and the nodes (default 10.251.73.0/24); up
#                        rejects it when an address or route of this host overlaps it
#   KVF_NETNS_STATE_DIR  directory for the hostfile and the agent (default $XDG_RUNTIME_DIR or /tmp,
#                        then /kvf-netns-cluster)
# Needs root and iproute2. One cluster per machine at a time, because the names are fixed.
set -euo pipefail

readonly node_prefix=kvf-node
readonly bridge=kvf-br0
readonly veth_prefix=kvf-veth
readonly max_nodes=64
readonly subnet=${KVF_NETNS_SUBNET:-10.251.73.0/24}
readonly state_dir=${KVF_NETNS_STATE_DIR:-${XDG_RUNTIME_DIR:-/tmp}/kvf-netns-cluster}

program=$(basename "$0")

usage() {
  cat >&2 <<EOF
usage: $program up N [SLOTS]
       $program down
       $program run [-N N] [-s SLOTS] -- MPIRUN_ARGS...
N is the number of namespaces (1-$max_nodes, default 2 for run); SLOTS the ranks per namespace (default 1).
EOF
}

die() {
  printf '%s: %s\n' "$program" "$*" >&2
  exit 1
}

log() { printf '%s: %s\n' "$program" "$*" >&2; }

# Rejects anything but a decimal integer in [1, max].
require_count() {
  local name=$1 value=$2 max=$3
  if ! [[ $value =~ ^[0-9]+$ ]] || ((10#$value < 1 || 10#$value > max)); then
    usage
    die "invalid $name '$value'; expected an integer from 1 to $max"
  fi
}

require_tools() {
  [[ $(id -u) -eq 0 ]] || die "must run as root, because creating network namespaces needs CAP_SYS_ADMIN; rerun with sudo"
  command -v ip >/dev/null 2>&1 || die "ip not found; install iproute2 (apt-get install iproute2)"
  command -v unshare >/dev/null 2>&1 || die "unshare not found; install util-linux (apt-get install util-linux)"
}

# IPv4 arithmetic on 32-bit integers, for the subnet checks.
ip_to_int() {
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  echo $(((a << 24) | (b << 16) | (c << 8) | d))
}

int_to_ip() {
  local n=$1
  echo "$(((n >> 24) & 255)).$(((n >> 16) & 255)).$(((n >> 8) & 255)).$((n & 255))"
}

prefix_mask() { echo $(((0xFFFFFFFF << (32 - $1)) & 0xFFFFFFFF)); }

# Sets subnet_network (integer), subnet_length and subnet_size from KVF_NETNS_SUBNET.
parse_subnet() {
  local octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
  if ! [[ $subnet =~ ^$octet\.$octet\.$octet\.$octet/([0-9]+)$ ]]; then
    die "invalid KVF_NETNS_SUBNET '$subnet'; expected an IPv4 subnet such as 10.251.73.0/24"
  fi
  subnet_length=${BASH_REMATCH[5]}
  if ((subnet_length < 16 || subnet_length > 29)); then
    die "invalid KVF_NETNS_SUBNET '$subnet'; the prefix length must be from 16 to 29"
  fi
  subnet_network=$(($(ip_to_int "${subnet%/*}") & $(prefix_mask "$subnet_length")))
  subnet_size=$((1 << (32 - subnet_length)))
}

# Returns success when the CIDR block $1 (a bare address is a /32) overlaps the test subnet.
overlaps_subnet() {
  local address=${1%/*} length=32 shorter
  [[ $1 == */* ]] && length=${1#*/}
  [[ $address =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || return 1
  shorter=$((length < subnet_length ? length : subnet_length))
  local mask
  mask=$(prefix_mask "$shorter")
  ((($(ip_to_int "$address") & mask) == (subnet_network & mask)))
}

# Rejects a subnet that any address or route of the root namespace already uses, because the bridge
# would then shadow or hijack real traffic.
check_subnet_free() {
  local cidr
  while read -r cidr; do
    if overlaps_subnet "$cidr"; then
      die "subnet $subnet overlaps $cidr, already used on this host; set KVF_NETNS_SUBNET to a free private subnet"
    fi
  done < <(ip -4 -o addr show | awk '{print $4}'; ip -4 route show table all | awk '$1 != "default" && $1 != "broadcast" && $1 != "local" {print $1}')
}

node_address() { int_to_ip $((subnet_network + 2 + $1)); }

existing_nodes() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${node_prefix}[0-9]+\$" || true; }

cluster_is_up() {
  [[ -f $state_dir/hostfile ]] && [[ -n $(existing_nodes) ]] && ip link show "$bridge" >/dev/null 2>&1
}

write_agent() {
  # Open MPI's rsh launcher runs "AGENT HOST COMMAND..." in place of "ssh HOST COMMAND...", and ssh would
  # join COMMAND into one string for the remote shell, so the agent does the same inside the namespace.
  cat >"$state_dir/netns-agent" <<EOF
#!/bin/sh
# Written by $program: starts a command "on" one of its network namespaces for Open MPI.
set -eu
if [ \$# -lt 2 ]; then
  echo "netns-agent: usage: netns-agent HOST COMMAND..." >&2
  exit 2
fi
host=\$1
shift
case \$host in
  ${node_prefix}[0-9]|${node_prefix}[0-9][0-9]) ;;
  *) echo "netns-agent: unknown host '\$host'; the hostfile may name only ${node_prefix}N namespaces" >&2; exit 2 ;;
esac
# The UTS namespace gives the node its own host name, as a separate machine has.
exec ip netns exec "\$host" unshare --uts /bin/sh -c 'hostname "\$0" && exec /bin/sh -c "\$1"' "\$host" "\$*"
EOF
  chmod 755 "$state_dir/netns-agent"
}

# Set while up runs, so that a failure part-way removes what was created.
creating=0

cleanup_on_failure() {
  local status=$?
  if ((creating && status != 0)); then
    log "setup failed; removing what was created"
    down_cluster
  fi
}

up_cluster() {
  local nodes=$1 slots=$2 i name veth peer address
  require_tools
  parse_subnet
  if ((nodes + 3 > subnet_size)); then
    die "subnet $subnet has room for $((subnet_size - 3)) nodes, not $nodes; choose a larger KVF_NETNS_SUBNET"
  fi
  if [[ -n $(existing_nodes) ]] || ip link show "$bridge" >/dev/null 2>&1; then
    die "a cluster already exists (namespace ${node_prefix}0 or bridge $bridge); run '$program down' first"
  fi
  check_subnet_free

  creating=1
  trap cleanup_on_failure EXIT
  mkdir -p "$state_dir"
  chmod 700 "$state_dir"

  local error
  if ! error=$(ip netns add "${node_prefix}0" 2>&1); then
    die "cannot create network namespace ${node_prefix}0 ($error); this needs root with CAP_SYS_ADMIN, which some containers withhold"
  fi
  if ! error=$(ip link add "$bridge" type bridge 2>&1); then
    die "cannot create bridge $bridge ($error); the kernel needs bridge support (module 'bridge')"
  fi
  ip addr add "$(int_to_ip $((subnet_network + 1)))/$subnet_length" dev "$bridge"
  ip link set "$bridge" up

  : >"$state_dir/hostfile"
  for ((i = 0; i < nodes; i++)); do
    name=$node_prefix$i
    veth=$veth_prefix$i
    peer=kvf-peer$i
    address=$(node_address "$i")
    ((i == 0)) || ip netns add "$name"
    ip link add "$veth" type veth peer name "$peer"
    ip link set "$peer" netns "$name"
    ip link set "$veth" master "$bridge"
    ip link set "$veth" up
    ip -n "$name" link set lo up
    ip -n "$name" link set "$peer" name eth0
    ip -n "$name" addr add "$address/$subnet_length" dev eth0
    ip -n "$name" link set eth0 up
    # Without IPv6 on eth0, Open MPI has no link-local address to offer, so all traffic uses the subnet.
    ip netns exec "$name" sysctl -q -w net.ipv6.conf.eth0.disable_ipv6=1 2>/dev/null || true
    printf '%s slots=%d\n' "$name" "$slots" >>"$state_dir/hostfile"
  done
  write_agent

  creating=0
  trap - EXIT
  log "$nodes namespaces on $subnet, bridge $bridge at $(int_to_ip $((subnet_network + 1))); hostfile $state_dir/hostfile"
}

# Removes the namespaces (which deletes their veth ends), the bridge, any veth left in the root namespace
# and the state directory. Each step tolerates a missing object, so down is idempotent.
down_cluster() {
  local name link
  for name in $(existing_nodes); do
    ip netns delete "$name" 2>/dev/null || log "could not delete namespace $name"
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^(${veth_prefix}[0-9]+|kvf-peer[0-9]+)\$" || true); do
    ip link delete "$link" 2>/dev/null || true
  done
  if ip link show "$bridge" >/dev/null 2>&1; then
    ip link delete "$bridge" 2>/dev/null || log "could not delete bridge $bridge"
  fi
  rm -rf "$state_dir"
}

mpirun_pid=

# Stops mpirun, which then stops its ranks, and exits with the given status; the EXIT trap runs down.
forward_signal() {
  kill -s "$1" "$mpirun_pid" 2>/dev/null || true
  wait "$mpirun_pid" 2>/dev/null || true
  exit "$2"
}

run_cluster() {
  local nodes=2 slots=1
  while (($# > 0)) && [[ $1 != -- ]]; do
    case $1 in
      -N) (($# >= 2)) || { usage; die "-N needs a value"; }; nodes=$2; shift 2 ;;
      -s) (($# >= 2)) || { usage; die "-s needs a value"; }; slots=$2; shift 2 ;;
      *) usage; die "unknown run option '$1'; mpirun arguments go after --" ;;
    esac
  done
  (($# > 0)) || { usage; die "run needs -- before the mpirun arguments"; }
  shift
  (($# > 0)) || { usage; die "run needs mpirun arguments after --, such as -np 2 hostname"; }
  require_count "node count" "$nodes" "$max_nodes"
  require_count "slot count" "$slots" 256
  require_tools
  command -v mpirun >/dev/null 2>&1 || die "mpirun not found; install Open MPI (apt-get install openmpi-bin)"
  parse_subnet

  if cluster_is_up; then
    log "using the cluster that is already up (hostfile $state_dir/hostfile)"
  else
    up_cluster "$((10#$nodes))" "$((10#$slots))"
  fi
  trap down_cluster EXIT

  # btl tcp,self leaves out shared memory (vader), so ranks exchange messages over TCP on the subnet even
  # though they share one kernel. The daemons (oob) also stay on the subnet. Without --bind-to none every
  # namespace's daemon would pin its first rank to core 0, because each sees the whole machine.
  # mpirun runs in the background so that a signal to this script is handled at once: bash runs traps
  # only between commands, and waits for a foreground command first. The explicit <&0 keeps the
  # terminal's standard input, which a background command would otherwise lose to /dev/null.
  local status=0
  mpirun --allow-run-as-root \
    --hostfile "$state_dir/hostfile" \
    --mca plm_rsh_agent "$state_dir/netns-agent" \
    --mca plm_rsh_no_tree_spawn 1 \
    --mca btl tcp,self \
    --mca btl_tcp_if_include "$subnet" \
    --mca oob_tcp_if_include "$subnet" \
    --bind-to none \
    "$@" <&0 &
  mpirun_pid=$!
  trap 'forward_signal TERM 130' INT
  trap 'forward_signal TERM 143' TERM
  wait "$mpirun_pid" || status=$?
  exit "$status"
}

main() {
  (($# > 0)) || { usage; exit 2; }
  local verb=$1
  shift
  case $verb in
    up)
      (($# >= 1 && $# <= 2)) || { usage; die "up needs N and an optional SLOTS"; }
      require_count "node count" "$1" "$max_nodes"
      require_count "slot count" "${2:-1}" 256
      up_cluster "$((10#$1))" "$((10#${2:-1}))"
      ;;
    down)
      (($# == 0)) || { usage; die "down takes no arguments"; }
      require_tools
      down_cluster
      ;;
    run) run_cluster "$@" ;;
    -h | --help | help) usage ;;
    *) usage; die "unknown command '$verb'; expected up, down or run" ;;
  esac
}

main "$@"
