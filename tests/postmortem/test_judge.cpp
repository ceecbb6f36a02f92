// The post-mortem's judgement of a flight recorder built in memory: NT015
// (advice) from the resolves the ring holds, never taken for the crash's
// cause.
#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <vector>

#include "numatrace/postmortem/postmortem.h"
#include "numatrace/rules/replay.h"

namespace {

using namespace numatrace;

// Three per-file mappings whose sampled pages are on node 1, resolved by
// threads on node 0; tables and ring as the recorder leaves them.
std::unique_ptr<nt_flight_recorder> remote_load(bool name_mappings) {
  auto fr = std::make_unique<nt_flight_recorder>();
  rules::Replayer replay(*fr);
  std::vector<nt_fr_event> events;
  auto next = [&](uint16_t type) -> nt_fr_event& {
    nt_fr_event e{};
    e.seq = events.size() + 1;
    e.type = type;
    e.slot = e.file_idx = -1;
    e.node = e.mapping = e.page_node = -1;
    events.push_back(e);
    return events.back();
  };
  next(NT_EV_MODEL_BEGIN).a = 3;
  for (int32_t f = 0; f < 3; ++f) {
    auto& c = next(NT_EV_CREATE);
    c.slot = f;
    c.a = 0x100000 * static_cast<uint64_t>(f + 1);
    c.b = 0x4000;
    c.d = NT_KIND_PER_FILE;
  }
  for (int32_t f = 0; f < 3; ++f) {
    auto& r = next(NT_EV_RESOLVE);
    r.slot = r.file_idx = f;
    r.b = 0x4000;
    r.c = 0x100000 * static_cast<uint64_t>(f + 1);
    r.node = 0;
    r.tid = 7;
    if (name_mappings) r.mapping = static_cast<int16_t>(f);
  }
  for (int16_t f = 0; f < 3; ++f) {
    auto& p = next(NT_EV_PLACEMENT);
    p.mapping = f;
    p.a = 4;
    p.c = uint64_t{4} << 16;  // 4 pages on node 1
  }
  next(NT_EV_MODEL_END);
  for (const auto& e : events) replay.feed(e, [](const nt_fr_finding&) {});
  for (const auto& e : events) fr->ring[(e.seq - 1) % NT_FR_RING] = e;
  fr->head = events.size();
  return fr;
}

TEST(PostmortemJudge, RemoteReadsInTheRingAreAdviceNotTheCrashsCause) {
  for (bool named : {true, false}) {  // resolves naming their mapping, and older ones that do not
    auto fr = remote_load(named);
    const postmortem::Judgement j = postmortem::judge(*fr, 7, SIGSEGV, 0x10, "");
    ASSERT_EQ(j.findings.size(), 1u);
    EXPECT_EQ(j.findings[0].code, rules::NT015);
    EXPECT_EQ(j.findings[0].size, 0xc000u);  // every byte remote
    EXPECT_EQ(j.finding_text[0].rfind("NT015 100% of the 48.0 KiB resolved", 0), 0u) << j.finding_text[0];
    EXPECT_EQ(j.verdict.find("NT015"), std::string::npos) << j.verdict;
    EXPECT_NE(j.verdict.find("No recorded mapping explains it"), std::string::npos) << j.verdict;
  }
}

TEST(PostmortemJudge, ALoadReadByTheNodeOfItsPagesRaisesNothing) {
  auto fr = remote_load(true);
  for (auto& e : fr->ring)
    if (e.type == NT_EV_RESOLVE) e.node = 1;
  EXPECT_TRUE(postmortem::judge(*fr, 7, 0, 0, "").findings.empty());
}

}  // namespace

// Crash buckets group cores by cause, not by numbers that vary from crash
// to crash of one cause: the slot a thread reached first, the addresses.
namespace {

postmortem::Report null_slot_crash(int32_t slot, uint64_t fault_address) {
  postmortem::Report r;
  r.signal = SIGSEGV;
  r.fault_address = fault_address;
  postmortem::Thread t;
  t.crashed = true;
  t.frames.push_back({0x1234 + fault_address, "llama_mmap::addr() const", "loader", 0x10, "", 0, false});
  r.threads.push_back(t);
  nt_fr_finding advice{};
  advice.code = 15;  // NT015, advice: never the cause
  advice.slot = advice.file_idx = advice.related_slot = -1;
  nt_fr_finding f{};
  f.code = 1;  // NT001
  f.slot = f.file_idx = slot;
  f.related_slot = 0;
  f.address = fault_address;
  r.findings = {advice, f};
  return r;
}

}  // namespace

TEST(PostmortemSignature, TheSlotNumberAndAddressesDoNotSplitACause) {
  const auto a = postmortem::signature(null_slot_crash(1, 0));
  const auto b = postmortem::signature(null_slot_crash(3, 0x7f0012345000));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.code, "NT001");
  EXPECT_EQ(a.function, "llama_mmap::addr() const");
  EXPECT_EQ(a.pattern, "slot k = file idx, related slot 0");
  EXPECT_EQ(a.text.find("0x"), std::string::npos);
}

TEST(PostmortemSignature, ADifferentCodeSlotRelationFunctionOrSignalIsAnotherCause) {
  const auto base = postmortem::signature(null_slot_crash(1, 0));
  auto other_slot = null_slot_crash(2, 0);
  other_slot.findings[1].file_idx = 3;  // slot 2 for file 3: not the file's own slot
  auto other_code = null_slot_crash(1, 0);
  other_code.findings[1].code = 14;
  auto other_function = null_slot_crash(1, 0);
  other_function.threads[0].frames[0].function = "load_all_data";
  auto other_signal = null_slot_crash(1, 0);
  other_signal.signal = SIGBUS;
  for (const auto& r : {other_slot, other_code, other_function, other_signal})
    EXPECT_NE(postmortem::signature(r).id, base.id) << postmortem::signature(r).text;
  EXPECT_EQ(postmortem::signature(other_slot).pattern, "slot j != file idx, related slot 0");
}

TEST(PostmortemSignature, WithoutAFindingTheFaultClassStandsForThePattern) {
  auto r = null_slot_crash(1, 0);
  r.findings.clear();
  r.fault_class = postmortem::FaultClass::null_page;
  EXPECT_EQ(postmortem::signature(r).text, "no finding, SIGSEGV (null page) in llama_mmap::addr() const");
  r.signal = 0;
  r.threads[0].crashed = false;
  EXPECT_EQ(postmortem::signature(r).text, "no crash, no finding");
}
