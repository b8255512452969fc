#include "driver/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "driver/cleanup.h"
#include "peer_proto.h"

extern char** environ;

namespace bp::peers {
namespace {

constexpr size_t kStderrTailLines = 40;
constexpr int64_t kKillReapDeadlineNs = 5'000'000'000;

struct Pipes {
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  void CloseAll() {
    for (int* p : {in, out, err}) {
      for (int i = 0; i < 2; ++i) {
        if (p[i] >= 0) close(p[i]);
        p[i] = -1;
      }
    }
  }
};

// O_CLOEXEC everywhere: a later child must not inherit an earlier child's
// pipe ends, or that child's EOF would never be seen.
bool OpenPipes(Pipes& p) {
  return pipe2(p.in, O_CLOEXEC) == 0 && pipe2(p.out, O_CLOEXEC) == 0 &&
         pipe2(p.err, O_CLOEXEC) == 0;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void ExecChild(const Pipes& p, pid_t parent, char* const* argv, char* const* envp) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the driver died before prctl took effect
  dup2(p.in[0], STDIN_FILENO);
  dup2(p.out[1], STDOUT_FILENO);
  dup2(p.err[1], STDERR_FILENO);
  execve(argv[0], argv, envp);
  _exit(127);
}

// "k=v" words become fields; numbers after a lone "|" become values.
void ParseWords(const std::vector<std::string_view>& words, size_t first,
                std::map<std::string, std::string>& fields, std::vector<int64_t>* values) {
  bool in_values = false;
  for (size_t i = first; i < words.size(); ++i) {
    const std::string_view w = words[i];
    if (in_values) {
      values->push_back(std::strtoll(std::string(w).c_str(), nullptr, 10));
    } else if (w == "|" && values != nullptr) {
      in_values = true;
    } else if (size_t eq = w.find('='); eq != std::string_view::npos) {
      fields[std::string(w.substr(0, eq))] = std::string(w.substr(eq + 1));
    }
  }
}

}  // namespace

int64_t Reply::Field(const std::string& key, int64_t fallback) const {
  auto it = fields.find(key);
  return it == fields.end() ? fallback : std::strtoll(it->second.c_str(), nullptr, 10);
}

Result<std::unique_ptr<Child>> Child::Spawn(const ChildSpec& spec) {
  std::vector<std::string> argv_strings{spec.exe};
  argv_strings.insert(argv_strings.end(), spec.args.begin(), spec.args.end());
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), spec.extra_env.begin(), spec.extra_env.end());
  std::vector<char*> argv = CStrings(argv_strings);
  std::vector<char*> envp = CStrings(env_strings);  // prepared before fork: no malloc after

  Pipes p;
  if (!OpenPipes(p)) {
    p.CloseAll();
    return Status::Internal(std::string("pipe2: ") + std::strerror(errno));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    p.CloseAll();
    return Status::Internal(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) ExecChild(p, parent, argv.data(), envp.data());
  RegisterChildPid(pid);

  std::unique_ptr<Child> child(new Child());
  child->pid_ = pid;
  child->label_ = spec.label;
  child->stdin_fd_ = p.in[1];
  child->stdout_fd_ = p.out[0];
  child->stderr_fd_ = p.err[0];
  p.in[1] = p.out[0] = p.err[0] = -1;  // now owned by the Child
  p.CloseAll();                        // the child's ends
  child->reader_ = std::thread([c = child.get()] { c->ReaderLoop(); });
  return child;
}

// Reads stdout and stderr until both reach EOF (the child has exited).
void Child::ReaderLoop() {
  std::string partial[2];
  pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;  // poll ignores negative fds
        --open_count;
        continue;
      }
      partial[i].append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = partial[i].find('\n')) != std::string::npos;) {
        HandleLine(i == 1, partial[i].substr(0, nl));
        partial[i].erase(0, nl + 1);
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

void Child::HandleLine(bool from_stderr, const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto words = SplitWords(line);
  if (from_stderr || words.size() < 2 || (words[0] != "EV" && words[0] != "R")) {
    stderr_tail_.push_back(line);
    if (stderr_tail_.size() > kStderrTailLines) stderr_tail_.pop_front();
    return;
  }
  if (words[0] == "EV" && words.size() >= 3) {
    Event ev;
    ev.name = std::string(words[1]);
    ev.mono_ns = std::strtoll(std::string(words[2]).c_str(), nullptr, 10);
    ParseWords(words, 3, ev.fields, nullptr);
    events_.push_back(std::move(ev));
  } else if (words[0] == "R" && words.size() >= 3) {
    Reply reply;
    reply.ok = words[2] == "ok";
    ParseWords(words, 3, reply.fields, &reply.values);
    if (!reply.ok && words.size() > 3) reply.fields["error"] = std::string(words[3]);
    replies_[std::string(words[1])].push_back(std::move(reply));
  }
  cv_.notify_all();
}

Status Child::Send(const std::string& line) {
  const std::string out = line + "\n";
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = write(stdin_fd_, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable(label_ + ": cannot write to site (exited?)");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<Reply> Child::AwaitReply(const std::string& cmd, int64_t deadline_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  auto& queue = replies_[cmd];
  while (queue.empty()) {
    if (eof_) return Status::Unavailable(label_ + ": exited while awaiting '" + cmd + "'");
    const int64_t left_ns = deadline_ns - MonoNs();
    if (left_ns <= 0) return Status::Timeout(label_ + ": no reply to '" + cmd + "'");
    cv_.wait_for(lock, std::chrono::nanoseconds(left_ns));
  }
  Reply reply = std::move(queue.front());
  queue.pop_front();
  if (!reply.ok) {
    return Status::FailedPrecondition(label_ + ": '" + cmd + "' failed: " + reply.fields["error"]);
  }
  return reply;
}

Result<Reply> Child::Call(const std::string& line, int64_t deadline_ns) {
  BP_RETURN_IF_ERROR(Send(line));
  const auto words = SplitWords(line);
  return AwaitReply(words.empty() ? "" : std::string(words[0]), deadline_ns);
}

std::optional<Event> Child::FindEvent(const std::string& name, int64_t since_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Event& ev : events_) {
    if (ev.name == name && ev.mono_ns >= since_ns) return ev;
  }
  return std::nullopt;
}

Result<Event> Child::AwaitEvent(const std::string& name, int64_t since_ns, int64_t deadline_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  size_t scanned = 0;
  while (true) {
    for (; scanned < events_.size(); ++scanned) {
      if (events_[scanned].name == name && events_[scanned].mono_ns >= since_ns) {
        return events_[scanned];
      }
    }
    if (eof_) return Status::Unavailable(label_ + ": exited while awaiting " + name);
    const int64_t left_ns = deadline_ns - MonoNs();
    if (left_ns <= 0) return Status::Timeout(label_ + ": no " + name + " event in time");
    cv_.wait_for(lock, std::chrono::nanoseconds(left_ns));
  }
}

void Child::Signal(int sig) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!reaped_) kill(pid_, sig);
}

bool Child::TryReap(int* status) {
  const pid_t r = waitpid(pid_, status, WNOHANG);
  return r == pid_ || (r < 0 && errno == ECHILD);
}

void Child::RequestQuit() {
  if (stdin_fd_ >= 0) {
    close(stdin_fd_);
    stdin_fd_ = -1;
  }
}

int Child::Stop(int64_t deadline_ns) {
  RequestQuit();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reaped_) return exit_status_;
  }
  int status = 0;
  while (MonoNs() < deadline_ns) {
    if (TryReap(&status)) {
      std::lock_guard<std::mutex> lock(mu_);
      reaped_ = true;
      exit_status_ = status;
      UnregisterChildPid(pid_);
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Kill();
  return -1;
}

void Child::Kill() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (reaped_) return;
    kill(pid_, SIGKILL);
  }
  // SIGKILL cannot be ignored, so this wait is short; still bounded.
  int status = 0;
  const int64_t deadline_ns = MonoNs() + kKillReapDeadlineNs;
  while (!TryReap(&status) && MonoNs() < deadline_ns) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::lock_guard<std::mutex> lock(mu_);
  reaped_ = true;
  exit_status_ = -1;
  UnregisterChildPid(pid_);
}

bool Child::exited() const {
  std::lock_guard<std::mutex> lock(mu_);
  return eof_ || reaped_;
}

std::string Child::StderrTail() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& line : stderr_tail_) out += "  [" + label_ + "] " + line + "\n";
  return out;
}

Child::~Child() {
  Kill();
  if (reader_.joinable()) reader_.join();  // EOF follows the process's death
  for (int fd : {stdin_fd_, stdout_fd_, stderr_fd_}) {
    if (fd >= 0) close(fd);
  }
}

}  // namespace bp::peers
