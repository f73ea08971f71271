#include "tests/e2e/postqueue_json.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mailfleet::testing {

absl::StatusOr<std::map<std::string, PostqueueEntry>> ParsePostqueueJson(
    const std::string& output) {
  std::map<std::string, PostqueueEntry> out;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    google::protobuf::Struct obj;
    auto s = google::protobuf::util::JsonStringToMessage(
        std::string(line.data(), line.size()), &obj);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("bad postqueue line: ", line));
    }
    const auto& f = obj.fields();
    PostqueueEntry e;
    e.queue_name = f.at("queue_name").string_value();
    e.queue_id = f.at("queue_id").string_value();
    e.arrival_time = static_cast<int64_t>(f.at("arrival_time").number_value());
    e.message_size = static_cast<int64_t>(f.at("message_size").number_value());
    e.forced_expire = f.at("forced_expire").bool_value();
    e.sender = f.at("sender").string_value();
    for (const auto& r : f.at("recipients").list_value().values()) {
      const auto& rf = r.struct_value().fields();
      PostqueueRecipient pr;
      pr.address = rf.at("address").string_value();
      if (rf.count("delay_reason")) pr.delay_reason = rf.at("delay_reason").string_value();
      e.recipients.push_back(pr);
    }
    out[e.queue_id] = std::move(e);
  }
  return out;
}

}  // namespace mailfleet::testing
