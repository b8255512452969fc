// Commit-path tracing (commit_trace.h): a fixed array of records filled with
// one atomic increment each, written out once at exit.
#include "board/commit_trace.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

namespace bp::board::trace {
namespace {

enum class Kind : uint8_t { kCommit, kAck, kApply };

struct Record {
  Kind kind;
  int32_t slot;
  uint64_t lsn, lsn2;
  int64_t t[4];
};

constexpr size_t kCapacity = 1 << 20;  // records; later ones are dropped

struct Buffer {
  std::unique_ptr<Record[]> records{new Record[kCapacity]};
  std::atomic<size_t> next{0};
  std::string prefix;
};

Buffer* TheBuffer() {
  static Buffer* buffer = [] () -> Buffer* {
    const char* p = std::getenv("BP_COMMIT_TRACE");
    if (!p || !*p) return nullptr;
    auto* b = new Buffer;  // lives until exit: recorders may run until then
    b->prefix = p;
    return b;
  }();
  return buffer;
}

Record* Slot() {
  Buffer* b = TheBuffer();
  if (!b) return nullptr;
  size_t i = b->next.fetch_add(1, std::memory_order_relaxed);
  return i < kCapacity ? &b->records[i] : nullptr;
}

}  // namespace

bool Enabled() { return TheBuffer() != nullptr; }

int64_t NowMicros() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void Commit(uint64_t lsn, int64_t begin_us, int64_t send_us, int64_t sent_us, int64_t woke_us) {
  if (Record* r = Slot()) *r = {Kind::kCommit, 0, lsn, 0, {begin_us, send_us, sent_us, woke_us}};
}

void Ack(int from_slot, uint64_t lsn, int64_t recv_us) {
  if (Record* r = Slot()) *r = {Kind::kAck, from_slot, lsn, 0, {recv_us, 0, 0, 0}};
}

void Apply(uint64_t frame_lsn, uint64_t perm_lsn, int64_t recv_us, int64_t pop_us, int64_t done_us) {
  if (Record* r = Slot()) *r = {Kind::kApply, 0, frame_lsn, perm_lsn, {recv_us, pop_us, done_us, 0}};
}

void Dump(int slot) {
  Buffer* b = TheBuffer();
  if (!b) return;
  std::string path = b->prefix + "." + std::to_string(slot) + ".tsv";
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return;
  size_t n = std::min(b->next.load(), kCapacity);
  std::fprintf(f, "kind\tslot\tlsn\tlsn2\tt0\tt1\tt2\tt3\n");
  static const char* kNames[] = {"commit", "ack", "apply"};
  for (size_t i = 0; i < n; ++i) {
    const Record& r = b->records[i];
    std::fprintf(f, "%s\t%d\t%llu\t%llu\t%lld\t%lld\t%lld\t%lld\n", kNames[int(r.kind)], r.slot,
                 (unsigned long long)r.lsn, (unsigned long long)r.lsn2, (long long)r.t[0],
                 (long long)r.t[1], (long long)r.t[2], (long long)r.t[3]);
  }
  std::fclose(f);
}

}  // namespace bp::board::trace
