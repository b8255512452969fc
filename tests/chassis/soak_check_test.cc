// Goal: the soak's write check finds a lost write, a write applied twice and
// a write that was never sent, on real boards. A SoakLoad writes a few keys
// on a 3-board QUORUM chassis (real board processes, real ZeroMQ, the shim);
// its live and final checks find nothing; then the test plays the faults
// itself through the shim on the master: it writes a key's older
// acknowledged value again (a double apply), deletes an acknowledged key (a
// lost write), and writes a sequence number the writer never sent. The
// final check must name each one, counted once across the boards.
#include <gtest/gtest.h>

#include "firmware_shim/fw_shim.h"
#include "local_chassis.h"
#include "soak_load.h"

namespace bp::chassis {
namespace {

using bp::testing::LocalChassis;

fw_board_t* OpenShim(const std::string& endpoint) {
  fw_options_t o;
  fw_options_init(&o);
  o.endpoint = endpoint.c_str();
  o.request_timeout_ms = 2000;
  fw_board_t* h = nullptr;
  return fw_open(&o, &h) == FW_OK ? h : nullptr;
}

TEST(SoakCheck, FindsLostDoubledAndNeverSentWritesOnRealBoards) {
  LocalChassis chassis;
  ASSERT_TRUE(chassis.StartAll().ok());
  const int master = chassis.WaitForMaster(20000);
  ASSERT_GT(master, 0) << chassis.Logs(1);
  std::map<int, std::string> endpoints;
  std::vector<std::string> list;
  for (int s = 1; s <= 3; ++s) {
    endpoints[s] = chassis.client_endpoint(s);
    list.push_back(endpoints[s]);
  }
  SoakLoadOptions o;
  o.clients = 2;
  o.key_space = 10;  // client 0 writes keys 0, 2, 4, 6, 8 in turn
  o.value_size = 64;
  o.rate = 400;
  o.key_prefix = "sc-k";
  ASSERT_TRUE(SoakLoad::Check(o).ok());
  SoakLoad load(list, o);
  load.Start();
  BoardLink master_link(endpoints[master], 2000);
  WriteCheck live;
  // Every key of client 0 written at least twice, so key 0 has an older acked value.
  ASSERT_TRUE(LocalChassis::WaitUntil(
      [&] {
        load.LiveCheck(master_link, master, 5, &live);
        return load.StateOf(0).acked.value_or(0) > 5 && load.StateOf(2).acked.has_value();
      },
      20000));
  load.Stop();
  EXPECT_GT(live.live_checks, 0u);
  EXPECT_EQ(live.lost + live.doubled + live.failed_applied, 0u) << live.examples.size();
  ASSERT_GE(chassis.WaitForMaster(20000), 1);
  WriteCheck clean = load.FinalCheck(endpoints, 5000);
  EXPECT_EQ(clean.lost + clean.doubled + clean.failed_applied, 0u)
      << (clean.examples.empty() ? "" : clean.examples[0]);
  EXPECT_GT(clean.acked, 0u);

  // The faults, played through the shim on the master.
  KeyWrites k0 = load.StateOf(0);
  ASSERT_TRUE(k0.acked && *k0.acked > 5 && k0.uncertain.empty() && k0.failed.empty());
  const uint64_t older = *k0.acked - 5;  // client 0's previous write to key 0
  fw_board_t* h = OpenShim(endpoints[master]);
  ASSERT_NE(h, nullptr);
  const std::string again = SoakValue(0, older, load.Key(0), o.value_size);
  ASSERT_EQ(fw_put(h, load.Key(0).data(), load.Key(0).size(), again.data(), again.size(), nullptr),
            FW_OK);
  ASSERT_EQ(fw_delete(h, load.Key(2).data(), load.Key(2).size(), nullptr), FW_OK);
  const uint64_t never = load.StateOf(4).attempted + 100;
  const std::string phantom = SoakValue(0, never, load.Key(4), o.value_size);
  ASSERT_EQ(
      fw_put(h, load.Key(4).data(), load.Key(4).size(), phantom.data(), phantom.size(), nullptr),
      FW_OK);
  fw_close(h);

  WriteCheck found = load.FinalCheck(endpoints, 300);
  EXPECT_EQ(found.doubled, 1u);
  EXPECT_EQ(found.lost, 1u);
  EXPECT_EQ(found.failed_applied, 1u);
  std::string all;
  for (const auto& e : found.examples) all += e + "\n";
  EXPECT_NE(all.find(load.Key(0) + ": doubled"), std::string::npos) << all;
  EXPECT_NE(all.find(load.Key(2) + ": lost, holds (absent)"), std::string::npos) << all;
  EXPECT_NE(all.find(load.Key(4) + ": failed_applied"), std::string::npos) << all;
}

}  // namespace
}  // namespace bp::chassis
