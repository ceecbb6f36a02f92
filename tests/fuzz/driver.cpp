// A main() for the fuzz targets where libFuzzer is not linked (gcc builds,
// with or without ASan): runs the target once on each file named, or on
// every file below each directory named, and says how many ran. ctest uses
// it to replay the seed and regression corpora in every build, so an input
// that once failed keeps being checked without clang. Exit 0 when every
// input ran (a failing input ends the process, as it would under
// libFuzzer), 1 when there was none, 2 on a path that cannot be read.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  size_t ran = 0;
  auto run_file = [&](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ++ran;
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    fs::path p(argv[i]);
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::recursive_directory_iterator(p, ec))
        if (e.is_regular_file() && !run_file(e.path())) {
          std::fprintf(stderr, "%s: cannot read\n", e.path().c_str());
          return 2;
        }
    } else if (!run_file(p)) {
      std::fprintf(stderr, "%s: cannot read\n", argv[i]);
      return 2;
    }
  }
  std::printf("%zu inputs ran\n", ran);
  if (ran == 0) {
    std::fprintf(stderr, "no input: the corpus directories are empty\n");
    return 1;
  }
  return 0;
}
