// A rolling change of a setting that must agree chassis-wide, with real
// board processes: one board of a running 3-board chassis is restarted with
// `leases` flipped in its own copy of the configuration. It stays out
// (applies nothing from the master, calls no election), says why in its log
// and status, the others show it as disagreeing, nothing panics, the chassis
// keeps its master and its data; restarted with the chassis' file, it
// rejoins and converges.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <set>
#include <string>

#include "local_chassis.h"

namespace bp::testing {
namespace {

constexpr int kSettleMs = 20000;

bool Disagrees(const nlohmann::json& st, int slot, const std::string& group) {
  if (st.is_null() || !st.contains("config")) return false;
  for (const auto& d : st["config"]["disagreeing"]) {
    if (d["slot"] == slot && d["groups"].get<std::string>().find(group) != std::string::npos) return true;
  }
  return false;
}

void RollingLeaseFlip(bool chassis_leases) {
  ChassisOptions options;
  options.tweak = [&](board::ChassisConfig& cfg) { cfg.leases = chassis_leases; };
  LocalChassis c(options);
  ASSERT_TRUE(c.StartAll().ok());
  int m = c.WaitForMaster(kSettleMs);
  if (m < 0 && chassis_leases) {
    // Three lease boards started together sometimes never elect ("Not
    // enough votes to elect" for 20 s; the board before the frame checks
    // does it too): not what this test is about. Reported; restart them.
    std::cerr << "WARNING: a lease chassis did not elect at start (known, not this test's "
                 "subject); restarting its boards\n";
    for (int s = 1; s <= 3; ++s) c.Kill(s);
    ASSERT_TRUE(c.StartAll().ok());
    m = c.WaitForMaster(kSettleMs);
  }
  ASSERT_GT(m, 0) << c.Logs(1) << c.Logs(2) << c.Logs(3) << c.Status(1).dump() << "\n"
                  << c.Status(2).dump() << "\n" << c.Status(3).dump();
  const uint32_t gen = c.Status(m)["generation"].get<uint32_t>();
  std::set<std::string> acked;
  auto write = [&](const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      RawWrite w = c.client(m).Put(prefix + std::to_string(i), "v");
      ASSERT_TRUE(w.status.ok()) << w.status.ToString();
      ASSERT_TRUE(w.durable);
      acked.insert(prefix + std::to_string(i));
    }
  };
  write("before-", 50);
  const int odd = m == 3 ? 2 : 3;
  ASSERT_TRUE(c.Stop(odd));
  ASSERT_TRUE(c.StartWithConfig(odd, [&](board::ChassisConfig& cfg) { cfg.leases = !chassis_leases; }).ok());

  // It stays out and says why; the master sees it as disagreeing.
  ASSERT_TRUE(LocalChassis::WaitUntil(
      [&] {
        auto st = c.Status(odd);
        return !st.is_null() && st["config"]["out"].get<std::string>().find("leases") != std::string::npos;
      },
      kSettleMs))
      << c.Status(odd).dump() << c.Logs(odd);
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return Disagrees(c.Status(m), odd, "leases"); }, kSettleMs))
      << c.Status(m)["config"].dump();
  EXPECT_NE(c.Logs(odd).find("configuration differs from slot"), std::string::npos) << c.Logs(odd);
  EXPECT_NE(c.Logs(m).find("configuration differs from slot " + std::to_string(odd)), std::string::npos);

  // The chassis goes on: same master, durable writes, nothing panicked.
  write("during-", 50);
  auto ost = c.Status(odd);
  EXPECT_NE(ost["role"], "master");
  EXPECT_EQ(ost["startup_complete"], false) << "the odd board joined";
  // Whenever it would call an election (its master looks silent to it), it
  // does not, and says why.
  EXPECT_TRUE(LocalChassis::WaitUntil(
      [&] {
        auto st = c.Status(odd);
        return !st.is_null() &&
               st["elections"]["waiting"].get<std::string>().find("not joining") != std::string::npos;
      },
      kSettleMs))
      << c.Status(odd)["elections"].dump();
  for (int s = 1; s <= 3; ++s) {
    EXPECT_TRUE(c.Running(s)) << "slot " << s << ": " << c.Logs(s);
    auto st = c.Status(s);
    EXPECT_FALSE(st.is_null() || st.value("panicked", true)) << "slot " << s;
    EXPECT_EQ(c.Logs(s).find("PANIC"), std::string::npos) << "slot " << s << ": " << c.Logs(s);
  }
  EXPECT_EQ(c.Status(m)["role"], "master");
  EXPECT_EQ(c.Status(m)["generation"].get<uint32_t>(), gen);

  // The chassis' configuration again: it rejoins and holds every write.
  ASSERT_TRUE(c.Stop(odd));
  ASSERT_TRUE(c.Start(odd).ok());
  ASSERT_EQ(c.WaitForMaster(kSettleMs), m);
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return !Disagrees(c.Status(m), odd, ""); }, kSettleMs));
  write("after-", 10);
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return c.Contents(odd) == c.Contents(m); }, kSettleMs));
  auto mine = c.Contents(odd);
  for (const auto& k : acked) EXPECT_EQ(mine.count(k), 1u) << k;
  EXPECT_EQ(mine.size(), acked.size());
}

TEST(ConfigDigest, BoardRestartedWithLeasesOnStaysOutUntilItsConfigAgrees) { RollingLeaseFlip(false); }
TEST(ConfigDigest, BoardRestartedWithLeasesOffStaysOutUntilItsConfigAgrees) { RollingLeaseFlip(true); }

}  // namespace
}  // namespace bp::testing
