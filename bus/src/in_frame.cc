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

InFrame::InFrame() = default;
InFrame::~InFrame() = default;
InFrame::InFrame(InFrame&&) noexcept = default;
InFrame& InFrame::operator=(InFrame&&) noexcept = default;

const wire::Frame* InFrame::frame() const { return storage_ ? storage_->frame : nullptr; }

int InFrame::sender() const { return storage_ && storage_->frame ? storage_->frame->sender() : -1; }

const uint8_t* InFrame::data() const { return storage_ ? storage_->bytes : nullptr; }

size_t InFrame::size() const { return storage_ ? storage_->size : 0; }

}  // namespace bp::bus
