// InFrame: a verified received frame that owns its bytes.
#include <cstring>

#include "in_frame_storage.h"

namespace bp::bus {

InFrame::Storage::Storage(zmq::message_t&& m) : msg(std::move(m)) {
  size = msg.size();
  bytes = static_cast<const uint8_t*>(msg.data());
  if (reinterpret_cast<uintptr_t>(bytes) % alignof(uint64_t) == 0) return;
  aligned_copy = std::make_unique<uint64_t[]>((size + sizeof(uint64_t) - 1) / sizeof(uint64_t));
  std::memcpy(aligned_copy.get(), bytes, size);
  bytes = reinterpret_cast<const uint8_t*>(aligned_copy.get());
}

InFrame::Storage::Storage(const uint8_t* data, size_t n, std::shared_ptr<const void> k)
    : keep(std::move(k)) {
  size = n;
  bytes = data;
  if (keep != nullptr && reinterpret_cast<uintptr_t>(bytes) % alignof(uint64_t) == 0) return;
  aligned_copy = std::make_unique<uint64_t[]>((size + sizeof(uint64_t) - 1) / sizeof(uint64_t) + 1);
  if (size > 0) std::memcpy(aligned_copy.get(), data, size);
  bytes = reinterpret_cast<const uint8_t*>(aligned_copy.get());
  keep.reset();
}

InFrame InFrame::Adopt(std::unique_ptr<Storage> s, uint64_t chassis_id, int64_t received_us,
                       Reject* why) {
  Reject r = Reject::kNone;
  s->frame = CheckFrame(s->bytes, s->size, chassis_id, &r);
  if (why) *why = r;
  InFrame in;
  if (s->frame == nullptr) return in;
  in.storage_ = std::move(s);
  in.received_us_ = received_us;
  return in;
}

InFrame InFrame::FromBytes(std::span<const uint8_t> bytes, uint64_t chassis_id,
                           int64_t received_us, Reject* why) {
  return Adopt(std::make_unique<Storage>(bytes.data(), bytes.size(), nullptr), chassis_id,
               received_us, why);
}

InFrame InFrame::FromOutFrame(const OutFrame& out, uint64_t chassis_id, int64_t received_us,
                              Reject* why) {
  return Adopt(std::make_unique<Storage>(out.data(), out.size(), out.buffer()), chassis_id,
               received_us, why);
}

InFrame::InFrame() = default;
InFrame::~InFrame() = default;
InFrame::InFrame(InFrame&&) noexcept = default;
InFrame& InFrame::operator=(InFrame&&) noexcept = default;

const wire::Frame* InFrame::frame() const { return storage_ ? storage_->frame : nullptr; }

int InFrame::sender() const { return storage_ && storage_->frame ? storage_->frame->sender() : -1; }

const uint8_t* InFrame::data() const { return storage_ ? storage_->bytes : nullptr; }

size_t InFrame::size() const { return storage_ ? storage_->size : 0; }

}  // namespace bp::bus
