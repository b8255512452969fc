// CURVE key pairs and the secret key file of a board.
//
// Every board has a CURVE key pair (ZeroMQ's CurveZMQ, Curve25519). Keys are
// handled in their Z85 text form: 40 characters for 32 bytes. The public key
// is listed in the chassis configuration; the secret key lives in a file
// readable only by the board's user.
//
// Key file format (TOML-compatible, written by WriteSecretKeyFile, read by
// ReadSecretKeyFile; `#` lines and blank lines are ignored):
//
//   # CURVE key pair of a backplane board: keep this file mode 0600
//   public = "<40 Z85 characters>"
//   secret = "<40 Z85 characters>"
//
// The Z85 alphabet has no `"` or `\`, so the values are plain TOML strings.
//
// Thread-safety: free functions without shared state; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "bp/status.h"

namespace bp::bus {

constexpr size_t kCurveKeyBytes = 32;      // a Curve25519 key
constexpr size_t kCurveKeyZ85Chars = 40;   // its Z85 text form

struct CurveKeyPair {
  std::string public_z85;  // 40 Z85 characters
  std::string secret_z85;  // 40 Z85 characters
};

// True when this libzmq was built with CURVE (zmq_has("curve")).
bool CurveAvailable();

// A fresh key pair (zmq_curve_keypair). Unavailable when libzmq has no CURVE.
Result<CurveKeyPair> GenerateCurveKeyPair();

// True for 40 characters that decode as Z85 (any 32 bytes are a valid key).
bool IsValidCurveKey(std::string_view z85);

// The public key belonging to `secret_z85` (zmq_curve_public).
// InvalidArgument for a key that is not 40 Z85 characters.
Result<std::string> CurvePublicFromSecret(std::string_view secret_z85);

// Z85 (40 chars) -> 32 bytes; InvalidArgument when not a valid key.
Result<std::string> CurveKeyToBinary(std::string_view z85);
// 32 bytes -> Z85 (40 chars); empty for input of another size.
std::string CurveKeyToZ85(std::string_view binary);
// A key given as Z85 (40 chars) or binary (32 bytes) -> 32 bytes.
Result<std::string> CurveKeyAnyToBinary(std::string_view key);

// Writes `pair` to `path` with mode 0600, atomically: a temporary file in the
// same directory, synced, then linked into place. Refuses (FailedPrecondition)
// an existing `path` unless `replace`; then the old file is replaced by
// rename, never truncated in place. Checks that the pair belongs together.
Status WriteSecretKeyFile(const std::string& path, const CurveKeyPair& pair,
                          bool replace = false);

// Reads a key file written by WriteSecretKeyFile. Errors name the path:
//   NotFound            the file does not exist;
//   FailedPrecondition  the file is readable or writable by group or other
//                       (the message shows the mode and `chmod 600 <path>`),
//                       or is not a regular file;
//   InvalidArgument     malformed (a line, a missing or invalid key), or the
//                       public key does not belong to the secret key.
Result<CurveKeyPair> ReadSecretKeyFile(const std::string& path);

}  // namespace bp::bus
