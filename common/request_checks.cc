#include "common/request_checks.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/message_differencer.h"
#include "common/queue_id.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet {
namespace {

absl::StatusOr<QueueKind> KindFromProto(int kind) {
  QueueKind core = QueueKindFromProto(kind);
  if (core == QueueKind::kUnknown) {
    return absl::InvalidArgumentError(absl::StrCat("unknown queue kind ", kind));
  }
  return core;
}

// Whether ids looked for in `queues` (all when empty) may be on `side`.
bool Admits(const std::vector<QueueKind>& queues, QueueSource side) {
  if (queues.empty()) return true;
  for (QueueKind q : queues) {
    if (SourceOf(q) == side) return true;
  }
  return false;
}

absl::Status CheckIds(const v1::ActRequest& request,
                      const std::vector<QueueKind>& id_queues) {
  const v1::Action action = request.action();
  const bool mpa_capable =
      (action == v1::ACTION_DELETE || action == v1::ACTION_RESPOOL) &&
      Admits(id_queues, QueueSource::kMpa);
  const bool postfix_capable =
      action != v1::ACTION_RESPOOL && Admits(id_queues, QueueSource::kPostfix);
  if (!mpa_capable && !postfix_capable) {
    return absl::InvalidArgumentError(
        "the queues given hold nothing this action applies to");
  }
  for (const std::string& id : request.selector().queue_ids()) {
    absl::Status postfix_syntax = postfix_capable
                                      ? ValidatePostfixQueueId(id)
                                      : absl::InvalidArgumentError("");
    absl::Status mpa_syntax =
        mpa_capable ? ValidateMpaItemId(id) : absl::InvalidArgumentError("");
    if (postfix_syntax.ok() || mpa_syntax.ok()) continue;
    if (!postfix_capable) return mpa_syntax;
    if (!mpa_capable) return postfix_syntax;
    return absl::InvalidArgumentError(
        absl::StrCat("neither a Postfix queue id (", postfix_syntax.message(),
                     ") nor an MPA item id (", mpa_syntax.message(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<absl::Duration> FromProto(const google::protobuf::Duration& d,
                                         absl::string_view what) {
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() >= 1000000000) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a non-negative duration"));
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::StatusOr<size_t> TopNFromProto(int32_t top_n) {
  if (top_n < 0 || top_n > kMaxTopN) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_n must be between 0 and ", kMaxTopN));
  }
  return top_n == 0 ? kDefaultTopN : static_cast<size_t>(top_n);
}

absl::StatusOr<FilterSpec> FilterSpecFromProto(const v1::Filter& filter) {
  FilterSpec spec;
  for (int q : filter.queues()) {
    auto kind = KindFromProto(q);
    if (!kind.ok()) return kind.status();
    spec.queues.push_back(*kind);
  }
  spec.pattern = filter.pattern();
  spec.regex = filter.regex();
  for (int f : filter.fields()) {
    if (f <= v1::MATCH_FIELD_UNSPECIFIED || f > v1::MATCH_FIELD_CLIENT_ADDRESS) {
      return absl::InvalidArgumentError(absl::StrCat("unknown match field ", f));
    }
    spec.fields.push_back(static_cast<MatchField>(f));
  }
  if (filter.has_min_age()) {
    auto d = FromProto(filter.min_age(), "min_age");
    if (!d.ok()) return d.status();
    spec.min_age = *d;
  }
  if (filter.has_max_age()) {
    auto d = FromProto(filter.max_age(), "max_age");
    if (!d.ok()) return d.status();
    spec.max_age = *d;
  }
  spec.min_size = filter.min_size();
  spec.max_size = filter.max_size();
  return spec;
}

absl::StatusOr<Filter> CompileFilter(const v1::Filter& filter) {
  auto spec = FilterSpecFromProto(filter);
  if (!spec.ok()) return spec.status();
  return Filter::Compile(*spec);
}

absl::Status CheckFlushTargets(const v1::FlushRequest& request) {
  const int targets = (request.all() ? 1 : 0) + (request.queue_ids_size() > 0 ? 1 : 0) +
                      (request.site().empty() ? 0 : 1);
  if (targets != 1) {
    return absl::InvalidArgumentError(
        "flush takes exactly one of: all, queue ids, a site");
  }
  if (request.queue_ids_size() > static_cast<int>(kMaxFlushIds)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flush names ", request.queue_ids_size(), " ids, more than ", kMaxFlushIds,
        " (each is a postqueue -i of its own): flush all, or a site"));
  }
  return absl::OkStatus();
}

absl::Status CheckActRequest(const v1::ActRequest& request) {
  switch (request.action()) {
    case v1::ACTION_DELETE:
    case v1::ACTION_HOLD:
    case v1::ACTION_RELEASE:
    case v1::ACTION_REQUEUE:
    case v1::ACTION_EXPIRE:
    case v1::ACTION_RESPOOL:
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown action ", static_cast<int>(request.action()),
          ": expected delete, hold, release, requeue, expire or respool"));
  }
  const v1::Selector& sel = request.selector();
  if (sel.queue_ids_size() > static_cast<int>(kMaxActIds)) {
    return absl::InvalidArgumentError(absl::StrCat(
        sel.queue_ids_size(), " queue ids in one request; the limit is ", kMaxActIds));
  }
  if (sel.queue_ids_size() > 0) {
    // With ids, a filter may only say which queues to look in.
    v1::Filter queues_only;
    queues_only.mutable_queues()->CopyFrom(sel.filter().queues());
    if (!google::protobuf::util::MessageDifferencer::Equals(queues_only, sel.filter())) {
      return absl::InvalidArgumentError("give queue ids or a filter, not both");
    }
    std::vector<QueueKind> id_queues;
    for (int q : sel.filter().queues()) {
      auto kind = KindFromProto(q);
      if (!kind.ok()) return kind.status();
      id_queues.push_back(*kind);
    }
    return CheckIds(request, id_queues);
  }
  if (!sel.has_filter()) {
    if (sel.all()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        "nothing selected: give queue ids, a filter, or all");
  }
  auto filter = CompileFilter(sel.filter());
  if (!filter.ok()) return filter.status();
  if (filter->SelectsEverything() && !sel.all()) {
    return absl::InvalidArgumentError(
        "the filter selects every message: set all to act on the whole queue");
  }
  return absl::OkStatus();
}

namespace {

// Ids named in one audit line; past this they are counted, so that a line
// stays readable (the agent's line lists those acted on separately).
constexpr int kIdsInText = 20;

std::string IdsText(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  std::string text = absl::StrCat("ids (", ids.size(), "): ");
  const int shown = std::min(ids.size(), kIdsInText);
  absl::StrAppend(&text, absl::StrJoin(ids.begin(), ids.begin() + shown, ","));
  if (ids.size() > shown) absl::StrAppend(&text, ",... ", ids.size() - shown, " more");
  return text;
}

}  // namespace

std::string ActionVerb(v1::Action action) {
  // ACTION_HOLD -> hold
  std::string name = v1::Action_Name(action);
  constexpr absl::string_view kPrefix = "ACTION_";
  if (absl::StartsWith(name, kPrefix)) name.erase(0, kPrefix.size());
  return name.empty() ? "unknown" : absl::AsciiStrToLower(name);
}

std::string SelectorText(const v1::Selector& selector) {
  std::vector<std::string> parts;
  if (selector.all()) parts.push_back("all");
  if (!selector.queue_ids().empty()) parts.push_back(IdsText(selector.queue_ids()));
  if (selector.has_filter()) {
    parts.push_back(absl::StrCat("filter {", selector.filter().ShortDebugString(), "}"));
  }
  return parts.empty() ? "nothing" : absl::StrJoin(parts, "; ");
}

std::string FlushTargetsText(const v1::FlushRequest& request) {
  if (request.all()) return "all";
  if (!request.site().empty()) return absl::StrCat("site ", request.site());
  return IdsText(request.queue_ids());
}

}  // namespace mailfleet
