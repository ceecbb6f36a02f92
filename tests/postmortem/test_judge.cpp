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
