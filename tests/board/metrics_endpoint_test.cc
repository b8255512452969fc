// The metrics endpoint of real board processes (README "Metrics"): a
// 3-board chassis (LocalChassis: ipc:// in a temp dir) whose boards serve
// metrics on free loopback ports; scrapes parsed by Prometheus' own text
// parser (metrics_scrape_check.py, python3-prometheus-client), and the
// endpoint's bounds checked with an HTTP client (cpp-httplib).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "local_chassis.h"

namespace bp::testing {
namespace {

// A loopback TCP socket bound to a free port; listening when `listen_too`.
struct PortHolder {
  int fd = -1;
  int port = 0;
  explicit PortHolder(bool listen_too) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || (listen_too && listen(fd, 1) != 0)) {
      std::abort();  // no loopback: the test cannot run at all
    }
    port = ntohs(a.sin_port);
  }
  ~PortHolder() { close(fd); }
};

int FreePort() { return PortHolder(false).port; }

// Runs `cmd`; its stdout and stderr in *out; returns its exit status.
int RunCommand(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out->append(buf, n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// A python3 with Debian's python3-prometheus-client: the system one, else
// PATH's (as tools/chassis finds matplotlib). "" when none has it.
std::string PythonWithPrometheusClient() {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    std::string out;
    if (RunCommand(std::string(py) + " -c 'import prometheus_client.parser'", &out) == 0) return py;
  }
  return "";
}

// One chassis for the suite: three boards, each with a metrics endpoint.
class MetricsEndpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    python_ = PythonWithPrometheusClient();
    ChassisOptions o;
    o.tweak = [](board::ChassisConfig& c) {
      for (auto& b : c.boards) b.metrics_endpoint = "127.0.0.1:" + std::to_string(FreePort());
    };
    chassis_ = new LocalChassis(o);
    ASSERT_TRUE(chassis_->StartAll().ok());
    master_ = chassis_->WaitForMaster(20000);
  }
  static void TearDownTestSuite() {
    delete chassis_;  // kills and reaps the boards, removes the directory
    chassis_ = nullptr;
  }
  void SetUp() override {
    ASSERT_GT(master_, 0) << "no master within 20 s";
    ASSERT_FALSE(python_.empty()) << "no python3 imports prometheus_client: apt-get install "
                                     "python3-prometheus-client (scripts/setup.sh)";
  }

  static int Port(int slot) {
    const std::string& ep = chassis_->config().Find(slot)->metrics_endpoint;
    return std::stoi(ep.substr(ep.rfind(':') + 1));
  }
  static std::string Check(int slot, int min_writes, int* status) {
    const std::string cmd = python_ + " " + BP_METRICS_CHECK + " http://127.0.0.1:" +
                            std::to_string(Port(slot)) + "/metrics --slot " + std::to_string(slot) +
                            " --role " + (slot == master_ ? "master" : "replica") + " --master " +
                            std::to_string(master_) + " --peers 2 --min-writes " +
                            std::to_string(min_writes);
    std::string out;
    *status = RunCommand(cmd, &out);
    return out;
  }

  static LocalChassis* chassis_;
  static int master_;
  static std::string python_;
};
LocalChassis* MetricsEndpointTest::chassis_ = nullptr;
int MetricsEndpointTest::master_ = -1;
std::string MetricsEndpointTest::python_;

TEST_F(MetricsEndpointTest, MasterScrapeParsesWithPrometheusParserAndShowsItsWrites) {
  constexpr int kWrites = 20;
  for (int i = 0; i < kWrites; ++i) {
    RawWrite w = chassis_->client(master_).Put("metrics-key-" + std::to_string(i), "v");
    ASSERT_TRUE(w.status.ok()) << w.status.ToString();
  }
  int status = -1;
  const std::string out = Check(master_, kWrites, &status);
  EXPECT_EQ(status, 0) << out;
  std::fprintf(stderr, "master %d: %s", master_, out.c_str());
}

TEST_F(MetricsEndpointTest, ReplicaScrapesNameTheSameMaster) {
  for (const auto& b : chassis_->config().boards) {
    if (b.slot == master_) continue;
    int status = -1;
    const std::string out = Check(b.slot, 0, &status);
    EXPECT_EQ(status, 0) << "slot " << b.slot << ": " << out;
  }
}

TEST_F(MetricsEndpointTest, OtherPathsBodiesAndKeepAliveAreBounded) {
  httplib::Client http("127.0.0.1", Port(master_));
  http.set_connection_timeout(2, 0);
  http.set_read_timeout(5, 0);
  auto r = http.Get("/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = http.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Connection"), "close") << "one request per connection";
  r = http.Post("/metrics", std::string(64 * 1024, 'x'), "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << "a body beyond kMaxBodyBytes is refused";
}

// A client that connects and sends nothing is dropped after the read
// timeout (kIoTimeoutSeconds = 2), and scrapes behind it are then served.
TEST_F(MetricsEndpointTest, AnIdleConnectionIsClosedAndDoesNotStopScrapes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(Port(master_)));
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const auto t0 = std::chrono::steady_clock::now();
  httplib::Client http("127.0.0.1", Port(master_));
  http.set_read_timeout(10, 0);
  auto r = http.Get("/metrics");  // queued behind the idle connection
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  char byte;
  EXPECT_EQ(read(fd, &byte, 1), 0) << "the board closed the idle connection";
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(waited, 5.0);
  close(fd);
}

// The redundancy view after a real failover (the master SIGKILLed): the
// new master's scrape names it primary and the dead one neither primary
// nor secondary, and gives the switchover's time, reason and duration.
TEST(MetricsEndpointFailoverTest, NewMasterShowsTheSwitchoverTimeReasonAndDuration) {
  ChassisOptions o;
  std::map<int, int> ports;
  o.tweak = [&](board::ChassisConfig& c) {
    for (auto& b : c.boards) {
      ports[b.slot] = FreePort();
      b.metrics_endpoint = "127.0.0.1:" + std::to_string(ports[b.slot]);
    }
  };
  LocalChassis c(o);
  ASSERT_TRUE(c.StartAll().ok());
  const int old_master = c.WaitForMaster(20000);
  ASSERT_GT(old_master, 0);
  const auto killed = std::chrono::system_clock::now();
  c.Kill(old_master, SIGKILL);
  const int master = c.WaitForMaster(20000, old_master);
  ASSERT_GT(master, 0);
  httplib::Client http("127.0.0.1", ports[master]);
  http.set_read_timeout(5, 0);
  auto r = http.Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const std::string& t = r->body;
  const std::string slot = std::to_string(master), old_slot = std::to_string(old_master);
  EXPECT_NE(t.find("backplane_redundant_role{slot=\"" + slot + "\",redundant_role=\"primary\"} 1"),
            std::string::npos) << t;
  EXPECT_NE(t.find("backplane_redundant_role{slot=\"" + old_slot + "\",redundant_role=\"primary\"} 0"),
            std::string::npos) << t;
  EXPECT_NE(t.find("backplane_redundant_role{slot=\"" + old_slot + "\",redundant_role=\"secondary\"} 0"),
            std::string::npos) << t;
  const std::string info = "backplane_last_switchover_info{master=\"" + slot + "\",reason=\"";
  const size_t at = t.find(info);
  ASSERT_NE(at, std::string::npos) << t;
  const std::string reason = t.substr(at + info.size(), t.find('"', at + info.size()) - at - info.size());
  EXPECT_TRUE(reason == "master link down" || reason == "master heartbeats stopped" ||
              reason == "HOLDELECTION") << reason;
  const std::string ts = "\nbackplane_last_switchover_timestamp_seconds ";  // the sample, not HELP
  ASSERT_NE(t.find(ts), std::string::npos);
  const double when = std::stod(t.substr(t.find(ts) + ts.size()));
  const double killed_s = std::chrono::duration<double>(killed.time_since_epoch()).count();
  EXPECT_GT(when, killed_s - 0.5) << "the switchover after the kill";
  EXPECT_LT(when, killed_s + 20);
  const std::string dur = "\nbackplane_last_failover_duration_seconds ";
  ASSERT_NE(t.find(dur), std::string::npos) << t;
  const double d = std::stod(t.substr(t.find(dur) + dur.size()));
  EXPECT_GT(d, 0);
  EXPECT_LT(d, 5);
  std::fprintf(stderr, "failover %d -> %d: reason \"%s\", %.6f s\n", old_master, master,
               reason.c_str(), d);
}

// A port in use stops the board before it joins, with the key in the error.
TEST(MetricsEndpointStartTest, TakenPortStopsTheBoardNamingTheKey) {
  PortHolder taken(/*listen_too=*/true);
  ChassisOptions o;
  o.boards = 1;
  o.tweak = [&](board::ChassisConfig& c) {
    c.boards[0].metrics_endpoint = "127.0.0.1:" + std::to_string(taken.port);
  };
  LocalChassis c(o);
  ASSERT_TRUE(c.Start(1).ok());
  ASSERT_TRUE(LocalChassis::WaitUntil([&] { return !c.Running(1); }, 10000)) << c.Logs(1);
  EXPECT_EQ(c.ExitStatus(1), 1);
  EXPECT_NE(c.Logs(1).find("cannot listen on metrics_endpoint \"127.0.0.1:" + std::to_string(taken.port)),
            std::string::npos)
      << c.Logs(1);
  EXPECT_EQ(c.Logs(1).find("serving clients"), std::string::npos) << "it must not have started";
}

}  // namespace
}  // namespace bp::testing
