#!/usr/bin/env bash
# The MPI benchmarks across 3 network-namespace hosts over TCP (tests/hosts/netns_hosts.sh;
# root only), next to mpi4py.futures on the same hosts, and the single-host figures of the
# same run. Each variant runs RUNS times (default 3), interleaved; every line is printed as
#   <variant> <metric> <value> <unit>
#   bash bench/mpi/run_hosts.sh build/bench/bench/bench_mpi [RUNS]
# Variants: cfutures_comm / mpi4py_comm (comm_executor / MPICommExecutor: 3 ranks, one per
# host), cfutures_pool / mpi4py_pool (pool_executor / MPIPoolExecutor(max_workers=2) from
# `mpirun -n 1` on node1, workers spawned on node2 and node3, with start-up), and
# cfutures_1host (3 ranks on node1 alone: shared memory).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(realpath "${1:?path to bench_mpi}")
runs=${2:-3}
. "$here/../../tests/hosts/netns_hosts.sh"
hosts_up 3
unset OMPI_MCA_btl  # single host: shared memory; across hosts tcp,self (below)
py="$here/mpi4py_futures.py"
python=${PYTHON:-/usr/bin/python3}  # Debian's python3-mpi4py
tcp=(--mca btl tcp,self)
label() { sed "s/^/$1 /"; }
uptime
for run in $(seq 1 "$runs"); do
  mpi_job 300 -n 3 --host node1:3 "$bench" | label cfutures_1host
  mpi_job 300 -n 3 --host node1,node2,node3 "${tcp[@]}" "$bench" | label cfutures_comm
  mpi_job 300 -n 3 --host node1,node2,node3 "${tcp[@]}" "$python" "$py" | label mpi4py_comm
  mpi_job 300 -n 1 --host node1:1,node2:1,node3:1 "${tcp[@]}" "$bench" --pool | label cfutures_pool
  mpi_job 300 -n 1 --host node1:1,node2:1,node3:1 "${tcp[@]}" "$python" "$py" --pool |
    label mpi4py_pool
done
uptime
