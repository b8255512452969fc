#include "registry.h"

#include <deque>
#include <mutex>
#include <unordered_map>

#include "errors.h"

namespace fw {
namespace {

// Closed handles are remembered (bounded) only to tell "closed twice" from
// "never a handle"; correctness does not depend on it.
constexpr size_t kClosedRemembered = 1024;

struct Registry {
  std::mutex mu;
  std::unordered_map<const fw_board*, std::shared_ptr<fw_board>> live;
  std::deque<const fw_board*> closed;

  bool WasClosed(const fw_board* h) const {
    for (const fw_board* c : closed) {
      if (c == h) return true;
    }
    return false;
  }
  void ForgetClosed(const fw_board* h) {
    for (auto it = closed.begin(); it != closed.end(); ++it) {
      if (*it == h) {
        closed.erase(it);
        return;
      }
    }
  }
  fw_err_t Missing(const fw_board* h) const {
    if (h == nullptr)
      return Fail(FW_ERR_BAD_HANDLE, "handle is NULL: pass the handle fw_open gave");
    if (WasClosed(h)) {
      return Fail(FW_ERR_CLOSED, "handle was closed by fw_close; open a new one with fw_open");
    }
    return Fail(FW_ERR_BAD_HANDLE, "not a handle from fw_open (corrupt or foreign pointer)");
  }
};

// Never destroyed: handles may still be closed by static destructors at exit.
Registry& Reg() {
  static Registry* r = new Registry;
  return *r;
}

}  // namespace

void RegisterHandle(std::shared_ptr<fw_board> board) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  r.ForgetClosed(board.get());  // the allocator reused a closed handle's address
  r.live.emplace(board.get(), std::move(board));
}

std::shared_ptr<fw_board> FindHandle(const fw_board* h, fw_err_t* err) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  auto it = h ? r.live.find(h) : r.live.end();
  if (it != r.live.end()) return it->second;
  *err = r.Missing(h);
  return nullptr;
}

std::shared_ptr<fw_board> RemoveHandle(const fw_board* h, fw_err_t* err) {
  Registry& r = Reg();
  std::lock_guard<std::mutex> l(r.mu);
  auto it = h ? r.live.find(h) : r.live.end();
  if (it == r.live.end()) {
    *err = r.Missing(h);
    return nullptr;
  }
  std::shared_ptr<fw_board> b = std::move(it->second);
  r.live.erase(it);
  r.closed.push_back(h);
  if (r.closed.size() > kClosedRemembered) r.closed.pop_front();
  return b;
}

}  // namespace fw
