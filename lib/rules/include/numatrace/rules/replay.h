// Replays recorded events (from a trace file, or from a core's ring) through
// the rule engine, rebuilding the tables as the recorder had them. The same
// apply_*/check_* calls as in the traced process, so offline findings are
// the online ones.
#pragma once

#include <cstring>

#include "numatrace/rules/engine.h"
#include "numatrace/rules/remote.h"

namespace numatrace::rules {

class Replayer {
 public:
  // `tables` is caller-owned (it is large) and is reset here.
  explicit Replayer(Recorder& tables) : r_(tables) {
    std::memset(&r_, 0, sizeof r_);
    r_.magic = NT_FR_MAGIC;
    r_.version = NT_FR_VERSION;
    r_.size = sizeof r_;
  }

  // Feeds one event; calls on_finding(const nt_fr_finding&) for each
  // finding. Events must come in seq order.
  template <class OnFinding>
  void feed(const nt_fr_event& e, OnFinding&& on_finding) {
    if (e.type != NT_EV_EXTENT) flush_create(on_finding);
    nt_fr_finding f;
    int index = -1;
    switch (e.type) {
      case NT_EV_MODEL_BEGIN:
        judge_remote(on_finding);  // the previous load's
        if (remote_) remote_->reset();
        remote_judged_ = false;
        r_.n_files = static_cast<uint32_t>(e.a);
        break;
      case NT_EV_MODEL_END: judge_remote(on_finding); break;
      case NT_EV_FILE_OPEN:
        if (e.file_idx >= 0 && e.file_idx < NT_FR_MAX_FILES) {
          r_.files[e.file_idx].size = e.a;
          r_.files[e.file_idx].opened = 1;
        }
        break;
      case NT_EV_CREATE:
        pending_ = true;
        pending_seq_ = e.seq;
        create_ = CreateArgs{};
        create_.slot = e.slot;
        create_.kind = static_cast<uint16_t>(format::create_kind(e));
        create_.flags = format::create_flags(e);
        create_.base = e.a;
        create_.length = e.b;
        create_.requested = e.c;
        create_.node = e.node;
        n_extents_ = 0;
        break;
      case NT_EV_EXTENT:
        if (pending_ && n_extents_ < NT_FR_MAX_FILES)
          extents_[n_extents_++] = {static_cast<uint32_t>(e.file_idx), e.a, e.b};
        break;
      case NT_EV_RESOLVE: {
        int through = -1;
        if (check_resolve(r_, e, f, &through)) on_finding(f);
        if (remote_) remote_->add(r_, e, through);
        break;
      }
      case NT_EV_UNMAP:
        if (apply_unmap(r_, e.slot, e.a, e.b, e.seq, f, index)) on_finding(f);
        break;
      case NT_EV_DESTROY:
        if (apply_destroy(r_, e.slot, e.a, e.seq, f, index)) on_finding(f);
        break;
      case NT_EV_MLOCK_GROW:
        if (check_mlock_grow(r_, e.slot, e.a, e.b, e.seq, f)) on_finding(f);
        break;
      case NT_EV_UNIFIED_TEST:
        if (check_unified_test(r_, e.a != 0, e.seq, f)) on_finding(f);
        break;
      case NT_EV_PLACEMENT:
        if (e.mapping >= 0 && static_cast<uint32_t>(e.mapping) < mapping_count(r_)) {
          nt_fr_mapping& m = r_.mappings[e.mapping];
          uint32_t* hist = m.placement;
          uint32_t *sampled = &m.placement_sampled, *absent = &m.placement_absent;
          if (e.file_idx >= 0) {  // one file's extent inside the mapping
            nt_fr_extent* x = const_cast<nt_fr_extent*>(find_extent(r_, e.mapping, e.file_idx));
            if (!x) break;
            hist = x->placement;
            sampled = &x->placement_sampled;
            absent = &x->placement_absent;
          }
          *sampled = static_cast<uint32_t>(e.a);
          *absent = static_cast<uint32_t>(e.b);
          for (int k = 0; k < NT_FR_MAX_NODES; ++k) hist[k] = format::placement_pages(e, k);
          if (e.file_idx < 0 && check_placement(r_, e.mapping, e.seq, f)) on_finding(f);
        }
        break;
      default: break;
    }
    r_.head = e.seq;
  }

  // End of a complete trace: mappings still live (NT007).
  template <class OnFinding>
  void finish(OnFinding&& on_finding) {
    flush_create(on_finding);
    judge_remote(on_finding);
    nt_fr_finding f;
    for (uint32_t i = 0, n = mapping_count(r_); i < n; ++i)
      if (check_exit(r_, static_cast<int>(i), r_.head, f)) on_finding(f);
  }

  const Recorder& tables() const { return r_; }

  // Counts resolves into `acc` (caller-owned, reset here; it holds the
  // last load's) and raises NT015 at each load's end (model end, the next
  // model begin, or finish()) when its remote share reaches threshold_pct.
  void track_remote(RemoteReads& acc, uint32_t threshold_pct) {
    remote_ = &acc;
    remote_->reset();
    threshold_pct_ = threshold_pct;
  }

  // A load's end: its NT015, once. For traces that end without one (a
  // loader traced through the interposer has no model end), finish() does.
  template <class OnFinding>
  void judge_remote(OnFinding&& on_finding) {
    if (!remote_ || remote_judged_ || !remote_->last_seq) return;
    remote_judged_ = true;
    nt_fr_finding f;
    if (check_remote_reads(r_, *remote_, threshold_pct_, f)) on_finding(f);
  }

  // A create waits for its extents; call at the end of the input (finish()
  // does) so that a create that came last is applied.
  template <class OnFinding>
  void flush_create(OnFinding&& on_finding) {
    if (!pending_) return;
    pending_ = false;
    create_.extents = extents_;
    create_.n_extents = n_extents_;
    nt_fr_finding f;
    int index = -1;
    if (apply_create(r_, create_, pending_seq_, f, index)) on_finding(f);
  }

 private:
  Recorder& r_;
  RemoteReads* remote_ = nullptr;
  uint32_t threshold_pct_ = kDefaultRemoteThresholdPct;
  bool remote_judged_ = false;
  bool pending_ = false;
  uint64_t pending_seq_ = 0;
  CreateArgs create_;
  ExtentArg extents_[NT_FR_MAX_FILES];
  uint32_t n_extents_ = 0;
};

}  // namespace numatrace::rules
