// MetricsServer (metrics_server.h): cpp-httplib with one worker and a
// bounded connection queue.
#include "board/metrics_server.h"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <httplib.h>
#include <mutex>

#include "board/metrics.h"

namespace bp::board {
namespace {

// cpp-httplib's task queue with one worker and at most `capacity` waiting
// connections: enqueue (the listener thread) blocks while the queue is
// full, so the listener stops accepting and the kernel's backlog holds the
// newcomers. cpp-httplib's own ThreadPool queues without bound. Every
// queued job runs (each closes its socket), also at shutdown.
class BoundedQueue : public httplib::TaskQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity), worker_([this] { Run(); }) {}
  ~BoundedQueue() override {
    if (worker_.joinable()) shutdown();
  }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> l(mu_);
    room_.wait(l, [&] { return jobs_.size() < capacity_; });
    jobs_.push_back(std::move(fn));
    ready_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      shutdown_ = true;
    }
    ready_.notify_all();
    worker_.join();
  }

 private:
  void Run() {
    pthread_setname_np(pthread_self(), "metrics-http");
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> l(mu_);
        ready_.wait(l, [&] { return shutdown_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // shut down and drained
        job = std::move(jobs_.front());
        jobs_.pop_front();
        room_.notify_one();
      }
      job();
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable ready_, room_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  bool shutdown_ = false;                   // guarded by mu_
  std::thread worker_;                      // last: starts once the rest exists
};

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

// httplib::Server, plus closing a bound socket that was never served
// (httplib's stop() acts only on a running server).
class MetricsServer::Http : public httplib::Server {
 public:
  void CloseUnserved() {
    const socket_t s = svr_sock_.exchange(INVALID_SOCKET);
    if (s != INVALID_SOCKET) ::close(s);
  }
};

MetricsServer::MetricsServer() : http_(std::make_unique<Http>()) {
  http_->new_task_queue = [] { return new BoundedQueue(kQueuedConnections); };
  http_->set_keep_alive_max_count(1);  // one request per connection
  // How long a connection may stay silent before its request (cpp-httplib
  // waits this long for the first byte, then read_timeout per read).
  http_->set_keep_alive_timeout(kIoTimeoutSeconds);
  http_->set_read_timeout(kIoTimeoutSeconds, 0);
  http_->set_write_timeout(kIoTimeoutSeconds, 0);
  http_->set_payload_max_length(kMaxBodyBytes);
  http_->set_tcp_nodelay(true);
  auto serve = [this](const httplib::Request& req, httplib::Response& res) {
    std::string body;
    int status = 200;
    Handle(req.path, &body, &status);
    res.status = status;
    res.set_content(body, status == 200 && req.path == "/metrics" ? kContentType : "text/plain");
  };
  http_->Get("/metrics", serve);
  http_->Get("/", serve);
}

MetricsServer::~MetricsServer() { Stop(); }

Result<std::unique_ptr<MetricsServer>> MetricsServer::Bind(const std::string& value, int slot) {
  auto addr = ParseMetricsEndpoint(value);
  if (!addr.ok()) return addr.status();
  if (addr->port == 0) return Status::InvalidArgument("metrics_endpoint is empty: nothing to bind");
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  m->slot_ = slot;
  errno = 0;
  if (!m->http_->bind_to_port(addr->host, addr->port)) {
    const int err = errno;
    return Status::Unavailable(
        "slot " + std::to_string(slot) + ": cannot listen on metrics_endpoint \"" + value + "\"" +
        (err ? std::string(" (") + std::strerror(err) + ")" : std::string()) +
        ": the port is taken (by another board or program on this host?) or the address is not "
        "one of this host's; set another metrics_endpoint in the slot's [[board]], or \"\" for none");
  }
  m->port_ = addr->port;
  return m;
}

void MetricsServer::Serve(StatusSource source) {
  source_ = std::move(source);
  listener_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "metrics-accept");
    http_->listen_after_bind();
    listener_done_ = true;
  });
}

void MetricsServer::Stop() {
  if (!listener_.joinable()) {
    http_->CloseUnserved();  // bound, never served (or already stopped)
    return;
  }
  // httplib's stop() acts only once the listener has started listening:
  // wait for that (a moment after Serve) or for the listener's end.
  while (!http_->is_running() && !listener_done_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
  listener_.join();
}

// The worker thread. "/" names the scrape path; "/metrics" renders a fresh
// status.
void MetricsServer::Handle(const std::string& path, std::string* body, int* status) const {
  if (path != "/metrics") {
    *body = "board " + std::to_string(slot_) + ": Prometheus metrics are at /metrics\n";
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  nlohmann::json j;
  try {
    j = source_();
  } catch (const std::exception& e) {
    *status = 500;
    *body = std::string("board status failed: ") + e.what() + "\n";
    return;
  }
  MetricsContext ctx;
  ctx.scrape_status_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  *body = StatusToPrometheus(j, ctx);
}

}  // namespace bp::board
