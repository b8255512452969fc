// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/)
// from real frames, requests, replies and configurations, built with the
// project's own builders: bus/frames.h, the shim's encoder (codec.h), the
// generated client.fbs API as the board uses it, and MakeLocalChassis /
// ToToml plus the README's example configuration.
//
//   fuzz_corpus_gen tests/fuzz/corpus     # rewrites every seed (deterministic)
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "board/config.h"
#include "board/config_digest.h"
#include "bus/curve.h"
#include "board/frame_checks.h"
#include "bus/frames.h"
#include "client_generated.h"
#include "codec.h"

namespace {

namespace fs = std::filesystem;
using namespace bp;

constexpr uint64_t kChassis = 7;  // the fuzz targets check frames against chassis 7

std::string Str(const bus::OutFrame& f) { return std::string(reinterpret_cast<const char*>(f.data()), f.size()); }

flatbuffers::Offset<flatbuffers::Vector<uint8_t>> Bytes(flatbuffers::FlatBufferBuilder& fbb,
                                                        const std::string& s) {
  return fbb.CreateVector(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

void Put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// A Berkeley DB 5.3 replication control (__rep_control_args, 36 bytes,
// big-endian; board/frame_checks.h): versions, lsn, rectype, gen, time, flags.
std::vector<uint8_t> Control(uint32_t rectype, uint32_t gen, bus::Lsn lsn, uint32_t flags,
                             uint32_t rep_version = board::kRepVersion53) {
  std::vector<uint8_t> c;
  for (uint32_t v : {rep_version, board::kLogVersion53, lsn.file, lsn.offset, rectype, gen, 1700000000u, 0u,
                     flags}) {
    for (int s = 24; s >= 0; s -= 8) c.push_back(uint8_t(v >> s));
  }
  return c;
}

bus::OutFrame Finish(flatbuffers::FlatBufferBuilder& fbb, int sender, wire::Body type,
                     flatbuffers::Offset<void> body) {
  return bus::FinishFrame(fbb, {kChassis, sender}, type, body);
}

void BusFrames(const fs::path& dir) {
  const bus::FrameHeader h{kChassis, 2};
  std::vector<uint8_t> rec(64, 0xab);
  // Rectypes of a live stream and of a catching-up board (rep.h numbers).
  int i = 0;
  for (uint32_t rectype : {1u, 3u, 4u, 6u, 10u, 11u, 13u, 14u, 15u, 16u, 17u, 19u, 26u, 29u, 30u}) {
    for (uint32_t flags : {0u, board::kRepCtlLease, 0x1u}) {
      bus::Lsn lsn{1, 28u + 100u * rectype};
      Put(dir, "repmsg_" + std::to_string(i++), Str(bus::BuildRepMsg(h, Control(rectype, 3, lsn, flags), rec,
                                                                  lsn, flags ? 0x4u : 0x2u, 3)));
    }
  }
  {
    // A REP_BULK_LOG buffer: records of 4-byte length, 8-byte LSN, the
    // record's size again, the record (__rep_bulk_marshal).
    std::vector<uint8_t> bulk;
    auto be = [&](uint32_t v) {
      for (int s = 24; s >= 0; s -= 8) bulk.push_back(uint8_t(v >> s));
    };
    for (uint32_t i = 0; i < 3; ++i) {
      be(20);
      be(1);
      be(1000 + 40 * i);
      be(20);
      bulk.insert(bulk.end(), 20, uint8_t(i));
    }
    Put(dir, "repmsg_bulk_log", Str(bus::BuildRepMsg(h, Control(board::kRepBulkLog, 3, {1, 1000}, 0), bulk,
                                                    {1, 1000}, 0x2, 3)));
  }
  Put(dir, "repmsg_old_rep_version", Str(bus::BuildRepMsg(h, Control(11, 3, {1, 28}, 0, 6), rec, {1, 28}, 2, 3)));
  Put(dir, "repmsg_short_control", Str(bus::BuildRepMsg(h, std::vector<uint8_t>(10, 1), {}, {}, 0, 1)));
  Put(dir, "repmsg_empty", Str(bus::BuildRepMsg(h, {}, {}, {}, 0, 0)));
  Put(dir, "ack", Str(bus::BuildAck(h, 3, {1, 4096})));
  Put(dir, "ack_huge_lsn", Str(bus::BuildAck(h, 3, {0xffffffffu, 0xffffffffu})));
  bus::HeartbeatInfo hb;
  hb.role = wire::Role::Master;
  hb.gen = 3;
  hb.master = 2;
  hb.startup_done = true;
  hb.priority = 100;
  hb.next_lsn = {1, 8192};
  hb.seq = 1234;
  hb.lease_valid = true;
  hb.confirm_gen = 3;  // a master confirms its own generation (CheckHeartbeat)
  hb.db_pages = 40;
  hb.page_size = 4096;
  hb.cache_bytes = 64 << 20;
  hb.data_bytes = 1 << 20;
  // The digest a board of the fuzz target's chassis (3 local boards) sends.
  const board::ChassisDigestValue digest = board::ChassisDigest(board::MakeLocalChassis(3, "/run/bp", kChassis));
  hb.config_digest = digest.total;
  hb.config_digest_group_count = digest.groups.size();
  for (size_t g = 0; g < digest.groups.size(); ++g) hb.config_digest_groups[g] = digest.groups[g];
  Put(dir, "heartbeat_master", Str(bus::BuildHeartbeat(h, hb)));
  hb.role = wire::Role::Client;
  hb.confirm_gen = 3;
  hb.reinit = true;
  Put(dir, "heartbeat_client", Str(bus::BuildHeartbeat({kChassis, 3}, hb)));
  Put(dir, "heartbeat_default", Str(bus::BuildHeartbeat(h, {})));
  hb.config_digest ^= 1;  // a board of another configuration
  Put(dir, "heartbeat_other_digest", Str(bus::BuildHeartbeat({kChassis, 3}, hb)));
  Put(dir, "wrong_chassis", Str(bus::BuildAck({kChassis + 1, 2}, 3, {1, 1})));
  {
    flatbuffers::FlatBufferBuilder fbb(256);
    std::vector<flatbuffers::Offset<wire::KvOp>> ops;
    for (int k = 0; k < 3; ++k) {
      auto key = Bytes(fbb, "key" + std::to_string(k));
      auto val = Bytes(fbb, std::string(16, char('a' + k)));
      ops.push_back(wire::CreateKvOp(fbb, k == 2 ? wire::OpKind::Delete : wire::OpKind::Put, key, val));
    }
    auto req = wire::CreateAppRequest(fbb, 0x1122334455667788ull, 42, 3, fbb.CreateVector(ops), 500000);
    Put(dir, "app_request", Str(Finish(fbb, 3, wire::Body::AppRequest, req.Union())));
  }
  for (int code : {0, 4, 6, 11}) {
    flatbuffers::FlatBufferBuilder fbb(256);
    auto msg = fbb.CreateString(code ? "board 2 is not master; retry at the master" : "");
    std::string token(20, '\x05');
    auto tok = fbb.CreateVector(reinterpret_cast<const uint8_t*>(token.data()), token.size());
    auto rep = wire::CreateAppReply(fbb, 0x1122334455667788ull, 42, code, msg, code == 0, tok, false);
    Put(dir, "app_reply_" + std::to_string(code), Str(Finish(fbb, 2, wire::Body::AppReply, rep.Union())));
  }
  {
    flatbuffers::FlatBufferBuilder fbb(128);
    auto join = wire::CreateJoin(fbb, fbb.CreateString("ipc:///run/bp/slot4.bus"), 100, true);
    Put(dir, "join", Str(Finish(fbb, 4, wire::Body::Join, join.Union())));
  }
  {
    flatbuffers::FlatBufferBuilder fbb(64);
    auto leave = wire::CreateLeave(fbb);
    Put(dir, "leave", Str(Finish(fbb, 4, wire::Body::Leave, leave.Union())));
  }
}

std::string ScanRequest(uint64_t seq) {
  flatbuffers::FlatBufferBuilder fbb(128);
  auto k = Bytes(fbb, "a");
  auto e = Bytes(fbb, "m");
  wire::ClientRequestBuilder b(fbb);
  b.add_version(bus::kProtocolVersion);
  b.add_op(wire::ClientOp::Scan);
  b.add_seq(seq);
  b.add_key(k);
  b.add_scan_end(e);
  b.add_limit(100);
  fbb.Finish(wire::CreateClientFrame(fbb, wire::ClientMsg::ClientRequest, b.Finish().Union()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// What the board sends back (as board/src/client_server.cc builds it).
std::string ClientReply(uint64_t seq, int code, const std::string& value, const std::string& json) {
  flatbuffers::FlatBufferBuilder fbb(128);
  auto msg = fbb.CreateString(code ? "board 1 is not in sync with a master yet; retry" : "");
  auto val = fbb.CreateVector(reinterpret_cast<const uint8_t*>(value.data()), value.size());
  auto tok = fbb.CreateVector(reinterpret_cast<const uint8_t*>("tok"), 3);
  auto js = fbb.CreateString(json);
  std::vector<flatbuffers::Offset<wire::KvOp>> pairs;
  auto r = wire::CreateClientReply(fbb, bus::kProtocolVersion, seq, code, msg, val, true, tok, js,
                                   fbb.CreateVector(pairs), 1, 3, 123456789);
  fbb.Finish(wire::CreateClientFrame(fbb, wire::ClientMsg::ClientReply, r.Union()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string RoleEvent(int kind) {
  flatbuffers::FlatBufferBuilder fbb(64);
  auto ev = wire::CreateRoleEvent(fbb, bus::kProtocolVersion, kind, wire::Role::Master, 1, 4);
  fbb.Finish(wire::CreateClientFrame(fbb, wire::ClientMsg::RoleEvent, ev.Union()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

void ClientRequests(const fs::path& dir) {
  fw_request_id_t id{0x0102030405060708ull, 99};
  fw_op_t ops[2] = {};
  ops[0].kind = FW_OP_PUT;
  ops[0].key = "k1";
  ops[0].klen = 2;
  ops[0].val = "value1";
  ops[0].vlen = 6;
  ops[1].kind = FW_OP_DELETE;
  ops[1].key = "k2";
  ops[1].klen = 2;
  Put(dir, "get_local", fw::EncodeGet(1, "key", FW_READ_LOCAL, "", 1000));
  Put(dir, "get_ryw", fw::EncodeGet(2, "key", FW_READ_YOUR_WRITES, std::string(20, '\x07'), 500));
  Put(dir, "get_linearizable", fw::EncodeGet(3, "key", FW_READ_LINEARIZABLE, "", 2000));
  Put(dir, "write", fw::EncodeWrite(4, id, ops, 2));
  Put(dir, "status", fw::EncodeStatus(5));
  Put(dir, "subscribe", fw::EncodeSubscribe(6, true));
  Put(dir, "unsubscribe", fw::EncodeSubscribe(7, false));
  Put(dir, "scan", ScanRequest(8));
  Put(dir, "get_long_key", fw::EncodeGet(10, std::string(300, 'k'), FW_READ_LOCAL, "", 0));
  Put(dir, "write_empty", fw::EncodeWrite(11, id, ops, 0));
  std::vector<fw_op_t> many(20, ops[0]);
  Put(dir, "write_20_ops", fw::EncodeWrite(12, id, many.data(), many.size()));
  int i = 0;
  for (const char* cmd : {R"({"cmd":"status"})", R"({"cmd":"text"})", R"({"cmd":"heal"})",
                          R"({"cmd":"partition","slots":[2,3]})", R"({"cmd":"elect"})",
                          R"({"cmd":"link","slot":2,"delay_us":100,"loss":0.1,"cut_out":false,"cut_in":true})",
                          "not json"}) {
    Put(dir, "admin_" + std::to_string(i++), fw::EncodeAdmin(9, cmd));
  }
  Put(dir, "a_reply_not_a_request", ClientReply(1, 0, "v", ""));
}

const char* kStatusJson = R"({"role":"master","slot":1,"master":1,"generation":4,
"startup_complete":true,"reinit":false,"confirmed_master":true,
"peers":[{"slot":2,"alive":true,"generation":4,"lag_bytes":0},
         {"slot":3,"alive":false,"generation":3,"lag_bytes":4096}],
"queues":{"rep":{"depth":0,"limit":10000}}})";

void ShimReplies(const fs::path& dir) {
  // The fuzz target's first byte picks the decoder: 0 frame, 1 status JSON.
  const std::string frame(1, '\0'), json(1, '\1');
  Put(dir, "reply_ok", frame + ClientReply(1, 0, "value", ""));
  Put(dir, "reply_unavailable", frame + ClientReply(2, 5, "", ""));
  Put(dir, "reply_status", frame + ClientReply(3, 0, "", kStatusJson));
  for (int kind : {1, 2, 5}) Put(dir, "role_event_" + std::to_string(kind), frame + RoleEvent(kind));
  Put(dir, "a_request_not_a_reply", frame + fw::EncodeStatus(1));
  for (int code = 1; code <= 11; ++code) {
    Put(dir, "reply_code_" + std::to_string(code), frame + ClientReply(10 + code, code, "", ""));
  }
  for (int kind : {3, 4, 6, 9, 10}) Put(dir, "role_event_" + std::to_string(kind), frame + RoleEvent(kind));
  Put(dir, "status_master", json + kStatusJson);
  Put(dir, "status_replica", json + R"({"role":"replica","slot":2,"master":1,"generation":4,"peers":[]})");
  Put(dir, "status_starting", json + R"({"role":"starting","slot":3,"master":-1})");
}

const char* kReadmeConfig = R"([chassis]
id = 7                      # frames of another chassis are dropped and counted
ack_policy = "quorum"       # none | one | one_peer | quorum | all_available | all
security = "none"           # curve (the default) needs every board's public_key

[[board]]
slot = 1                    # the Berkeley DB environment id, 1..1000
endpoint = "ipc:///run/bp/slot1.bus"           # bus endpoint (ipc://, tcp://, inproc://)
client_endpoint = "ipc:///run/bp/slot1.client" # firmware shim + admin
priority = 100              # breaks ties between equally up-to-date boards
electable = true            # false: replica only, never master, does not vote
)";

void Configs(const fs::path& dir) {
  Put(dir, "readme", kReadmeConfig);
  for (int boards : {1, 2, 3, 5}) {
    board::ChassisConfig c = board::MakeLocalChassis(boards, "/tmp/bp-run", kChassis);
    Put(dir, "local_" + std::to_string(boards), board::ToToml(c));
  }
  board::ChassisConfig c = board::MakeLocalChassis(3, "/run/bp", 9);
  c.ack_policy = board::AckPolicy::kAll;
  c.leases = true;
  c.boards[2].electable = false;
  Put(dir, "leases_all", board::ToToml(c));
  c = board::MakeLocalChassis(2, "/run/bp", 9);
  c.two_board_mode = board::TwoBoardMode::kPreferred;
  c.preferred_slot = 1;
  Put(dir, "two_board_preferred", board::ToToml(c));
  for (auto p : {board::AckPolicy::kNone, board::AckPolicy::kOne, board::AckPolicy::kOnePeer,
                 board::AckPolicy::kQuorum, board::AckPolicy::kAllAvailable, board::AckPolicy::kAll}) {
    c = board::MakeLocalChassis(3, "/run/bp", 11);
    c.ack_policy = p;
    Put(dir, std::string("ack_") + board::AckPolicyName(p), board::ToToml(c));
  }
  c = board::MakeLocalChassis(2, "/run/bp", 12);
  c.two_board_mode = board::TwoBoardMode::kFailover;
  Put(dir, "two_board_failover", board::ToToml(c));
  c = board::MakeLocalChassis(4, "/run/bp", 13);
  for (auto& b : c.boards) {
    b.endpoint = "tcp://10.0.0." + std::to_string(b.slot) + ":5550";
    b.client_endpoint = "tcp://127.0.0.1:" + std::to_string(5560 + b.slot);
    b.priority = 100 + 10 * b.slot;
  }
  Put(dir, "tcp_priorities", board::ToToml(c));
  c = board::MakeLocalChassis(3, "/run/bp \"quoted\" \\dir", 14);
  Put(dir, "escaped_endpoints", board::ToToml(c));
  // security curve, with fixed keys (the corpus is the same on every run).
  c = board::MakeLocalChassis(3, "/run/bp", 15);
  c.security = board::SecurityMode::kCurve;
  for (auto& b : c.boards) {
    b.public_key = bus::CurveKeyToZ85(std::string(bus::kCurveKeyBytes, char('a' + b.slot)));
    b.secret_key_file = "/etc/bp/slot" + std::to_string(b.slot) + ".key";
  }
  Put(dir, "curve_keys", board::ToToml(c));
  Put(dir, "error_no_board", "[chassis]\nid = 1\n");
  Put(dir, "error_unknown_section", std::string(kReadmeConfig) + "[extra]\nx = 1\n");
  Put(dir, "error_float_key", std::string("[chassis]\nid = 7\nack_timeout_ms = 2.5\n") +
                                 (kReadmeConfig + std::string(kReadmeConfig).find("[[board]]")));
  Put(dir, "error_syntax", "[chassis\nid = = 1\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir> (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  BusFrames(root / "fuzz_bus_frame");
  ClientRequests(root / "fuzz_client_request");
  Configs(root / "fuzz_chassis_config");
  ShimReplies(root / "fuzz_shim_reply");
  return 0;
}
