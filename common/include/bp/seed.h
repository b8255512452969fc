// One seed, many streams. A board (and a simulated chassis) takes one seed;
// every source of randomness it has (election jitter, request ids, link
// loss emulation, retry backoff) draws from its own stream derived from that
// seed, so a fault schedule replays from the seed alone and adding a draw
// in one place does not shift the numbers of another.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

namespace bp {

// SplitMix64's finaliser: a well-mixed 64-bit value for (seed, stream).
inline uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A fresh seed from the operating system, for runs that were given none
// (the board logs it and shows it in status so the run can be replayed).
inline uint64_t FreshSeed() {
  std::random_device rd;
  uint64_t s = (uint64_t(rd()) << 32) ^ rd();
  return s == 0 ? 1 : s;
}

// The streams of one seed (stable numbers: changing one changes replays).
enum class SeedStream : uint64_t {
  kElectionJitter = 1,
  kRequestIds = 2,
  kBusLoss = 3,
  kBackoff = 4,
  kSimSchedule = 5,
  kSimNetwork = 6,
  kSimLoad = 7,
};

inline uint64_t DeriveSeed(uint64_t seed, SeedStream s) { return DeriveSeed(seed, uint64_t(s)); }

// A seeded generator shared by threads (each draw takes a lock; the draws
// here are per election, per request, per retry: not hot).
class SharedRng {
 public:
  explicit SharedRng(uint64_t seed) : rng_(seed) {}
  uint64_t Next() {
    std::lock_guard<std::mutex> l(mu_);
    return rng_();
  }
  // Uniform in [0, bound] (bound inclusive).
  uint64_t Below(uint64_t bound) { return bound == UINT64_MAX ? Next() : Next() % (bound + 1); }

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;  // guarded by mu_
};

}  // namespace bp
