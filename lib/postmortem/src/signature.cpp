// A crash's cause, without its addresses: what `postmortem` groups many
// cores by (docs/postmortem.md, "Many cores").
#include <cstdio>

#include "numatrace/postmortem/postmortem.h"
#include "numatrace/rules/codes.h"

namespace numatrace::postmortem {

namespace {

// A slot named by its relation to the file being resolved: "k" is the
// file's own index, "0" the first slot (where a unified region lives),
// "j" any other. The numbers themselves vary from crash to crash of one
// cause (which file a thread reached first).
const char* slot_role(int32_t slot, int32_t file_idx) {
  if (slot == 0) return "0";
  if (slot == file_idx) return "k";
  return "j";
}

}  // namespace

Signature signature(const Report& r) {
  Signature s;
  const nt_fr_finding* first = nullptr;
  for (const auto& f : r.findings)
    if (!rules::is_advice(f.code)) {
      first = &f;
      break;
    }
  const std::string where = crash_location(r);
  if (first) {
    const rules::CodeInfo& ci = rules::code_info(first->code);
    s.code = ci.id;
    s.text = std::string(ci.id) + " (" + ci.title + ")";
    if (first->slot >= 0) {
      s.pattern = std::string("slot ") + slot_role(first->slot, first->file_idx);
      if (first->file_idx >= 0 && first->slot != 0)
        s.pattern += first->slot == first->file_idx ? " = file idx" : " != file idx";
    }
    if (first->related_slot >= 0)
      s.pattern += std::string(s.pattern.empty() ? "" : ", ") + "related slot " +
                   slot_role(first->related_slot, first->file_idx);
  } else if (r.signal) {
    s.text = "no finding";
  } else {
    s.text = "no crash, no finding";
  }
  if (r.signal) {
    s.text += ", " + signal_text(r.signal);
    if (!first && r.fault_class != FaultClass::none)
      s.text += std::string(" (") + fault_class_name(r.fault_class) + ")";
  }
  s.function = where.empty() ? "" : where.substr(4);
  s.text += where;
  if (!s.pattern.empty()) s.text += ": " + s.pattern;
  // FNV-1a of the text: a short id that stays the same from run to run.
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s.text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(h));
  s.id = std::string(id, 8);
  return s;
}

}  // namespace numatrace::postmortem
