#include "client/cli/filter_flags.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/queue_kind_proto.h"
#include "re2/re2.h"

namespace mailfleet::cli {
namespace {

struct FieldName {
  absl::string_view name;
  v1::MatchField field;
};

// The first name of each field is the one help and errors show.
constexpr FieldName kFieldNames[] = {
    {"queue-id", v1::MATCH_FIELD_QUEUE_ID},
    {"sender", v1::MATCH_FIELD_SENDER},
    {"recipient", v1::MATCH_FIELD_RECIPIENT},
    {"reason", v1::MATCH_FIELD_DELAY_REASON},
    {"client", v1::MATCH_FIELD_CLIENT_ADDRESS},
    {"id", v1::MATCH_FIELD_QUEUE_ID},
    {"delay-reason", v1::MATCH_FIELD_DELAY_REASON},
    {"client-address", v1::MATCH_FIELD_CLIENT_ADDRESS},
};

template <typename Repeated, typename T>
void AddOnce(Repeated* repeated, T value) {
  if (std::find(repeated->begin(), repeated->end(), value) == repeated->end()) {
    repeated->Add(value);
  }
}

absl::Duration ToDuration(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) +
         absl::Nanoseconds(duration.nanos());
}

}  // namespace

absl::Status AddQueues(absl::string_view list, v1::Filter* filter) {
  for (absl::string_view name : absl::StrSplit(list, ',')) {
    name = absl::StripAsciiWhitespace(name);
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("empty queue name in '", list, "'"));
    }
    absl::StatusOr<v1::QueueKind> queue = ParseProtoQueueKind(name);
    if (!queue.ok()) return queue.status();
    AddOnce(filter->mutable_queues(), *queue);
  }
  return absl::OkStatus();
}

absl::Status AddMatchFields(absl::string_view list, v1::Filter* filter) {
  for (absl::string_view name : absl::StrSplit(list, ',')) {
    name = absl::StripAsciiWhitespace(name);
    const auto* found =
        std::find_if(std::begin(kFieldNames), std::end(kFieldNames),
                     [name](const FieldName& field) {
                       return absl::EqualsIgnoreCase(field.name, name);
                     });
    if (found == std::end(kFieldNames)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", name,
                       "': expected queue-id, sender, recipient, reason or "
                       "client"));
    }
    AddOnce(filter->mutable_fields(), found->field);
  }
  return absl::OkStatus();
}

absl::Status CheckFilter(const v1::Filter& filter) {
  if (filter.pattern().empty()) {
    if (filter.regex()) {
      return absl::InvalidArgumentError(
          "--regex needs a pattern: --match PATTERN");
    }
    if (!filter.fields().empty()) {
      return absl::InvalidArgumentError(
          "--field needs a pattern to match: --match PATTERN");
    }
  } else if (filter.regex()) {
    // The agent checks again; checking here turns a typo into a usage
    // error before anything is sent.
    RE2::Options options;
    options.set_case_sensitive(false);
    options.set_log_errors(false);
    const RE2 re(filter.pattern(), options);
    if (!re.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid regular expression '", filter.pattern(), "': ", re.error()));
    }
  }
  if (filter.has_min_age() && filter.has_max_age() &&
      ToDuration(filter.min_age()) > ToDuration(filter.max_age())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--older-than ", absl::FormatDuration(ToDuration(filter.min_age())),
        " is longer than --newer-than ",
        absl::FormatDuration(ToDuration(filter.max_age())),
        ": nothing can match"));
  }
  if (filter.min_size() > 0 && filter.max_size() > 0 &&
      filter.min_size() > filter.max_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--min-size ", filter.min_size(), " is larger than --max-size ",
        filter.max_size(), ": nothing can match"));
  }
  return absl::OkStatus();
}

}  // namespace mailfleet::cli
