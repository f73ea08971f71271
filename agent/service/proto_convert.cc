#include "agent/service/proto_convert.h"

#include "google/protobuf/util/message_differencer.h"

#include "absl/strings/str_cat.h"
#include "proto/queue_kind_proto.h"
#include "proto/time_proto.h"

namespace mailfleet {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `s`, 0 if none
// (RFC 3629: no overlongs, surrogates or code points past U+10FFFF).
size_t Utf8SequenceLength(absl::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;
    if (c == 0xED && b(1) > 0x9F) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;
    if (c == 0xF4 && b(1) > 0x8F) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

// Protobuf strings must be UTF-8, and Postfix's text need not be (it keeps
// whatever a remote server said, made "printable" by its own looser rule):
// bytes that do not form UTF-8 become '?', as Postfix would show them.
void SetText(absl::string_view text, std::string* out) {
  size_t i = 0;
  while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x80) ++i;
  if (i == text.size()) {
    out->assign(text.data(), text.size());
    return;
  }
  out->assign(text.data(), i);
  while (i < text.size()) {
    size_t n = Utf8SequenceLength(text.substr(i));
    if (n == 0) {
      out->push_back('?');
      ++i;
    } else {
      out->append(text.data() + i, n);
      i += n;
    }
  }
}

v1::QueueKind ToProto(QueueKind kind) { return QueueKindToProto(kind); }

absl::StatusOr<QueueKind> FromProto(v1::QueueKind kind) {
  QueueKind core = QueueKindFromProto(kind);
  if (core == QueueKind::kUnknown) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown queue kind ", static_cast<int>(kind)));
  }
  return core;
}

void ToProto(const QueueSnapshot::View& v, v1::Message* out) {
  out->set_queue_id(v.id().data(), v.id().size());
  out->set_queue(ToProto(v.queue_kind()));
  // Whole microseconds: no need for the absl::Time round trip.
  int64_t us = v.arrival_us();
  int64_t sec = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  SetTimestampSeconds(sec, static_cast<int32_t>((us - sec * 1000000) * 1000),
             out->mutable_arrival_time());
  out->set_size(v.size_bytes());
  SetText(v.sender_address(), out->mutable_sender());
  for (size_t i = 0; i < v.recipient_count(); ++i) {
    v1::Recipient* r = out->add_recipients();
    absl::string_view o = v.recipient_orig_address(i);
    absl::string_view d = v.recipient_delay_reason(i);
    SetText(v.recipient_address(i), r->mutable_address());
    if (!o.empty()) SetText(o, r->mutable_orig_address());
    if (!d.empty()) SetText(d, r->mutable_delay_reason());
  }
  if (!v.client().empty()) SetText(v.client(), out->mutable_client_address());
  out->set_forced_expire(v.forced_expire());
  if (auto t = v.next_attempt()) SetTimestamp(*t, out->mutable_next_attempt_time());
  if (!v.parse_error().empty()) SetText(v.parse_error(), out->mutable_parse_error());
  if (!v.mpa_error().empty()) SetText(v.mpa_error(), out->mutable_mpa_error());
  out->set_mpa_attempts(v.mpa_attempts());
}

void ToProto(const Message& m, v1::Message* out) {
  out->set_queue_id(m.queue_id);
  out->set_queue(ToProto(m.queue));
  SetTimestamp(m.arrival_time, out->mutable_arrival_time());
  out->set_size(m.size);
  SetText(m.sender, out->mutable_sender());
  for (const Recipient& r : m.recipients) {
    v1::Recipient* pr = out->add_recipients();
    SetText(r.address, pr->mutable_address());
    SetText(r.orig_address, pr->mutable_orig_address());
    SetText(r.delay_reason, pr->mutable_delay_reason());
  }
  SetText(m.client_address, out->mutable_client_address());
  out->set_forced_expire(m.forced_expire);
  if (m.next_attempt_time != absl::InfinitePast()) {
    SetTimestamp(m.next_attempt_time, out->mutable_next_attempt_time());
  }
  SetText(m.parse_error, out->mutable_parse_error());
  SetText(m.mpa_error, out->mutable_mpa_error());
  out->set_mpa_attempts(m.mpa_attempts);
}

absl::StatusOr<ActionRequest> ActionRequestFromProto(const v1::ActRequest& request) {
  ActionRequest r;
  switch (request.action()) {
    case v1::ACTION_DELETE: r.action = Action::kDelete; break;
    case v1::ACTION_HOLD: r.action = Action::kHold; break;
    case v1::ACTION_RELEASE: r.action = Action::kRelease; break;
    case v1::ACTION_REQUEUE: r.action = Action::kRequeue; break;
    case v1::ACTION_EXPIRE: r.action = Action::kExpire; break;
    case v1::ACTION_RESPOOL: r.action = Action::kRespool; break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown action ", static_cast<int>(request.action()),
          ": expected delete, hold, release, requeue, expire or respool"));
  }
  const v1::Selector& sel = request.selector();
  if (sel.queue_ids_size() > static_cast<int>(kMaxIdsPerAction)) {
    return absl::InvalidArgumentError(absl::StrCat(
        sel.queue_ids_size(), " queue ids in one request; the limit is ",
        kMaxIdsPerAction));
  }
  r.queue_ids.assign(sel.queue_ids().begin(), sel.queue_ids().end());
  if (!r.queue_ids.empty() && sel.has_filter()) {
    // Ids with queues: where to look for them. Anything more is a filter,
    // and ids and a filter together are refused below.
    v1::Filter queues_only;
    queues_only.mutable_queues()->CopyFrom(sel.filter().queues());
    if (google::protobuf::util::MessageDifferencer::Equals(queues_only, sel.filter())) {
      for (int q : sel.filter().queues()) {
        auto kind = FromProto(static_cast<v1::QueueKind>(q));
        if (!kind.ok()) return kind.status();
        r.id_queues.push_back(*kind);
      }
      r.all = sel.all();
      r.dry_run = request.dry_run();
      return r;
    }
  }
  if (sel.has_filter()) {
    auto filter = CompileFilter(sel.filter());
    if (!filter.ok()) return filter.status();
    r.filter = *std::move(filter);
  }
  r.all = sel.all();
  r.dry_run = request.dry_run();
  return r;
}

void ToProto(const ActionResult& result, const v1::ActRequest& request,
             v1::ActResponse* out) {
  out->set_action(request.action());
  out->set_dry_run(request.dry_run());
  out->set_matched(static_cast<int64_t>(result.matched));
  out->set_failed(static_cast<int64_t>(result.failures.size()));
  out->set_succeeded(request.dry_run() ? 0 : static_cast<int64_t>(result.queue_ids.size()));
  for (const std::string& id : result.queue_ids) out->add_queue_ids(id);
  for (QueueKind q : result.queues) out->add_queues(ToProto(q));
  for (const auto& f : result.failures) {
    v1::ActFailure* p = out->add_failures();
    SetText(f.queue_id, p->mutable_queue_id());
    SetText(f.reason, p->mutable_reason());
  }
}

namespace {

void ToProto(QueueKind queue, const QueueStats& qs, v1::QueueStats* p) {
  p->set_queue(ToProto(queue));
  p->set_messages(qs.messages);
  p->set_bytes(qs.bytes);
  p->set_recipients(qs.recipients);
  if (qs.messages > 0) SetTimestamp(qs.oldest_arrival, p->mutable_oldest_arrival());
  for (int64_t n : qs.age_buckets) p->add_age_buckets(n);
}

void AddDomains(const std::vector<QueueSummary::DomainCount>& domains,
                google::protobuf::RepeatedPtrField<v1::DomainCount>* out) {
  for (const auto& d : domains) {
    v1::DomainCount* p = out->Add();
    SetText(d.domain, p->mutable_domain());
    p->set_recipients(d.recipients);
    p->set_messages(d.messages);
  }
}

void AddReasons(const std::vector<std::pair<std::string, int64_t>>& reasons,
                google::protobuf::RepeatedPtrField<v1::ReasonCount>* out) {
  for (const auto& [reason, n] : reasons) {
    v1::ReasonCount* p = out->Add();
    SetText(reason, p->mutable_reason());
    p->set_recipients(n);
  }
}

}  // namespace

void ToProto(const mpa::Throttle& t, v1::MpaThrottle* out) {
  switch (t.state) {
    case mpa::ThrottleState::kNormal: out->set_state(v1::MpaThrottle::NORMAL); break;
    case mpa::ThrottleState::kThrottling:
      out->set_state(v1::MpaThrottle::THROTTLING);
      break;
    case mpa::ThrottleState::kRefusing: out->set_state(v1::MpaThrottle::REFUSING); break;
  }
  out->set_spool_items(t.spool_items);
  out->set_error_items(t.error_items);
  v1::MpaLimits* limits = out->mutable_limits();
  limits->set_throttle_spool(t.limits.throttle_spool);
  limits->set_throttle_error(t.limits.throttle_error);
  limits->set_refuse_spool(t.limits.refuse_spool);
}

bool ToProtoUpdate(const QueueSummary& was, const QueueSummary& is,
                   v1::SummaryUpdate* out) {
  bool changed = false;
  for (int i = 1; i < kQueueKindCount; ++i) {
    if (was.queues[i] == is.queues[i]) continue;
    changed = true;
    ToProto(static_cast<QueueKind>(i), is.queues[i], out->add_queues());
  }
  if (was.top_domains != is.top_domains) {
    changed = true;
    AddDomains(is.top_domains, out->mutable_top_domains()->mutable_domains());
  }
  if (was.top_delay_reasons != is.top_delay_reasons) {
    changed = true;
    AddReasons(is.top_delay_reasons,
               out->mutable_top_delay_reasons()->mutable_reasons());
  }
  if (is.mpa_throttle && was.mpa_throttle != is.mpa_throttle) {
    changed = true;
    ToProto(*is.mpa_throttle, out->mutable_mpa_throttle());
  }
  changed = changed || was.total_messages != is.total_messages ||
            was.total_bytes != is.total_bytes ||
            was.oldest_queue_id != is.oldest_queue_id ||
            was.oldest_queue != is.oldest_queue ||
            was.problem_count != is.problem_count;
  if (!changed) return false;
  out->set_total_messages(is.total_messages);
  out->set_total_bytes(is.total_bytes);
  if (is.total_messages > 0) {
    SetTimestamp(is.oldest_arrival, out->mutable_oldest_arrival());
    SetText(is.oldest_queue_id, out->mutable_oldest_queue_id());
    out->set_oldest_queue(ToProto(is.oldest_queue));
  }
  out->set_scan_problem_count(is.problem_count);
  return true;
}

void ToProto(const QueueSummary& s, absl::Time now, v1::QueueSummary* out) {
  for (int i = 1; i < kQueueKindCount; ++i) {
    const QueueStats& qs = s.queues[i];
    if (qs.messages == 0) continue;
    ToProto(static_cast<QueueKind>(i), qs, out->add_queues());
  }
  out->set_total_messages(s.total_messages);
  out->set_total_bytes(s.total_bytes);
  if (s.total_messages > 0) {
    SetTimestamp(s.oldest_arrival, out->mutable_oldest_arrival());
    SetText(s.oldest_queue_id, out->mutable_oldest_queue_id());
    out->set_oldest_queue(ToProto(s.oldest_queue));
  }
  for (int minutes : kAgeBucketMinutes) {
    SetDuration(absl::Minutes(minutes), out->add_age_bucket_bounds());
  }
  AddDomains(s.top_domains, out->mutable_top_domains());
  AddReasons(s.top_delay_reasons, out->mutable_top_delay_reasons());
  out->set_scan_problem_count(s.problem_count);
  if (s.mpa_throttle) ToProto(*s.mpa_throttle, out->mutable_mpa_throttle());
  for (const auto& problem : s.problems) {
    v1::ScanProblem* p = out->add_scan_problems();
    p->set_queue(ToProto(problem.queue));
    SetText(problem.queue_id, p->mutable_queue_id());
    SetText(problem.reason, p->mutable_reason());
  }
}

}  // namespace mailfleet
