#!/usr/bin/env bash
# A real 2-node NUMA topology: QEMU (TCG) boots Debian's cloud kernel with an
# initramfs built here (busybox-static, numa-trace, the reference loader, a
# generated model, upstream llama.cpp's llama-simple when tools/quickstart
# built it, and every shared library they need); the guest runs
# tests/vm/init.sh and prints results on the serial console, which this
# script reads. Usage: vm.sh NUMA_TRACE LOADER LIBDIR CACHE_DIR [LLAMA_SOURCE]
NT=$1 LOADER=$2 LIBDIR=$3 CACHE=$4 LLAMA_SRC=${5:-}
. "$(dirname "$0")/../cli/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
for tool in qemu-system-x86_64 busybox; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed (tools/quickstart installs qemu-system-x86 busybox-static)"; exit 77; }
done
file "$(command -v busybox)" 2>/dev/null | grep -q "statically linked" || ldd "$(command -v busybox)" 2>&1 | grep -q "not a dynamic" ||
  { echo "SKIP: busybox is not the static build (busybox-static)"; exit 77; }

# The kernel: Debian's cloud kernel, fetched once with apt and cached.
mkdir -p "$CACHE"
kernel=$(ls "$CACHE"/vmlinuz-* 2>/dev/null | head -1)
if [ -z "$kernel" ]; then
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$pkg" ] || { echo "SKIP: apt knows no linux-image-cloud-amd64 (run apt-get update)"; exit 77; }
  (cd "$T" && apt-get download "$pkg" >/dev/null 2>&1) || { echo "cannot download $pkg with apt-get"; exit 1; }
  dpkg-deb -x "$T"/"$pkg"_*.deb "$T/kernel" && cp "$T"/kernel/boot/vmlinuz-* "$CACHE"/ || { echo "cannot extract the kernel"; exit 1; }
  kernel=$(ls "$CACHE"/vmlinuz-* | head -1)
fi
echo "kernel: $kernel"

# The initramfs.
R=$T/root
mkdir -p "$R"/{bin,proc,sys,dev,tmp,mnt,nt/bin,nt/lib,model}
cp "$(command -v busybox)" "$R/bin/busybox"
cp "$HERE/init.sh" "$R/init" && chmod +x "$R/init"
cp "$NT" "$LOADER" "$R/nt/bin/"
cp "$LIBDIR"/libnumatrace.so* "$LIBDIR"/libnumatrace-preload.so "$R/nt/lib/"
ln -s ../lib "$R/nt/bin/../lib" 2>/dev/null
# The real loader: upstream llama.cpp (unmodified, the source node-llama-cpp
# carries, built by tools/quickstart) as llama-simple and its shared
# libraries, stripped of their debug info to keep the initramfs small.
LLAMA_BINS=()
if [ -n "$LLAMA_SRC" ] && [ -f "$LLAMA_SRC/.built" ] && [ -x "$LLAMA_SRC/build/bin/llama-simple" ]; then
  mkdir -p "$R/llama"
  for f in "$LLAMA_SRC"/build/bin/llama-simple "$LLAMA_SRC"/build/bin/lib*.so.*.*; do
    strip --strip-debug -o "$R/llama/$(basename "$f")" "$f" || { echo "cannot strip $f"; exit 1; }
  done
  for f in "$R"/llama/lib*.so.*.*; do  # the sonames the binaries ask for
    b=$(basename "$f"); ln -s "$b" "$R/llama/${b%.*.*}"
  done
  LLAMA_BINS=("$LLAMA_SRC"/build/bin/llama-simple)
  "$NT" gen-model "$R/model/l" --splits 3 --size 2M >/dev/null || { echo "gen-model (llama) failed"; exit 1; }
  echo "real loader: llama-simple from $LLAMA_SRC"
else
  echo "real loader: upstream llama-simple is not built in ${LLAMA_SRC:-(no path given)}; the guest says so and fails its check"
fi
# Every shared library, at the path the dynamic linker looks for it.
for f in "$NT" "$LOADER" "$LIBDIR"/libnumatrace.so "$LIBDIR"/libnumatrace-preload.so "${LLAMA_BINS[@]}"; do
  ldd "$f" | awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}'
done | sort -u | grep -v "^${LLAMA_SRC:-/nonexistent}/" | while read -r lib; do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
"$NT" gen-model "$R/model/m" --splits 6 --size 6M >/dev/null || { echo "gen-model failed"; exit 1; }
(cd "$R" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$T/initrd.gz"
echo "initramfs: $(du -h "$T/initrd.gz" | cut -f1)"

# VM_MIRROR_FAULT=misbind (or wrong-replica) injects a fault into the
# "clean" mirror load, to see the test fail and name NT009 (or NT008).
FAULT_ARG=${VM_MIRROR_FAULT:+nt_fault=$VM_MIRROR_FAULT}
# 2 CPUs, 2 nodes of 1 GiB with one CPU each. -no-reboot and panic=-1: a
# guest failure ends the VM; the timeout bounds it all.
start=$(date +%s)
timeout 280 qemu-system-x86_64 -machine pc -accel tcg -cpu max -smp 2 -m 2G \
  -object memory-backend-ram,id=m0,size=1G -object memory-backend-ram,id=m1,size=1G \
  -numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1 \
  -kernel "$kernel" -initrd "$T/initrd.gz" -append "console=ttyS0 panic=-1 quiet $FAULT_ARG" \
  -nographic -no-reboot -serial "file:$T/console.log" -monitor none >/dev/null 2>"$T/qemu.err"
RC=$?
echo "VM ran $(( $(date +%s) - start )) s (qemu exit $RC)"
[ -f "$T/console.log" ] || { echo "no console log: $(cat "$T/qemu.err")"; exit 1; }
# The guest's output (without the kernel's own lines and the trace's base64).
tr -d '\r' <"$T/console.log" | sed -n '/Booting from ROM/,$p' | sed '/^VM-TRACE-BEGIN/,/^VM-TRACE-END/d' |
  sed 's/^.*\[ *[0-9]*\.[0-9]*\] .*$//' | grep -av '^$'
# The clean mirror load's trace, for tests/cli/html.sh (ctest fixture "vm").
rm -f "$CACHE/mirror.nttrace"
tr -d '\r' <"$T/console.log" | sed -n '/^VM-TRACE-BEGIN/,/^VM-TRACE-END/p' | sed '1d;$d' | base64 -d >"$CACHE/mirror.nttrace" 2>/dev/null &&
  "$NT" report "$CACHE/mirror.nttrace" >/dev/null && pass || fail "the guest's mirror trace did not come out whole"

grep -q "^VM-DONE" "$T/console.log" && pass || fail "the guest did not finish (timeout or panic): $(tail -5 "$T/console.log")"
while read -r line; do pass; done < <(grep -a "^VM-PASS" "$T/console.log")
while read -r line; do fail "${line#VM-FAIL: }"; done < <(grep -a "^VM-FAIL" "$T/console.log" | tr -d '\r')
cp "$T/console.log" "$CACHE/last-console.log"  # kept for a look after a failure
finish
