#include "common/security/tokens.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fmt_absl.h"
#include "spdlog/spdlog.h"

namespace mailfleet {
namespace {

constexpr size_t kMaxPrincipalName = 64;
constexpr size_t kSha256HexLength = 64;

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kReader:
      return "reader";
    case Role::kOperator:
      return "operator";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role r : {Role::kViewer, Role::kReader, Role::kOperator}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

bool IsValidPrincipalName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxPrincipalName) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '@' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string Sha256Hex(absl::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // One-shot EVP_Digest cannot fail for SHA-256 on a memory buffer short
  // of the library being broken; an empty result then matches no token.
  if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(),
                 nullptr) != 1) {
    return "";
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text,
                                             absl::string_view origin) {
  TokenTable table;
  absl::flat_hash_map<std::string, int> names;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    auto where = [&] { return absl::StrCat(origin, ":", line_number, ": "); };
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "expected NAME ROLE SHA256HEX, found ", fields.size(),
          " fields"));
    }
    if (!IsValidPrincipalName(fields[0])) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "name '", absl::CHexEscape(fields[0]),
          "' is not 1 to 64 of A-Z a-z 0-9 . _ @ -"));
    }
    std::optional<Role> role = ParseRole(fields[1]);
    if (!role) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "role '", absl::CHexEscape(fields[1]),
                       "' is not viewer, reader or operator"));
    }
    std::string hash = absl::AsciiStrToLower(fields[2]);
    if (hash.size() != kSha256HexLength || !IsLowerHex(hash)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "the third field must be the token's SHA-256 in "
                                "64 hex digits (printf %s TOKEN | sha256sum)"));
    }
    if (auto [it, added] = names.emplace(fields[0], line_number); !added) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "name ", fields[0], " already on line ", it->second));
    }
    if (!table.by_hash_.emplace(hash, TokenHolder{std::string(fields[0]), *role})
             .second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "the same token is listed twice"));
    }
  }
  return table;
}

const TokenHolder* TokenTable::Find(absl::string_view token) const {
  if (token.empty()) return nullptr;
  auto it = by_hash_.find(Sha256Hex(token));
  return it == by_hash_.end() ? nullptr : &it->second;
}

absl::Status TokenStore::Load() {
  absl::StatusOr<std::string> text = ReadSmallFile(path_);
  if (!text.ok()) return text.status();
  absl::StatusOr<TokenTable> table = TokenTable::Parse(*text, path_);
  if (!table.ok()) return table.status();
  spdlog::info("tokens: {} from {}", table->size(), path_);
  auto shared = std::make_shared<const TokenTable>(*std::move(table));
  absl::MutexLock lock(&mu_);
  table_ = std::move(shared);
  return absl::OkStatus();
}

std::shared_ptr<const TokenTable> TokenStore::table() const {
  absl::MutexLock lock(&mu_);
  return table_;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::string reason = std::strerror(errno);
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": ", reason));
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", reason));
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string reason = std::strerror(errno);
      close(fd);
      return absl::FailedPreconditionError(absl::StrCat(path, ": ", reason));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
    }
  }
  close(fd);
  return out;
}

}  // namespace mailfleet
