// Subscription: role events from the board, on a dedicated DEALER socket
// owned by one shim thread (zmq sockets are single-threaded).
//
// The thread subscribes whenever its connection comes up (a restarted board
// has forgotten its subscribers), reports connection loss and recovery as
// FW_EVENT_BOARD_LINK_DOWN / FW_EVENT_BOARD_LINK_UP, and hands events to the
// callback or to a bounded queue whose eventfd is readable while the queue
// is not empty.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "board.h"
#include "codec.h"

namespace fw {

class Subscription {
 public:
  // Starts the thread and waits up to request_timeout_ms for the board to
  // confirm the subscription. On error records the message.
  static fw_err_t Start(zmq::context_t& ctx, const Options& opts, fw_event_cb cb, void* arg,
                        std::unique_ptr<Subscription>* out);
  ~Subscription();

  int fd() const { return event_fd_; }
  bool Next(fw_event_t* out);
  bool OnEventThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  struct Sockets;
  Subscription(const Options& opts, fw_event_cb cb, void* arg);
  fw_err_t Init(zmq::context_t& ctx);
  bool WaitSubscribed(uint32_t timeout_ms);
  void Loop();
  void OnMonitor();
  void OnFrame();
  void SendSubscribe();
  void Deliver(const fw_event_t& ev);
  void Emit(int kind);

  const Options opts_;
  const fw_event_cb cb_;
  void* const arg_;
  std::unique_ptr<Sockets> sockets_;
  int event_fd_ = -1;  // user-visible: readable while queue_ is not empty
  int wake_fd_ = -1;   // stops the thread
  std::atomic<bool> stop_{false};
  std::thread thread_;

  // Thread-only state.
  uint64_t next_seq_ = 1;
  uint64_t pending_seq_ = 0;  // seq of the Subscribe awaiting its reply
  int64_t last_sent_ms_ = 0;
  bool connected_ = false;
  bool lost_link_ = false;  // a LINK_DOWN was reported: report LINK_UP next
  int last_role_ = 0, last_master_ = -1;
  uint32_t last_gen_ = 0;

  std::mutex mu_;  // guards below
  std::condition_variable cv_;
  bool subscribed_ = false;
  std::deque<fw_event_t> queue_;
  uint64_t dropped_ = 0;
};

}  // namespace fw
