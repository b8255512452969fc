#include "driver/group.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "driver/cleanup.h"
#include "peer_proto.h"

namespace bp::peers {
namespace {

constexpr int64_t kSecondNs = 1'000'000'000;
// Generous: on a freshly booted VM, first-touching a 512 MiB cache took
// 8-12 s per process (the pages are not backed by the host yet).
constexpr int64_t kGroupReadyDeadlineNs = 90 * kSecondNs;
constexpr int64_t kStopDeadlineNs = 5 * kSecondNs;

int BindLoopbackEphemeral(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // 127.0.0.1 only, never any other address
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

const char* VariantName(Variant v) { return v == Variant::kBest ? "best" : "as_shipped"; }

std::string GroupOptions::Describe() const {
  return std::string(VariantName(variant)) + " sites=" + std::to_string(started_sites) + "/" +
         std::to_string(listed_sites) + (tuned ? " tuned" : " default-timeouts") + " ack=" + ack;
}

Result<std::vector<int>> PickFreePorts(int count) {
  std::vector<int> fds;
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    int port = 0;
    const int fd = BindLoopbackEphemeral(&port);
    if (fd < 0) break;
    fds.push_back(fd);
    ports.push_back(port);
  }
  for (int fd : fds) close(fd);
  if (static_cast<int>(ports.size()) != count) {
    return Status::Unavailable(std::string("no free port on 127.0.0.1: ") + std::strerror(errno));
  }
  return ports;
}

Result<std::unique_ptr<Group>> Group::Start(const GroupOptions& options, const Paths& paths) {
  std::unique_ptr<Group> group(new Group(options, paths));
  auto ports = PickFreePorts(options.listed_sites);
  if (!ports.ok()) return ports.status();
  group->ports_ = *ports;
  group->sites_.resize(static_cast<size_t>(options.listed_sites));
  group->homes_.resize(static_cast<size_t>(options.listed_sites));
  for (int i = 0; i < options.started_sites; ++i) {
    BP_RETURN_IF_ERROR(group->StartSite(i, /*as_master=*/i == 0));
  }
  Status ready = group->WaitReady(MonoNs() + kGroupReadyDeadlineNs);
  if (!ready.ok()) return ready.WithContext(options.Describe() + "\n" + group->Diagnostics());
  return group;
}

// Ready = the master committed its first record (its database exists) and
// every started client finished its startup sync.
Status Group::WaitReady(int64_t deadline_ns) {
  auto first = site(0)->AwaitEvent("FIRST_COMMIT", 0, deadline_ns);
  if (!first.ok()) return first.status();
  for (int i = 1; i < options_.started_sites; ++i) {
    auto done = site(i)->AwaitEvent("STARTUPDONE", 0, deadline_ns);
    if (!done.ok()) return done.status();
  }
  master_ = 0;
  return Status::Ok();
}

std::vector<std::string> Group::SiteArgs(int index, bool as_master, const std::string& home) const {
  std::vector<std::string> args = {
      "--home", home,         "--port",     std::to_string(ports_[static_cast<size_t>(index)]),
      "--ack",  options_.ack, "--cache-mb", std::to_string(options_.cache_mb)};
  for (int j = 0; j < options_.listed_sites; ++j) {
    if (j != index) args.insert(args.end(), {"--peer", std::to_string(ports_[j])});
  }
  if (as_master) args.push_back("--master");
  if (options_.variant == Variant::kBest) args.push_back("--bulk");
  if (options_.tuned) args.push_back("--tuned");
  return args;
}

Status Group::StartSite(int index, bool as_master) {
  if (running(index)) return Status::FailedPrecondition("site already running");
  const std::string home = MakeTempDir(paths_.temp_root, "site" + std::to_string(index) + "-");
  if (home.empty()) return Status::Internal(std::string("mkdtemp: ") + std::strerror(errno));
  ChildSpec spec;
  spec.exe = paths_.site_exe;
  spec.args = SiteArgs(index, as_master, home);
  spec.label = "site" + std::to_string(index);
  if (options_.variant == Variant::kBest)
    spec.extra_env.push_back("LD_PRELOAD=" + paths_.preload_lib);
  auto child = Child::Spawn(spec);
  if (!child.ok()) {
    RemoveTempDir(home);
    return child.status();
  }
  sites_[static_cast<size_t>(index)] = std::move(*child);
  homes_[static_cast<size_t>(index)] = home;
  return Status::Ok();
}

// Reaps (already done by the caller) and removes the home; a home that was
// not empty is counted as an unclean exit.
void Group::ReleaseSite(int index) {
  sites_[static_cast<size_t>(index)].reset();
  if (!RemoveTempDir(homes_[static_cast<size_t>(index)])) ++unclean_exits_;
  homes_[static_cast<size_t>(index)].clear();
}

int64_t Group::KillSite(int index) {
  Child* child = site(index);
  const int64_t kill_ns = MonoNs();
  child->Signal(SIGKILL);
  child->Kill();  // reaps
  ReleaseSite(index);
  return kill_ns;
}

void Group::StopSite(int index) {
  const int status = site(index)->Stop(MonoNs() + kStopDeadlineNs);
  if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++unclean_exits_;
  ReleaseSite(index);
}

// Clients first, and only then the master: closing the master first makes
// the clients hold an election (2 s by default) while they are being closed.
int Group::Stop() {
  std::vector<int> clients;
  for (int i = 0; i < size(); ++i) {
    if (running(i) && i != master_) clients.push_back(i);
  }
  for (int i : clients) site(i)->RequestQuit();
  for (int i : clients) StopSite(i);
  if (master_ >= 0 && master_ < size() && running(master_)) StopSite(master_);
  return unclean_exits_;
}

Status Group::Broadcast(const std::string& line, int64_t deadline_ns) {
  for (int i = 0; i < size(); ++i) {
    if (running(i)) BP_RETURN_IF_ERROR(site(i)->Send(line));
  }
  const std::string cmd(SplitWords(line).at(0));
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    auto reply = site(i)->AwaitReply(cmd, deadline_ns);
    if (!reply.ok()) return reply.status();
  }
  return Status::Ok();
}

std::string Group::Diagnostics() {
  std::string out;
  for (int i = 0; i < size(); ++i) {
    if (running(i)) out += site(i)->StderrTail();
  }
  return out;
}

Group::~Group() { Stop(); }

}  // namespace bp::peers
