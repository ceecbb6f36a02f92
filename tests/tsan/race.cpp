// The recorder's sources built with ThreadSanitizer (a test-only copy: the
// shipped libnumatrace is never sanitized): many threads resolve while
// another creates and destroys mappings and the drainer copies the ring to
// a sink. Any data race makes ThreadSanitizer fail the run.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "numatrace/recorder.h"

int main() {
  static char data[1 << 16];
  std::string path = "/tmp/nt-race-" + std::to_string(getpid()) + ".jsonl";
  if (numatrace_configure(("jsonl:" + path + ",quiet").c_str()) != 0) return 2;
  numatrace_model_begin("race", 8);
  numatrace_file_open(0, "race", sizeof data);
  NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_PER_FILE, data, sizeof data, -1, NUMATRACE_MAP_ANON, nullptr, nullptr, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([] {
      for (int i = 0; i < 20000; ++i) NUMATRACE_RESOLVE(0, 0, 64, 64, data + 64, "blk.0.attn_q.weight");
    });
  threads.emplace_back([] {
    static char other[4096];
    for (int i = 0; i < 100; ++i) {  // within the 128 mapping records
      NUMATRACE_MAPPING_CREATE(1 + i % 7, NUMATRACE_KIND_PER_FILE, other, sizeof other, -1, 0, nullptr, nullptr, 0);
      NUMATRACE_RESOLVE(1 + i % 7, 1 + i % 7, 0, 8, other, "x");
      NUMATRACE_MAPPING_DESTROY(1 + i % 7, other);
    }
  });
  threads.emplace_back([] {
    for (int i = 0; i < 50; ++i) numatrace_flush();
  });
  for (auto& t : threads) t.join();
  NUMATRACE_MAPPING_DESTROY(0, data);
  numatrace_configure("");
  unlink(path.c_str());
  std::printf("events %llu, findings %llu, dropped by the sink %llu\n",
              static_cast<unsigned long long>(numatrace_flight_recorder.head),
              static_cast<unsigned long long>(numatrace_flight_recorder.counters.findings),
              static_cast<unsigned long long>(numatrace_flight_recorder.counters.dropped_sink));
  return numatrace_flight_recorder.counters.findings == 0 ? 0 : 1;
}
