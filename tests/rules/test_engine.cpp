// Event sequences that reproduce each failure mode of the real loader
// (docs/llama-loader.md) produce exactly the matching finding code.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "numatrace/rules/replay.h"

using namespace numatrace::rules;

namespace {

constexpr uint64_t kFileSize[3] = {0x5000, 0x3000, 0x4000};
constexpr uint64_t kUnified = 0x200000000000;

// Builds events the way the recorder encodes them, replays them, and keeps
// the findings.
class Scenario {
 public:
  Scenario() : tables_(std::make_unique<Recorder>()), replay_(*tables_) {}

  Scenario& model(uint32_t n_files) {
    auto& e = next(NT_EV_MODEL_BEGIN);
    e.a = n_files;
    for (uint32_t i = 0; i < n_files; ++i) {
      auto& f = next(NT_EV_FILE_OPEN);
      f.file_idx = static_cast<int32_t>(i);
      f.a = kFileSize[i % 3];
    }
    return *this;
  }
  Scenario& per_file(int32_t slot, uint64_t base) {
    auto& e = next(NT_EV_CREATE);
    e.slot = slot;
    e.a = base;
    e.b = kFileSize[slot % 3];
    e.d = NT_KIND_PER_FILE;
    return *this;
  }
  // Unified (or replica on `node`) with the files packed back to back, or
  // page-aligned (4 KiB) when `aligned`.
  Scenario& unified(uint64_t base, bool aligned = false, int16_t node = -1, uint32_t flags = 0,
                    uint64_t requested = 0) {
    auto& e = next(NT_EV_CREATE);
    e.slot = 0;
    e.a = base;
    e.c = requested;
    e.node = node;
    e.d = (node >= 0 ? NT_KIND_REPLICA : NT_KIND_UNIFIED) | (uint64_t{flags} << 8);
    uint64_t at = 0;
    for (int32_t f = 0; f < 3; ++f) {
      if (aligned) at = (at + 0xfff) & ~uint64_t{0xfff};
      auto& x = next(NT_EV_EXTENT);
      x.slot = 0;
      x.file_idx = f;
      x.a = at;
      x.b = kFileSize[f];
      at += kFileSize[f];
    }
    events_[events_.size() - 4].b = at;
    return *this;
  }
  Scenario& resolve(int32_t slot, int32_t file, uint64_t offset, uint64_t size, uint64_t address, int16_t node = 0,
                    const char* name = "blk.0.attn_k.weight") {
    auto& e = next(NT_EV_RESOLVE);
    e.slot = slot;
    e.file_idx = file;
    e.a = offset;
    e.b = size;
    e.c = address;
    e.node = node;
    copy_name(e.name, name);
    return *this;
  }
  Scenario& unmap(int32_t slot, uint64_t address, uint64_t length) {
    auto& e = next(NT_EV_UNMAP);
    e.slot = slot;
    e.a = address;
    e.b = length;
    return *this;
  }
  Scenario& destroy(int32_t slot, uint64_t base) {
    auto& e = next(NT_EV_DESTROY);
    e.slot = slot;
    e.a = base;
    return *this;
  }
  Scenario& mlock_grow(int32_t slot, uint64_t address, uint64_t size) {
    auto& e = next(NT_EV_MLOCK_GROW);
    e.slot = slot;
    e.a = address;
    e.b = size;
    return *this;
  }
  Scenario& unified_test(bool answer) {
    next(NT_EV_UNIFIED_TEST).a = answer;
    return *this;
  }
  Scenario& model_end() {
    next(NT_EV_MODEL_END);
    return *this;
  }
  Scenario& remote_threshold(uint32_t pct) {
    threshold_ = pct;
    return *this;
  }
  // Sampled pages per node of mapping `mapping`, or of file `file`'s extent in it.
  Scenario& placement(int16_t mapping, std::initializer_list<uint16_t> nodes, int32_t file = -1) {
    auto& e = next(NT_EV_PLACEMENT);
    e.mapping = mapping;
    e.file_idx = file;
    int k = 0;
    for (uint16_t c : nodes) {
      (k < 4 ? e.c : e.d) |= uint64_t{c} << (16 * (k % 4));
      e.a += c;
      ++k;
    }
    return *this;
  }

  // Codes found, in order; `finish` adds the at-exit checks.
  std::vector<std::string> codes(bool finish = false) {
    std::vector<std::string> out;
    messages_.clear();
    Replayer replay(*tables_);
    replay.track_remote(remote_, threshold_);
    auto on = [&](const nt_fr_finding& f) {
      out.push_back(code_info(f.code).id);
      char buf[768];
      format_finding(replay.tables(), f, buf, sizeof buf);
      messages_.push_back(buf);
    };
    for (const auto& e : events_) replay.feed(e, on);
    if (finish) {
      replay.finish(on);
    } else {
      replay.flush_create(on);
      replay.judge_remote(on);
    }
    return out;
  }
  const RemoteReads& remote() const { return remote_; }
  const Recorder& tables() const { return *tables_; }
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  nt_fr_event& next(uint16_t type) {
    nt_fr_event e;
    std::memset(&e, 0, sizeof e);
    e.seq = events_.size() + 1;
    e.type = type;
    e.slot = -1;
    e.file_idx = -1;
    e.node = -1;
    e.mapping = -1;
    events_.push_back(e);
    return events_.back();
  }
  std::unique_ptr<Recorder> tables_;
  Replayer replay_;
  std::vector<nt_fr_event> events_;
  std::vector<std::string> messages_;
  RemoteReads remote_;
  uint32_t threshold_ = kDefaultRemoteThresholdPct;
};

using Codes = std::vector<std::string>;

TEST(Engine, CleanPerFileLoadHasNoFinding) {
  Scenario s;
  s.model(3).per_file(0, 0x10000).per_file(1, 0x20000).per_file(2, 0x30000);
  s.resolve(0, 0, 0x100, 0x200, 0x10100).resolve(1, 1, 0x40, 0x100, 0x20040).resolve(2, 2, 0, 0x4000, 0x30000);
  s.unmap(0, 0x10000, 0x1000);  // releasing the head of a per-file mapping is normal
  s.destroy(0, 0x10000).destroy(1, 0x20000).destroy(2, 0x30000);
  EXPECT_EQ(s.codes(true), Codes{});
}

TEST(Engine, CleanUnifiedLoadHasNoFinding) {
  Scenario s;
  s.model(3).unified(kUnified).unified_test(true);
  s.resolve(0, 1, 0x40, 0x100, kUnified + 0x5000 + 0x40).resolve(0, 2, 0, 0x10, kUnified + 0x8000);
  s.mlock_grow(0, kUnified, 0x8000).destroy(0, kUnified);
  EXPECT_EQ(s.codes(true), Codes{});
}

// Failure mode 1: the unified mapping is in slot 0, the loader resolves
// file 1's tensor through slot 1, which is null.
TEST(Engine, NullSlotInUnifiedModeIsNT001) {
  Scenario s;
  s.model(3).unified(kUnified).resolve(1, 1, 0x1a40, 0x100, 0);
  EXPECT_EQ(s.codes(), Codes{"NT001"});
  EXPECT_EQ(s.messages()[0],
            "NT001 resolve of 'blk.0.attn_k.weight' (file 1 of 3, offset 0x1a40) through slot 1, which is empty; the "
            "unified mapping covering files 0-2 is in slot 0 (file 1 at +0x5000): resolve through slot 0");
}

TEST(Engine, NullSlotWithNoMappingAtAllIsNT001) {
  Scenario s;
  s.model(3).resolve(2, 2, 0, 0x10, 0);
  EXPECT_EQ(s.codes(), Codes{"NT001"});
  EXPECT_NE(s.messages()[0].find("no mapping holds file 2"), std::string::npos);
}

// Failure mode 2: files placed page-aligned, address computed with the
// packed sum of sizes: no crash, wrong bytes.
TEST(Engine, PackedOffsetIntoPageAlignedRegionIsNT002) {
  Scenario s;
  s.model(3).unified(kUnified, /*aligned=*/true);
  s.resolve(0, 0, 0x10, 0x10, kUnified + 0x10);                    // file 0: both agree
  s.resolve(0, 2, 0x10, 0x10, kUnified + 0x5000 + 0x3000 + 0x10);  // packed: 0x8010, aligned: 0x8010
  s.resolve(0, 1, 0x10, 0x10, kUnified + 0x5000 + 0x10);           // agree: 0x5000 is page aligned
  EXPECT_EQ(s.codes(), Codes{});
  Scenario t;
  t.model(3);
  // File 0 of 0x5000 bytes then 0x3000: make the first size unaligned.
  t.unified(kUnified, true).resolve(0, 1, 0x100, 0x10, kUnified + 0x4800 + 0x100);
  EXPECT_EQ(t.codes(), Codes{"NT002"});
  EXPECT_NE(t.messages()[0].find("puts it at 0x200000005100"), std::string::npos) << t.messages()[0];
}

TEST(Engine, ResolvePastTheFileIsNT003) {
  Scenario s;
  s.model(3).unified(kUnified).resolve(0, 1, 0x2f00, 0x200, kUnified + 0x5000 + 0x2f00);
  EXPECT_EQ(s.codes(), Codes{"NT003"});
  Scenario p;
  p.model(3).per_file(1, 0x20000).resolve(1, 1, 0x2000, 0x2000, 0x22000);
  EXPECT_EQ(p.codes(), Codes{"NT003"});
}

// Failure mode 5: unmap_fragment inside mirror memory, then a read of the
// released range, then the destroy frees it again.
TEST(Engine, UnmapFragmentOnUnifiedIsNT005ThenReadIsNT004) {
  Scenario s;
  s.model(3).unified(kUnified).unmap(0, kUnified, 0x1000).resolve(0, 0, 0x10, 0x10, kUnified + 0x10);
  EXPECT_EQ(s.codes(), (Codes{"NT005", "NT004"}));
}

TEST(Engine, ResolveIntoDestroyedMappingIsNT004) {
  Scenario s;
  s.model(3).per_file(1, 0x20000).destroy(1, 0x20000).resolve(1, 1, 0x10, 0x10, 0x20010);
  EXPECT_EQ(s.codes(), Codes{"NT004"});
}

TEST(Engine, DoubleOrUnknownDestroyIsNT006) {
  Scenario s;
  s.model(3).unified(kUnified).destroy(0, kUnified).destroy(0, kUnified);
  EXPECT_EQ(s.codes(), Codes{"NT006"});
  EXPECT_NE(s.messages()[0].find("already destroyed"), std::string::npos);
  Scenario u;
  u.model(3).destroy(2, 0x777000);
  EXPECT_EQ(u.codes(), Codes{"NT006"});
  EXPECT_NE(u.messages()[0].find("never created"), std::string::npos);
}

TEST(Engine, SlotReusedOrAliveAtExitIsNT007) {
  Scenario s;
  s.model(3).per_file(0, 0x10000).per_file(0, 0x50000);
  EXPECT_EQ(s.codes(), Codes{"NT007"});
  Scenario e;
  e.model(3).per_file(0, 0x10000);
  EXPECT_EQ(e.codes(true), Codes{"NT007"});
  EXPECT_NE(e.messages()[0].find("alive at exit"), std::string::npos);
}

// Failure mode 8: mirror mode, a thread on node 1 reads node 0's replica;
// and a replica whose pages sit on the wrong node.
TEST(Engine, WrongReplicaIsNT008) {
  Scenario s;
  const uint64_t r0 = kUnified, r1 = 2 * kUnified;
  s.model(3).unified(r0, false, 0).unified(r1, false, 1);
  s.resolve(0, 1, 0x10, 0x10, r1 + 0x5010, /*node=*/1);  // own replica
  s.resolve(0, 1, 0x10, 0x10, r0 + 0x5010, /*node=*/1);  // node 0's replica
  EXPECT_EQ(s.codes(), Codes{"NT008"});
}

TEST(Engine, ReplicaOnTheWrongNodeIsNT009) {
  Scenario s;
  s.model(3).unified(kUnified, false, 1).placement(0, {900, 100});
  EXPECT_EQ(s.codes(), Codes{"NT009"});
  Scenario ok;
  ok.model(3).unified(kUnified, false, 1).placement(0, {100, 900});
  EXPECT_EQ(ok.codes(), Codes{});
}

// Failure mode 4: a unified test that reads null slots as "not unified".
TEST(Engine, UnifiedTestDisagreeingIsNT010) {
  Scenario s;
  s.model(3).unified(kUnified).unified_test(false);
  EXPECT_EQ(s.codes(), Codes{"NT010"});
  Scenario p;
  p.model(3).per_file(0, 0x10000).unified_test(true);
  EXPECT_EQ(p.codes(), Codes{"NT010"});
}

// Failure mode 7: the fixed address was taken.
TEST(Engine, FixedAddressNotHonouredOrCollidingIsNT012) {
  Scenario s;
  s.model(3).unified(0x7f0000000000, false, -1, NT_MAP_FIXED, kUnified);
  EXPECT_EQ(s.codes(), Codes{"NT012"});
  Scenario c;
  c.model(3).per_file(1, kUnified + 0x1000).unified(kUnified, false, -1, NT_MAP_FIXED, kUnified);
  EXPECT_EQ(c.codes(), Codes{"NT012"});
  EXPECT_NE(c.messages()[0].find("collides"), std::string::npos);
}

// Failure mode 3: --mlock in unified mode grows the null mlock slot.
TEST(Engine, MlockGrowThroughEmptySlotIsNT014) {
  Scenario s;
  s.model(3).unified(kUnified).mlock_grow(1, kUnified + 0x5000, 0x100);
  EXPECT_EQ(s.codes(), Codes{"NT014"});
}

// Past the mapping table's capacity numa-trace cannot know a slot is
// empty: it says nothing rather than something false.
TEST(Engine, FullMappingTableRaisesNoAbsenceFinding) {
  Scenario s;
  s.model(3);
  for (int i = 0; i < NT_FR_MAX_MAPPINGS + 2; ++i) s.per_file(i, 0x10000000 + 0x10000 * static_cast<uint64_t>(i));
  s.resolve(NT_FR_MAX_MAPPINGS + 1, 0, 0x10, 0x10, 0x1).destroy(NT_FR_MAX_MAPPINGS + 1, 0x777000);
  EXPECT_EQ(s.codes(), Codes{});
}

TEST(Engine, EveryCodeHasAnIdAndTitle) {
  for (uint16_t c = 1; c <= kMaxCode; ++c) {
    EXPECT_EQ(std::string(code_info(c).id), "NT0" + std::string(c < 10 ? "0" : "") + std::to_string(c));
    EXPECT_GT(std::string(code_info(c).title).size(), 10u);
    EXPECT_EQ(std::string(code_info(c).journal_message_id).size(), 32u);
  }
}

TEST(Format, BufNeverOverflows) {
  char small[8];
  Buf b(small, sizeof small);
  b.s("0123456789").x(0xdeadbeef);
  EXPECT_EQ(std::string(b.str()), "0123456");
  EXPECT_TRUE(b.truncated());
  char big[64];
  Buf c(big, sizeof big);
  c.i(-42).c(' ').x(0).c(' ').u(18446744073709551615ull);
  EXPECT_EQ(std::string(c.str()), "-42 0x0 18446744073709551615");
}

}  // namespace

// ------------------------------------------------------- remote reads (NT015)

// Three per-file mappings whose pages are all on node 1.
Scenario per_file_on_node1(int16_t reader) {
  Scenario s;
  s.model(3).per_file(0, 0x10000).per_file(1, 0x20000).per_file(2, 0x30000);
  s.resolve(0, 0, 0, 0x4000, 0x10000, reader).resolve(1, 1, 0, 0x2000, 0x20000, reader);
  s.resolve(2, 2, 0x1000, 0x3000, 0x31000, reader);
  for (int16_t m = 0; m < 3; ++m) s.placement(m, {0, 4});
  s.model_end();
  return s;
}

TEST(Remote, PerFilePagesOnAnotherNodeRaiseNT015WithTheShareAndTheFix) {
  Scenario s = per_file_on_node1(0);
  EXPECT_EQ(s.codes(), Codes{"NT015"});
  EXPECT_EQ(s.messages()[0],
            "NT015 100% of the 36.0 KiB resolved with known placement lie on another node than the resolving "
            "thread's (threshold 60%); most by threads on node 0 reading file 0 of 3 (16.0 KiB remote) in the "
            "per-file mapping in slot 0 (base 0x10000, 0x5000 bytes), whose pages are mostly on node 1: run the "
            "threads on node 1 (numactl --cpunodebind=1 --membind=1, with llama.cpp's --numa numactl), or drop the "
            "files from the page cache and load them with numactl --interleave=all, or use mirror mode (a replica "
            "on every node)");
  const RemoteTotals t = remote_totals(s.tables(), s.remote());
  EXPECT_EQ(t.bytes, 0x9000u);
  EXPECT_EQ(t.remote, 0x9000u);
}

TEST(Remote, TheSameLoadReadByThreadsOfTheFilesNodeRaisesNothing) {
  Scenario s = per_file_on_node1(1);
  EXPECT_EQ(s.codes(), Codes{});
  EXPECT_EQ(remote_totals(s.tables(), s.remote()).remote, 0u);
}

TEST(Remote, TheShareIsEstimatedFromThePlacementAndJudgedAgainstTheThreshold) {
  // Pages split 1:3 between the nodes; node-0 threads read: 75% remote.
  Scenario s;
  s.model(1).per_file(0, 0x10000).resolve(0, 0, 0, 0x4000, 0x10000, 0).placement(0, {1, 3}).model_end();
  EXPECT_EQ(s.codes(), Codes{"NT015"});
  EXPECT_EQ(remote_totals(s.tables(), s.remote()).remote, 0x3000u);
  EXPECT_EQ(s.remote_threshold(80).codes(), Codes{});  // 75% < 80%
  // An even interleave over two nodes (50%) stays under the default.
  Scenario even;
  even.model(1).per_file(0, 0x10000).resolve(0, 0, 0, 0x4000, 0x10000, 0).placement(0, {2, 2}).model_end();
  EXPECT_EQ(even.codes(), Codes{});
}

TEST(Remote, UnsampledPagesAndUnknownNodesAreNeverCalledRemote) {
  Scenario s;
  s.model(2).per_file(0, 0x10000).per_file(1, 0x20000);
  s.resolve(0, 0, 0, 0x4000, 0x10000, 0).resolve(1, 1, 0, 0x2000, 0x20000, -1).placement(1, {0, 4}).model_end();
  EXPECT_EQ(s.codes(), Codes{});
  const RemoteTotals t = remote_totals(s.tables(), s.remote());
  EXPECT_EQ(t.not_sampled, 0x4000u);
  EXPECT_EQ(t.unknown_node, 0x2000u);
  EXPECT_EQ(t.bytes, 0u);
}

TEST(Remote, AUnifiedMappingOnOneNodeAdvisesMirrorMode) {
  Scenario s;
  s.model(3).unified(kUnified, true);
  s.resolve(0, 0, 0, 0x1000, kUnified, 1).resolve(0, 2, 0, 0x1000, kUnified + 0x8000, 1);
  for (int32_t f = 0; f < 3; ++f) s.placement(0, {3}, f);
  s.model_end();
  EXPECT_EQ(s.codes(), Codes{"NT015"});
  EXPECT_NE(s.messages()[0].find("in the unified mapping in slot 0"), std::string::npos) << s.messages()[0];
  EXPECT_NE(s.messages()[0].find(": use mirror mode (a replica on every node), or run the threads on node 0"),
            std::string::npos)
      << s.messages()[0];
}

TEST(Remote, MirrorWithEachThreadOnItsOwnReplicaRaisesNothing) {
  Scenario s;
  s.model(3).unified(kUnified, true, 0).unified(kUnified * 2, true, 1);
  s.resolve(0, 1, 0, 0x1000, kUnified + 0x5000, 0).resolve(0, 1, 0, 0x1000, kUnified * 2 + 0x5000, 1);
  for (int32_t f = 0; f < 3; ++f) s.placement(0, {4, 0}, f).placement(1, {0, 4}, f);
  s.model_end();
  EXPECT_EQ(s.codes(), Codes{});
  EXPECT_EQ(remote_totals(s.tables(), s.remote()).bytes, 0x2000u);
}

TEST(Remote, AReplicaFilledOnTheWrongNodeIsRemoteForItsOwnThreads) {
  Scenario s;
  s.model(3).unified(kUnified, true, 0).unified(kUnified * 2, true, 1);
  s.resolve(0, 1, 0, 0x1000, kUnified + 0x5000, 0).resolve(0, 1, 0, 0x1000, kUnified * 2 + 0x5000, 1);
  for (int32_t f = 0; f < 3; ++f) s.placement(0, {4, 0}, f).placement(1, {4, 0}, f);  // replica 1 on node 0
  s.model_end();
  EXPECT_EQ(s.codes(), Codes{});  // 50%: under the default
  EXPECT_EQ(s.remote_threshold(50).codes(), Codes{"NT015"});
  EXPECT_NE(s.messages()[0].find("replica of its own node, bound to that node before it is filled"), std::string::npos)
      << s.messages()[0];
}

TEST(Remote, EachLoadIsJudgedOnceAndALoadWithoutModelEndAtTheEnd) {
  Scenario s;  // two loads, both remote; the second has no model end (the interposer's)
  s.model(1).per_file(0, 0x10000).resolve(0, 0, 0, 0x4000, 0x10000, 0).placement(0, {0, 4}).model_end();
  s.destroy(0, 0x10000);
  s.model(1).per_file(0, 0x40000).resolve(0, 0, 0, 0x4000, 0x40000, 0).placement(1, {0, 4});
  EXPECT_EQ(s.codes(), (Codes{"NT015", "NT015"}));
}
