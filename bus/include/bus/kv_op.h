// The wire form of key/value operations (KvOp in bus/schema/frames.fbs),
// built in one place: client requests (firmware_shim's codec, the test
// clients), forwarded writes and scan replies (board) all encode their keys
// and values through these. Decoding is board/decode.h's DecodeKvOps.
// Pure functions on a FlatBufferBuilder; any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "frames_generated.h"

namespace bp::bus {

// A [ubyte] field holding `bytes` (an empty vector for empty bytes).
inline flatbuffers::Offset<flatbuffers::Vector<uint8_t>> BytesField(
    flatbuffers::FlatBufferBuilder& fbb, std::string_view bytes) {
  return fbb.CreateVector(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// One op; a delete carries no value.
inline flatbuffers::Offset<wire::KvOp> EncodeKvOp(flatbuffers::FlatBufferBuilder& fbb, bool put,
                                                  std::string_view key, std::string_view value) {
  auto k = BytesField(fbb, key);
  auto v = put ? BytesField(fbb, value) : flatbuffers::Offset<flatbuffers::Vector<uint8_t>>();
  return wire::CreateKvOp(fbb, put ? wire::OpKind::Put : wire::OpKind::Delete, k, v);
}

// Puts of (key, value) pairs, in order: a batch write, or a scan's result.
inline flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::KvOp>>> EncodeKvPuts(
    flatbuffers::FlatBufferBuilder& fbb,
    const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<flatbuffers::Offset<wire::KvOp>> ops;
  ops.reserve(pairs.size());
  for (const auto& [k, v] : pairs) ops.push_back(EncodeKvOp(fbb, true, k, v));
  return fbb.CreateVector(ops);
}

}  // namespace bp::bus
