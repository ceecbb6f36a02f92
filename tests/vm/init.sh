#!/bin/busybox sh
# /init of the 2-node test VM: runs the checks and prints results on the
# serial console as "VM-PASS: ..." / "VM-FAIL: ...", then powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
cd /tmp
NT=/nt/bin/numa-trace LOADER=/nt/bin/numa-trace-loader MODEL=/model/m
ok() { echo "VM-PASS: $*"; }
bad() { echo "VM-FAIL: $*"; }
has() { grep -qE "$1" "$2"; }

nodes=$(ls -d /sys/devices/system/node/node[0-9]* | wc -l)
echo "VM: $nodes NUMA nodes; node0 cpus $(cat /sys/devices/system/node/node0/cpulist), node1 cpus $(cat /sys/devices/system/node/node1/cpulist 2>/dev/null)"
[ "$nodes" = 2 ] && ok "2 NUMA nodes" || bad "expected 2 NUMA nodes, got $nodes"

# Mirror: replica k on node k, every thread reads its own node's replica.
# (nt_fault=NAME on the kernel command line breaks it on purpose.)
FAULT=$(sed -n 's/.*nt_fault=\([a-z-]*\).*/\1/p' /proc/cmdline)
[ -n "$FAULT" ] && echo "VM: injecting --fault $FAULT into the mirror load"
$NT run -o /tmp/mirror.nttrace -- $LOADER $MODEL --strategy mirror --threads 2 --verify ${FAULT:+--fault $FAULT} >/tmp/out 2>/tmp/err
rc=$?
cat /tmp/out /tmp/err
[ $rc = 0 ] && ok "mirror load verified" || bad "mirror load exited $rc"
$NT report /tmp/mirror.nttrace >/tmp/report; cat /tmp/report
has "replica +0 .*node0 100%  node1   0%" /tmp/report && ok "replica 0 on node 0" || bad "replica 0 not on node 0"
has "replica +1 .*node0   0%  node1 100%" /tmp/report && ok "replica 1 on node 1" || bad "replica 1 not on node 1"
has "by the node of the resolving thread: node0 [0-9]+ node1 [0-9]+" /tmp/report && ok "threads on both nodes resolved" || bad "resolves not from both nodes"
has "^findings: none" /tmp/report && ok "no NT008, no NT009" || bad "findings on the clean mirror load"
# The clean mirror trace, for the host's HTML report test (vm.sh keeps it).
echo "VM-TRACE-BEGIN"; base64 /tmp/mirror.nttrace; echo "VM-TRACE-END"

# A thread reading the other node's replica: NT008.
$NT run --no-output -- $LOADER $MODEL --strategy mirror --threads 2 --fault wrong-replica >/tmp/out 2>/tmp/err
head -3 /tmp/err
has "NT008 " /tmp/err && ok "wrong replica gives NT008" || bad "wrong replica without NT008"

# Both replicas bound to node 0: NT009 from placement sampling.
$NT run --no-output -- $LOADER $MODEL --strategy mirror --fault misbind >/tmp/out 2>/tmp/err
head -3 /tmp/err
has "NT009 the replica mapping in slot 0 for node 1 .* on node 1, most on node 0" /tmp/err && ok "misbind gives NT009" || bad "misbind without NT009"

# Remote reads (NT015): the splits' pages on node 1 (copied into tmpfs by a
# task on CPU 1, node 1), resolved by threads on node 0; then the same load
# bound to node 1. remote LOADER-ARGS... : the share, in the process and in
# the report.
remote() {
  name=$1 where=$2; shift 2
  taskset $where $NT run -o /tmp/$name.nttrace -- "$@" >/tmp/out 2>/tmp/err
  rc=$?
  [ $rc = 0 ] || { bad "$name: exited $rc"; tail -5 /tmp/err; }
  $NT report /tmp/$name.nttrace >/tmp/report
  sed -n '/^remote reads/,/^$/p' /tmp/report
  sed -n '/^findings/,$p' /tmp/report
}
mkdir -p /tmp/n1 && taskset 2 cp /model/m-* /tmp/n1/
remote per-file-remote 1 $LOADER /tmp/n1/m-00001-of-00006.gguf --strategy per-file --threads 2
grep NT015 /tmp/err
has "NT015 (9[0-9]|100)% of the .* resolved with known placement lie on another node than the resolving thread's .*; most by threads on node 0 reading .* whose pages are mostly on node 1: run the threads on node 1" /tmp/err &&
  ok "files on node 1 read by node-0 threads: NT015 in the process" || bad "no NT015 from the process for node-0 threads reading node-1 files"
has "in all: (9[0-9]|100)% of .* remote" /tmp/report && has "NT015 x1, first: NT015 (9[0-9]|100)% of" /tmp/report &&
  ok "the report shows the share and the recorded NT015" || bad "the report lacks the remote share or NT015"
remote per-file-local 2 $LOADER /tmp/n1/m-00001-of-00006.gguf --strategy per-file --threads 2
has "in all: 0% of" /tmp/report && has "^findings: none" /tmp/report && ! grep -q NT015 /tmp/err &&
  ok "the same load bound to node 1: no NT015" || bad "a load bound to its files' node raised NT015 or reads remotely"

# numa-trace placement PID: the same splits held by a loader that was not
# started under numa-trace show node 1; a mirror held with libnumatrace
# shows each replica on its node (from the flight recorder).
hold() {  # hold OUT COMMAND...: start it in the background, wait for "ready"
  out=$1; shift
  "$@" >$out 2>&1 &
  HELD=$!
  for i in $(seq 100); do grep -q '^ready' $out && return 0; sleep 0.1; done
  bad "$* did not get ready: $(tail -2 $out)"
}
hold /tmp/hold.out taskset 1 $LOADER /tmp/n1/m-00001-of-00006.gguf --strategy per-file --hold
$NT placement $HELD >/tmp/placement; cat /tmp/placement
kill $HELD; wait $HELD
has "^  file 0, .* mapped:  node0 +0%  node1 100%" /tmp/placement && has "^  file 5, .* mapped:  node0 +0%  node1 100%" /tmp/placement &&
  ok "placement PID: the splits on node 1 show node 1" || bad "placement PID did not show the splits on node 1"
hold /tmp/hold.out env LD_PRELOAD=/nt/lib/libnumatrace.so $LOADER $MODEL --strategy mirror --threads 2 --hold
$NT placement $HELD >/tmp/placement; cat /tmp/placement
kill $HELD; wait $HELD
has "^replica region in slot 0 for node 1 \(flight recorder\), .*:  node0 +0%  node1 100%" /tmp/placement &&
  has "^replica region in slot 0 for node 0 \(flight recorder\), .*:  node0 100%  node1 +0%" /tmp/placement &&
  ok "placement PID: each replica on its node" || bad "placement PID: replicas not shown on their nodes"

# The real loader: upstream llama.cpp's llama-simple, the same two ways.
if [ -x /llama/llama-simple ]; then
  mkdir -p /tmp/l1 && taskset 2 cp /model/l-* /tmp/l1/
  export LD_LIBRARY_PATH=/llama
  remote llama-remote 1 /llama/llama-simple -m /tmp/l1/l-00001-of-00003.gguf -n 4 hello
  has "NT015 (9[0-9]|100)% of .* threads on node 0 reading .* whose pages are mostly on node 1" /tmp/report &&
    ok "llama.cpp: files on node 1 read by node-0 threads give NT015" || bad "llama.cpp: no NT015 for node-0 threads reading node-1 files"
  remote llama-local 2 /llama/llama-simple -m /tmp/l1/l-00001-of-00003.gguf -n 4 hello
  has "in all: 0% of" /tmp/report && has "^findings: none" /tmp/report &&
    ok "llama.cpp bound to node 1: no NT015" || bad "llama.cpp bound to its files' node: NT015 or remote reads"
  unset LD_LIBRARY_PATH
else
  bad "upstream llama-simple is not in the initramfs (tools/quickstart test builds it)"
fi

# numa-trace check: a mirror with too few hugepages on node 1.
echo 16 >/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
echo 2 >/sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages
mkdir -p /mnt/huge && mount -t hugetlbfs none /mnt/huge
$NT check $MODEL --strategy mirror --hugetlbfs /mnt/huge >/tmp/check
rc=$?
cat /tmp/check
[ $rc = 1 ] && has "^  NT009 node 1: its replica needs [0-9]+ hugepages of 2.0 MiB and node 1 has 2 free: [0-9]+ missing" /tmp/check &&
  ! grep -q "node 0: its replica" /tmp/check && ok "check: too few hugepages on node 1, named with the count missing" ||
  bad "check did not name node 1's missing hugepages (exit $rc)"
# ... and a mirror larger than node 1's free memory (node 1 filled first).
mkdir -p /fill && mount -t tmpfs -o size=1500M fill /fill
free1=$(awk '/MemFree/ {print int($4 / 1024)}' /sys/devices/system/node/node1/meminfo)
taskset 2 dd if=/dev/zero of=/fill/x bs=1M count=$((free1 - 16)) 2>/dev/null
taskset 1 $NT gen-model /tmp/big --splits 2 --size 64M >/dev/null 2>&1
$NT check /tmp/big --strategy mirror >/tmp/check
rc=$?
cat /tmp/check
[ $rc = 1 ] && has "^  NT009 node 1: its replica needs 6[0-9.]+ MiB and node 1 has [0-9.]+ MiB available .* short" /tmp/check &&
  ! grep -q "node 0: its replica" /tmp/check && ok "check: a mirror larger than node 1's memory is refused with the numbers" ||
  bad "check did not refuse the mirror node 1 has no room for (exit $rc)"
rm -f /fill/x /tmp/big-*

# hugetlbfs with per-node hugepages.
for n in 0 1; do echo 16 >/sys/devices/system/node/node$n/hugepages/hugepages-2048kB/nr_hugepages; done
echo "VM: hugepages per node: $(cat /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages) $(cat /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages)"
$NT run -o /tmp/huge.nttrace -- $LOADER $MODEL --strategy mirror --hugetlbfs /mnt/huge --threads 2 --verify >/tmp/out 2>/tmp/err
rc=$?
cat /tmp/out /tmp/err
[ $rc = 0 ] && ok "hugetlbfs mirror load verified" || bad "hugetlbfs mirror load exited $rc"
$NT report /tmp/huge.nttrace >/tmp/report; sed -n '/^mappings/,/^$/p' /tmp/report
has "replica +1 .*node1 100%" /tmp/report && ok "hugetlbfs replica 1 on node 1" || bad "hugetlbfs replica 1 not on node 1"

echo "VM-DONE"
poweroff -f
