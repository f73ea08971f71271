// Bearer tokens and the roles they carry. The tokens file holds only each
// token's SHA-256, so a copy of it (a backup, a config repository) lets
// nobody in; a presented token is hashed and looked up.
#ifndef MAILFLEET_COMMON_SECURITY_TOKENS_H_
#define MAILFLEET_COMMON_SECURITY_TOKENS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace mailfleet {

// Ordered: each role may do everything the ones before it may.
enum class Role {
  kViewer = 1,    // summaries, listings, watches, envelopes
  kReader = 2,    // also raw content, which is personal data
  kOperator = 3,  // also every action
};

absl::string_view RoleName(Role role);
std::optional<Role> ParseRole(absl::string_view name);

// A principal's name: what the audit log records and the controller
// forwards, so it is kept to characters that need no escaping anywhere.
bool IsValidPrincipalName(absl::string_view name);

// Lowercase hex SHA-256 of `text`.
std::string Sha256Hex(absl::string_view text);

struct TokenHolder {
  std::string name;
  Role role = Role::kViewer;
};

// A parsed tokens file: one `NAME ROLE SHA256HEX` per line, `#` comments.
class TokenTable {
 public:
  // Every error names `origin`:line. Names and hashes must be unique.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text,
                                          absl::string_view origin);

  // The holder of `token`, or null.
  const TokenHolder* Find(absl::string_view token) const;
  size_t size() const { return by_hash_.size(); }

 private:
  absl::flat_hash_map<std::string, TokenHolder> by_hash_;
};

// The tokens file of a running server: read at start, read again on
// SIGHUP. A file with errors keeps the table in use.
class TokenStore {
 public:
  explicit TokenStore(std::string path) : path_(std::move(path)) {}

  absl::Status Load();
  // A snapshot: calls in flight keep the table they started with.
  std::shared_ptr<const TokenTable> table() const;
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> table_ ABSL_GUARDED_BY(mu_);
};

// Reads a small text file (a key, a certificate, a tokens file): NOT_FOUND
// or another error naming `path`; refused past `max_bytes`.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          size_t max_bytes = 1 << 20);

}  // namespace mailfleet

#endif  // MAILFLEET_COMMON_SECURITY_TOKENS_H_
