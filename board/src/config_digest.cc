#include "board/config_digest.h"

#include <algorithm>
#include <cstdio>

namespace bp::board {
namespace {

// FNV-1a, 64 bits: stable across builds and machines (std::hash is not).
uint64_t Fnv1a(const std::string& s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string SlotsText(const ChassisConfig& c) {
  std::vector<const SlotConfig*> slots;
  for (const auto& b : c.boards) slots.push_back(&b);
  std::sort(slots.begin(), slots.end(), [](auto* a, auto* b) { return a->slot < b->slot; });
  std::string s;
  for (const SlotConfig* b : slots) {
    s += "slot=" + std::to_string(b->slot) + ";endpoint=" + b->endpoint +
         ";electable=" + (b->electable ? "1" : "0") + "\n";
  }
  return s;
}

}  // namespace

const char* DigestGroupName(DigestGroup g) {
  switch (g) {
    case DigestGroup::kSlots: return "slots";
    case DigestGroup::kAckPolicy: return "ack_policy";
    case DigestGroup::kLeases: return "leases";
    case DigestGroup::kSecurity: return "security";
    case DigestGroup::kCount: break;
  }
  return "unknown";
}

// The mode only: keys rotate one board at a time (README "Key rotation"), so
// boards legitimately differ in the keys they list while a rotation is
// under way; a board with the wrong key fails the CURVE handshake anyway.
std::string ChassisDigestSecurity(const ChassisConfig& config) {
  return SecurityModeName(config.security);
}

ChassisDigestValue ChassisDigest(const ChassisConfig& c) {
  std::array<std::string, kDigestGroups> text;
  text[size_t(DigestGroup::kSlots)] = SlotsText(c);
  text[size_t(DigestGroup::kAckPolicy)] =
      std::string("ack_policy=") + AckPolicyName(c.ack_policy) +
      ";two_board_mode=" + TwoBoardModeName(c.two_board_mode) +
      ";preferred_slot=" + std::to_string(c.preferred_slot);
  text[size_t(DigestGroup::kLeases)] =
      std::string("leases=") + (c.leases ? "1" : "0") +
      (c.leases ? ";lease_timeout_ms=" + std::to_string(c.lease_timeout_ms) : "");
  text[size_t(DigestGroup::kSecurity)] = "security=" + ChassisDigestSecurity(c);
  ChassisDigestValue v;
  uint64_t total = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < kDigestGroups; ++i) {
    v.groups[i] = Fnv1a(text[i]);
    total = Fnv1a(std::string(DigestGroupName(DigestGroup(i))) + "=" + DigestHex(v.groups[i]) + "\n",
                  total);
  }
  v.total = total ? total : 1;
  return v;
}

std::string DifferingGroups(const ChassisDigestValue& mine, const uint64_t* theirs, size_t count) {
  if (count == 0) return "unknown";
  std::string out;
  for (size_t i = 0; i < kDigestGroups; ++i) {
    if (i < count && theirs[i] == mine.groups[i]) continue;
    if (!out.empty()) out += ", ";
    out += DigestGroupName(DigestGroup(i));
  }
  return out.empty() ? "a group this build does not know" : out;
}

std::string DigestHex(uint64_t digest) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(digest));
  return buf;
}

}  // namespace bp::board
