# The builds users make of a loader, as tests/debuginfo/matrix.sh and
# tests/bench/debuginfo-bench compile the shaped loader: NAME:COMPILER FLAGS.
# shellcheck disable=SC2034
MATRIX_BUILDS=("gcc_o3:g++ -O3 -g" "gcc_og:g++ -Og -g" "gcc_gz:g++ -O2 -g -gz" "gcc_dwarf4:g++ -O2 -g -gdwarf-4"
  "gcc_split:g++ -O2 -g -gsplit-dwarf" "gcc_lto:g++ -O2 -g -flto" "clang_o2:clang++ -O2 -g" "clang_o0:clang++ -O0 -g"
  "clang_dwarf4:clang++ -O2 -g -gdwarf-4" "clang_standalone:clang++ -O2 -g -fstandalone-debug"
  "clang_split:clang++ -O2 -g -gsplit-dwarf")
