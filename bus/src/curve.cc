// CURVE keys and key files (see bus/curve.h).
#include "bus/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <zmq.h>

namespace bp::bus {
namespace {

// A key file is a few short lines; anything bigger is not one of ours.
constexpr size_t kMaxKeyFileBytes = 4096;
constexpr mode_t kKeyFileMode = 0600;

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string Errno() { return std::strerror(errno); }

// Reads the whole (small) file behind `fd`.
Result<std::string> ReadAll(int fd, const std::string& path) {
  std::string text;
  char buf[512];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable("key file " + path + ": read failed: " + Errno());
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxKeyFileBytes) {
      return Status::InvalidArgument("key file " + path + ": larger than 4 KiB, not a key file");
    }
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Parses `name = "value"` lines into the pair; names public / secret only.
Status ParseKeyFile(std::string_view text, const std::string& path, CurveKeyPair* pair) {
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    std::string where = "key file " + path + " line " + std::to_string(line_no);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(where + ": expected name = \"value\"; regenerate the file "
                                     "with `board --keygen`");
    }
    std::string_view name = Trim(line.substr(0, eq));
    std::string_view value = Trim(line.substr(eq + 1));
    if (value.size() < 2 || value.front() != '"' || value.back() != '"') {
      return Status::InvalidArgument(where + ": the value of '" + std::string(name) +
                                     "' must be a quoted string");
    }
    value = value.substr(1, value.size() - 2);
    std::string* target = name == "public" ? &pair->public_z85
                          : name == "secret" ? &pair->secret_z85
                                             : nullptr;
    if (target == nullptr) {
      return Status::InvalidArgument(where + ": unknown name '" + std::string(name) +
                                     "' (a key file holds only public and secret)");
    }
    if (!IsValidCurveKey(value)) {
      return Status::InvalidArgument(where + ": '" + std::string(name) +
                                     "' is not a CURVE key (40 Z85 characters)");
    }
    *target = std::string(value);
  }
  return Status::Ok();
}

Status CheckPair(const CurveKeyPair& pair, const std::string& what) {
  Result<std::string> derived = CurvePublicFromSecret(pair.secret_z85);
  if (!derived.ok()) return derived.status().WithContext(what);
  if (derived.value() != pair.public_z85) {
    return Status::InvalidArgument(what + ": the public key " + pair.public_z85 +
                                   " does not belong to the secret key (its public key is " +
                                   derived.value() + "); regenerate the key file");
  }
  return Status::Ok();
}

Status WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable(Errno());
    done += static_cast<size_t>(n);
  }
  return fsync(fd) == 0 ? Status::Ok() : Status::Unavailable(Errno());
}

}  // namespace

bool CurveAvailable() { return zmq_has("curve") != 0; }

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[kCurveKeyZ85Chars + 1] = {};
  char sec[kCurveKeyZ85Chars + 1] = {};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::Unavailable(
        "zmq_curve_keypair failed: this libzmq has no CURVE (build it with libsodium)");
  }
  return CurveKeyPair{pub, sec};
}

bool IsValidCurveKey(std::string_view z85) {
  if (z85.size() != kCurveKeyZ85Chars) return false;
  std::string text(z85);  // zmq_z85_decode needs a NUL-terminated string
  uint8_t bytes[kCurveKeyBytes];
  return zmq_z85_decode(bytes, text.c_str()) != nullptr;
}

Result<std::string> CurveKeyToBinary(std::string_view z85) {
  if (!IsValidCurveKey(z85)) {
    return Status::InvalidArgument("'" + std::string(z85) +
                                   "' is not a CURVE key (40 Z85 characters)");
  }
  std::string text(z85);
  std::string bytes(kCurveKeyBytes, '\0');
  zmq_z85_decode(reinterpret_cast<uint8_t*>(bytes.data()), text.c_str());
  return bytes;
}

std::string CurveKeyToZ85(std::string_view binary) {
  if (binary.size() != kCurveKeyBytes) return "";
  char text[kCurveKeyZ85Chars + 1] = {};
  zmq_z85_encode(text, reinterpret_cast<const uint8_t*>(binary.data()), binary.size());
  return text;
}

Result<std::string> CurveKeyAnyToBinary(std::string_view key) {
  if (key.size() == kCurveKeyBytes) return std::string(key);
  return CurveKeyToBinary(key);
}

Result<std::string> CurvePublicFromSecret(std::string_view secret_z85) {
  if (!IsValidCurveKey(secret_z85)) {
    return Status::InvalidArgument("the secret key is not a CURVE key (40 Z85 characters)");
  }
  std::string secret(secret_z85);
  char pub[kCurveKeyZ85Chars + 1] = {};
  if (zmq_curve_public(pub, secret.c_str()) != 0) {
    return Status::Unavailable("zmq_curve_public failed: this libzmq has no CURVE");
  }
  return std::string(pub);
}

Status WriteSecretKeyFile(const std::string& path, const CurveKeyPair& pair, bool replace) {
  const std::string what = "key file " + path;
  BP_RETURN_IF_ERROR(CheckPair(pair, what));
  struct stat st;
  if (!replace && lstat(path.c_str(), &st) == 0) {
    return Status::FailedPrecondition(what + " already exists; remove it or ask to replace it");
  }
  std::string tmp = path + ".tmpXXXXXX";
  int fd = mkstemp(tmp.data());  // mode 0600, O_EXCL
  if (fd < 0) {
    return Status::Unavailable(what + ": cannot create a file next to it: " + Errno() +
                               " (does the directory exist and is it writable?)");
  }
  std::string text = "# CURVE key pair of a backplane board: keep this file mode 0600\n"
                     "public = \"" + pair.public_z85 + "\"\n"
                     "secret = \"" + pair.secret_z85 + "\"\n";
  Status s = fchmod(fd, kKeyFileMode) == 0 ? WriteAll(fd, text) : Status::Unavailable(Errno());
  close(fd);
  if (s.ok()) {
    // link() refuses an existing target atomically; rename() replaces it.
    int rc = replace ? rename(tmp.c_str(), path.c_str()) : link(tmp.c_str(), path.c_str());
    if (rc != 0 && errno == EEXIST) {
      s = Status::FailedPrecondition(what + " already exists; remove it or ask to replace it");
    } else if (rc != 0) {
      s = Status::Unavailable(what + ": " + Errno());
    }
  } else {
    s = s.WithContext(what + ": write failed");
  }
  unlink(tmp.c_str());  // after rename it is gone already: harmless
  return s;
}

Result<CurveKeyPair> ReadSecretKeyFile(const std::string& path) {
  const std::string what = "key file " + path;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT) {
    return Status::NotFound(what + " does not exist; create it with `board --keygen " + path +
                            "` or `chassis keygen`");
  }
  if (fd < 0 && errno == ELOOP) {
    return Status::FailedPrecondition(what + " is a symbolic link; name the key file itself");
  }
  if (fd < 0) return Status::Unavailable(what + ": cannot open: " + Errno());
  struct stat st;
  // The mode is checked on the opened file, so it cannot change in between.
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::FailedPrecondition(what + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return Status::FailedPrecondition(what + " has mode " + OctalMode(st.st_mode) +
                                      ": a secret key must not be readable or writable by group "
                                      "or other; fix: chmod 600 " + path);
  }
  Result<std::string> text = ReadAll(fd, path);
  close(fd);
  if (!text.ok()) return text.status();
  CurveKeyPair pair;
  BP_RETURN_IF_ERROR(ParseKeyFile(text.value(), path, &pair));
  if (pair.secret_z85.empty() || pair.public_z85.empty()) {
    return Status::InvalidArgument(what + ": needs both public = \"...\" and secret = \"...\"");
  }
  BP_RETURN_IF_ERROR(CheckPair(pair, what));
  return pair;
}

}  // namespace bp::bus
