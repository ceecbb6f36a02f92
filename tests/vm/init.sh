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

# A thread reading the other node's replica: NT008.
$NT run --no-output -- $LOADER $MODEL --strategy mirror --threads 2 --fault wrong-replica >/tmp/out 2>/tmp/err
head -3 /tmp/err
has "NT008 " /tmp/err && ok "wrong replica gives NT008" || bad "wrong replica without NT008"

# Both replicas bound to node 0: NT009 from placement sampling.
$NT run --no-output -- $LOADER $MODEL --strategy mirror --fault misbind >/tmp/out 2>/tmp/err
head -3 /tmp/err
has "NT009 the replica mapping in slot 0 for node 1 .* on node 1, most on node 0" /tmp/err && ok "misbind gives NT009" || bad "misbind without NT009"

# hugetlbfs with per-node hugepages.
for n in 0 1; do echo 16 >/sys/devices/system/node/node$n/hugepages/hugepages-2048kB/nr_hugepages; done
echo "VM: hugepages per node: $(cat /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages) $(cat /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages)"
mkdir -p /mnt/huge && mount -t hugetlbfs none /mnt/huge
$NT run -o /tmp/huge.nttrace -- $LOADER $MODEL --strategy mirror --hugetlbfs /mnt/huge --threads 2 --verify >/tmp/out 2>/tmp/err
rc=$?
cat /tmp/out /tmp/err
[ $rc = 0 ] && ok "hugetlbfs mirror load verified" || bad "hugetlbfs mirror load exited $rc"
$NT report /tmp/huge.nttrace >/tmp/report; sed -n '/^mappings/,/^$/p' /tmp/report
has "replica +1 .*node1 100%" /tmp/report && ok "hugetlbfs replica 1 on node 1" || bad "hugetlbfs replica 1 not on node 1"

echo "VM-DONE"
poweroff -f
