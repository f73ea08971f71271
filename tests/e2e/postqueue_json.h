// `postqueue -j` output read back into structs, for comparisons.
#ifndef MAILFLEET_TESTS_E2E_POSTQUEUE_JSON_H_
#define MAILFLEET_TESTS_E2E_POSTQUEUE_JSON_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mailfleet::testing {

struct PostqueueRecipient {
  std::string address;
  std::string delay_reason;
  bool operator==(const PostqueueRecipient& o) const {
    return address == o.address && delay_reason == o.delay_reason;
  }
};

struct PostqueueEntry {
  std::string queue_name;
  std::string queue_id;
  int64_t arrival_time = 0;
  int64_t message_size = 0;
  bool forced_expire = false;
  std::string sender;
  std::vector<PostqueueRecipient> recipients;
};

// By queue id. Fails on a line that is not one of postqueue's objects.
absl::StatusOr<std::map<std::string, PostqueueEntry>> ParsePostqueueJson(
    const std::string& output);

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_POSTQUEUE_JSON_H_
