// The frames' registers (x86-64: the unwinder's, and call-preserved ones
// recovered from the callee's CFI) and the DWARF location evaluator: a
// small stack machine over the core's memory (dwarf_reader.h).
#include "dwarf_reader.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "numatrace/text.h"

namespace numatrace::postmortem::dw {

const char* const kRegNames[kRegs] = {"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8",
                                      "r9",  "r10", "r11", "r12", "r13", "r14", "r15", "rip"};

// The x86-64 psABI's call-preserved registers: rbx, rbp, rsp, r12-r15.
constexpr bool kCallPreserved[kRegs] = {false, false, false, true, false, false, true, true, false,
                                        false, false, false, true, true,  true,  true, false};

std::string reg_name(unsigned r) {
  return r < kRegs ? kRegNames[r] : "register " + std::to_string(r);
}

std::string function_name(Dwarf_Die* d) {
  return qualified_name(d, false);
}

Reader::FrameInfo& Reader::info(size_t fi) {
  auto it = info_.find({thread_, fi});
  if (it != info_.end()) return it->second;
  FrameInfo& f = info_[{thread_, fi}];
  const uint64_t pc = pc_of(fi);
  f.mod = dwfl_addrmodule(dwfl_, pc);
  if (!f.mod) return f;
  // The loader is never in the C or C++ runtime: its DWARF is not opened.
  const char* file = nullptr;
  const char* name = dwfl_module_info(f.mod, nullptr, nullptr, nullptr, nullptr, nullptr, &file, nullptr);
  if (runtime_module(base_name(file ? file : name ? name : ""))) {
    f.runtime = true;
    return f;
  }
  if (CuAt at; cus_.find(f.mod, pc, at)) {
    f.bias = at.bias;
    f.split_missing = at.split_missing;
    std::vector<Dwarf_Die> chain;
    concrete_scopes(&at.cu, pc - f.bias, chain, 0);
    f.scopes.assign(chain.rbegin(), chain.rend());
    f.scopes.push_back(at.cu);
  }
  // Each scope's function: the nearest inlined call or subprogram outward.
  f.functions.assign(f.scopes.size(), std::string());
  std::string outer;
  for (size_t i = f.scopes.size(); i-- > 0;) {
    int tag = dwarf_tag(&f.scopes[i]);
    if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) outer = function_name(&f.scopes[i]);
    f.functions[i] = outer;
  }
  f.function = f.functions.empty() ? std::string() : f.functions[0];
  return f;
}

uint64_t Reader::reg(size_t fi, unsigned r) {
  if (r < kRegs && ((*frames_)[fi].known >> r & 1)) return (*frames_)[fi].reg[r];
  // libdwfl leaves some registers of outer frames unknown that the callee's
  // CFI does give (same value, or saved in its frame): one unwinding step
  // for this register.
  if (fi > 0 && r < kRegs && r != 16) {
    FrameInfo& c = info(fi - 1);
    for (int pass = 0; pass < 2 && c.mod; ++pass) {
      Dwarf_Addr bias = 0;
      Dwarf_CFI* cfi = pass == 0 ? dwfl_module_eh_cfi(c.mod, &bias) : dwfl_module_dwarf_cfi(c.mod, &bias);
      Dwarf_Frame* frame = nullptr;
      if (!cfi || dwarf_cfi_addrframe(cfi, pc_of(fi - 1) - bias, &frame) != 0) continue;
      Dwarf_Op mem[3];
      Dwarf_Op* ops = nullptr;
      size_t n = 0;
      const int rc = dwarf_frame_register(frame, static_cast<int>(r), mem, &ops, &n);
      std::vector<Dwarf_Op> copy(ops && n ? ops : mem, ops && n ? ops + n : mem);
      std::free(frame);
      if (rc != 0) continue;
      uint64_t v = 0;
      if (n == 0 && ops == nullptr) {
        v = reg(fi - 1, r);  // same value: not changed by the callee
      } else if (n == 0) {
        // Undefined: clobbered by the call; except the psABI's
        // call-preserved registers, which elfutils' defaults get wrong
        // for rbx (see capture_frame) and which no compiler marks undefined.
        if (!kCallPreserved[r]) break;
        v = reg(fi - 1, r);
      } else {
        Loc l = eval(fi - 1, nullptr, copy.data(), copy.size());
        v = l.in_memory ? read_uint(l.v, 8) : l.v;
      }
      (*frames_)[fi].reg[r] = v;
      (*frames_)[fi].known |= 1u << r;
      return v;
    }
  }
  throw NotKnown{"its value is in " + reg_name(r) +
                 (fi ? ", which the unwinder cannot recover in an outer frame (not saved across the call)"
                     : ", which the core does not hold")};
}

uint64_t Reader::cfa(size_t fi) {
  FrameInfo& f = info(fi);
  const uint64_t pc = pc_of(fi);
  for (int pass = 0; pass < 2 && f.mod; ++pass) {
    Dwarf_Addr bias = 0;
    Dwarf_CFI* cfi = pass == 0 ? dwfl_module_eh_cfi(f.mod, &bias) : dwfl_module_dwarf_cfi(f.mod, &bias);
    Dwarf_Frame* frame = nullptr;
    if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &frame) != 0) continue;
    Dwarf_Op* ops = nullptr;
    size_t n = 0;
    if (dwarf_frame_cfa(frame, &ops, &n) == 0 && n > 0) {
      try {
        Loc l = eval(fi, nullptr, ops, n);
        std::free(frame);
        return l.v;
      } catch (...) {
        std::free(frame);
        throw;
      }
    }
    std::free(frame);
  }
  // The CFA is the caller's stack pointer before the call.
  if (fi + 1 < frames_->size()) return reg(fi + 1, 7);
  throw NotKnown{"no call frame information for the frame at " + hex((*frames_)[fi].pc)};
}

uint64_t Reader::frame_base(size_t fi) {
  FrameInfo& f = info(fi);
  for (int i = 0; i < static_cast<int>(f.scopes.size()); ++i) {
    if (dwarf_tag(&f.scopes[i]) != DW_TAG_subprogram) continue;
    Dwarf_Attribute a;
    if (!dwarf_attr(&f.scopes[i], DW_AT_frame_base, &a)) break;
    Dwarf_Op* ops = nullptr;
    size_t n = 0;
    if (dwarf_getlocation_addr(&a, pc_of(fi) - f.bias, &ops, &n, 1) <= 0) break;
    return eval(fi, &a, ops, n).v;
  }
  throw NotKnown{"the function has no frame base at this pc"};
}

// DW_OP_entry_value(reg): the register's value when the function was
// entered, which DWARF gives through the caller's call-site parameters.
uint64_t Reader::entry_value(size_t fi, unsigned r) {
  const std::string what = "DW_OP_entry_value(" + reg_name(r) + ")";
  if (fi + 1 >= frames_->size()) throw NotKnown{what + ": there is no caller frame"};
  const size_t ci = fi + 1;
  FrameInfo& c = info(ci);
  const uint64_t ret = (*frames_)[ci].pc - c.bias;  // the call's return address
  for (int i = 0; i < static_cast<int>(c.scopes.size()); ++i) {
    Dwarf_Die d;
    if (dwarf_child(&c.scopes[i], &d) != 0) continue;
    do {
      int tag = dwarf_tag(&d);
      if (tag != DW_TAG_call_site && tag != DW_TAG_GNU_call_site) continue;
      Dwarf_Attribute a;
      Dwarf_Addr at = 0;
      if (!(dwarf_attr(&d, DW_AT_call_return_pc, &a) || dwarf_attr(&d, DW_AT_low_pc, &a)) ||
          dwarf_formaddr(&a, &at) != 0 || at != ret)
        continue;
      Dwarf_Die p;
      if (dwarf_child(&d, &p) != 0) break;
      do {
        int ptag = dwarf_tag(&p);
        if (ptag != DW_TAG_call_site_parameter && ptag != DW_TAG_GNU_call_site_parameter) continue;
        Dwarf_Attribute la, va;
        Dwarf_Op* ops = nullptr;
        size_t n = 0;
        if (!dwarf_attr(&p, DW_AT_location, &la) || dwarf_getlocation(&la, &ops, &n) != 0 || n != 1) continue;
        unsigned pr = ops[0].atom == DW_OP_regx ? static_cast<unsigned>(ops[0].number)
                      : ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31
                          ? static_cast<unsigned>(ops[0].atom - DW_OP_reg0)
                          : ~0u;
        if (pr != r) continue;
        if (!(dwarf_attr(&p, DW_AT_call_value, &va) || dwarf_attr(&p, DW_AT_GNU_call_site_value, &va)))
          throw NotKnown{what + ": the call site in " + c.function + " does not say what it passed"};
        Dwarf_Op* vops = nullptr;
        size_t vn = 0;
        if (dwarf_getlocation(&va, &vops, &vn) != 0) throw Unsupported{what + ": unreadable DW_AT_call_value"};
        const uint64_t v = eval(ci, &va, vops, vn).v;
        how_.push_back(what + " from the call site in " + c.function);
        return v;
      } while (dwarf_siblingof(&p, &p) == 0);
      throw NotKnown{what + ": the call site in " + c.function + " has no parameter for " + reg_name(r)};
    } while (dwarf_siblingof(&d, &d) == 0);
  }
  throw NotKnown{what + ": no DW_TAG_call_site for the return address " + hex((*frames_)[ci].pc) + " in " +
                 (c.function.empty() ? std::string("the caller") : c.function)};
}

uint64_t Reader::read_uint(uint64_t addr, size_t len) {
  uint64_t v = 0;
  if (len > 8 || !core_.read(addr, &v, len)) throw NotKnown{"memory at " + hex(addr) + " is not in the core"};
  return v;
}

Reader::Loc Reader::eval(size_t fi, Dwarf_Attribute* attr, const Dwarf_Op* ops, size_t n) {
  std::vector<uint64_t> st;
  auto pop = [&] {
    if (st.empty()) throw Unsupported{"DWARF expression pops an empty stack"};
    uint64_t v = st.back();
    st.pop_back();
    return v;
  };
  auto need = [&](size_t k) {
    if (st.size() < k) throw Unsupported{"DWARF expression pops an empty stack"};
  };
  const Dwarf_Addr bias = info(fi).bias;
  for (size_t i = 0; i < n; ++i) {
    const Dwarf_Op& op = ops[i];
    const uint8_t a = op.atom;
    if (a >= DW_OP_lit0 && a <= DW_OP_lit31) {
      st.push_back(a - DW_OP_lit0);
    } else if (a >= DW_OP_reg0 && a <= DW_OP_reg31) {
      Loc l{false, reg(fi, a - DW_OP_reg0)};
      if (i + 1 < n && ops[i + 1].atom != DW_OP_piece) throw Unsupported{"DW_OP_reg followed by more operations"};
      return l;
    } else if (a == DW_OP_regx) {
      return Loc{false, reg(fi, static_cast<unsigned>(op.number))};
    } else if (a >= DW_OP_breg0 && a <= DW_OP_breg31) {
      st.push_back(reg(fi, a - DW_OP_breg0) + static_cast<int64_t>(op.number));
    } else {
      switch (a) {
        case DW_OP_addr: st.push_back(op.number + bias); break;
        case DW_OP_const1u:
        case DW_OP_const2u:
        case DW_OP_const4u:
        case DW_OP_const8u:
        case DW_OP_constu:
        case DW_OP_const1s:
        case DW_OP_const2s:
        case DW_OP_const4s:
        case DW_OP_const8s:
        case DW_OP_consts: st.push_back(op.number); break;
        case DW_OP_bregx:
          st.push_back(reg(fi, static_cast<unsigned>(op.number)) + static_cast<int64_t>(op.number2));
          break;
        case DW_OP_fbreg: st.push_back(frame_base(fi) + static_cast<int64_t>(op.number)); break;
        case DW_OP_call_frame_cfa: st.push_back(cfa(fi)); break;
        case DW_OP_plus_uconst:
          need(1);
          st.back() += op.number;
          break;
        case DW_OP_dup:
          need(1);
          st.push_back(st.back());
          break;
        case DW_OP_drop: pop(); break;
        case DW_OP_over:
          need(2);
          st.push_back(st[st.size() - 2]);
          break;
        case DW_OP_pick:
          need(op.number + 1);
          st.push_back(st[st.size() - 1 - op.number]);
          break;
        case DW_OP_swap:
          need(2);
          std::swap(st[st.size() - 1], st[st.size() - 2]);
          break;
        case DW_OP_rot:
          need(3);
          std::rotate(st.end() - 3, st.end() - 1, st.end());
          break;
        case DW_OP_deref: st.push_back(read_uint(pop(), 8)); break;
        case DW_OP_deref_size: st.push_back(read_uint(pop(), static_cast<size_t>(op.number))); break;
        case DW_OP_neg:
          need(1);
          st.back() = -st.back();
          break;
        case DW_OP_not:
          need(1);
          st.back() = ~st.back();
          break;
        case DW_OP_abs:
          need(1);
          st.back() = static_cast<uint64_t>(std::llabs(static_cast<int64_t>(st.back())));
          break;
        case DW_OP_plus:
        case DW_OP_minus:
        case DW_OP_mul:
        case DW_OP_and:
        case DW_OP_or:
        case DW_OP_xor:
        case DW_OP_shl:
        case DW_OP_shr:
        case DW_OP_shra:
        case DW_OP_div:
        case DW_OP_mod: {
          uint64_t b = pop(), x = pop();
          if ((a == DW_OP_div || a == DW_OP_mod) && b == 0) throw NotKnown{"division by zero in a DWARF expression"};
          st.push_back(a == DW_OP_plus    ? x + b
                       : a == DW_OP_minus ? x - b
                       : a == DW_OP_mul   ? x * b
                       : a == DW_OP_and   ? x & b
                       : a == DW_OP_or    ? x | b
                       : a == DW_OP_xor   ? x ^ b
                       : a == DW_OP_shl   ? x << (b & 63)
                       : a == DW_OP_shr   ? x >> (b & 63)
                       : a == DW_OP_shra  ? static_cast<uint64_t>(static_cast<int64_t>(x) >> (b & 63))
                       : a == DW_OP_div   ? static_cast<uint64_t>(static_cast<int64_t>(x) / static_cast<int64_t>(b))
                                          : x % b);
          break;
        }
        case DW_OP_nop: break;
        case DW_OP_stack_value: return Loc{false, pop()};
        case DW_OP_piece:
          // The first piece of a composite: enough when it is the whole
          // pointer or integer this reader wants.
          if (op.number < 8)
            throw Unsupported{"a composite location (DW_OP_piece) of " + std::to_string(op.number) + " bytes"};
          return Loc{true, pop()};
        case DW_OP_implicit_value: {
          Dwarf_Block b;
          if (!attr || dwarf_getlocation_implicit_value(attr, &op, &b) != 0 || b.length > 8)
            throw Unsupported{"DW_OP_implicit_value"};
          uint64_t v = 0;
          std::memcpy(&v, b.data, b.length);
          return Loc{false, v};
        }
        case DW_OP_entry_value:
        case DW_OP_GNU_entry_value: {
          Dwarf_Attribute sub;
          Dwarf_Op* sops = nullptr;
          size_t sn = 0;
          if (!attr || dwarf_getlocation_attr(attr, &op, &sub) != 0 || dwarf_getlocation(&sub, &sops, &sn) != 0 ||
              sn != 1)
            throw Unsupported{"DW_OP_entry_value of an expression other than a register"};
          unsigned r = sops[0].atom == DW_OP_regx ? static_cast<unsigned>(sops[0].number)
                       : sops[0].atom >= DW_OP_reg0 && sops[0].atom <= DW_OP_reg31
                           ? static_cast<unsigned>(sops[0].atom - DW_OP_reg0)
                           : ~0u;
          if (r == ~0u) throw Unsupported{"DW_OP_entry_value of an expression other than a register"};
          st.push_back(entry_value(fi, r));
          break;
        }
        case DW_OP_implicit_pointer:
        case DW_OP_GNU_implicit_pointer: throw Unsupported{"DW_OP_implicit_pointer"};
        default: {
          char buf[32];
          std::snprintf(buf, sizeof buf, "0x%02x", a);
          throw Unsupported{std::string("DWARF operation ") + buf};
        }
      }
    }
  }
  if (st.empty()) throw NotKnown{"it is optimized out (an empty location)"};
  return Loc{true, st.back()};
}

Reader::Loc Reader::location(size_t fi, Dwarf_Die* var) {
  Dwarf_Attribute a;
  if (dwarf_attr(var, DW_AT_const_value, &a)) {
    Dwarf_Word v = 0;
    if (dwarf_formudata(&a, &v) == 0) return Loc{false, v};
    throw Unsupported{"DW_AT_const_value as a block"};
  }
  if (!dwarf_attr(var, DW_AT_location, &a)) throw NotKnown{"it is optimized out (no location)"};
  Dwarf_Op* ops = nullptr;
  size_t n = 0;
  int got = dwarf_getlocation_addr(&a, pc_of(fi) - info(fi).bias, &ops, &n, 1);
  if (got < 0) throw Unsupported{std::string("location list: ") + dwarf_errmsg(-1)};
  if (got == 0 || n == 0) throw NotKnown{"it is optimized out at this pc"};
  return eval(fi, &a, ops, n);
}

// The address of the object a variable holds or points to.
uint64_t Reader::var_address(size_t fi, Dwarf_Die* var, bool indirect, const std::string& what) {
  Loc l = location(fi, var);
  if (!indirect) {
    if (!l.in_memory) throw Unsupported{what + " is held in a register, not in memory"};
    return l.v;
  }
  return l.in_memory ? read_uint(l.v, 8) : l.v;
}

}  // namespace numatrace::postmortem::dw
