#include "agent/service/proto_convert.h"

#include "absl/strings/str_cat.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet {
namespace {

absl::StatusOr<absl::Duration> FromProto(const google::protobuf::Duration& d,
                                         absl::string_view what) {
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() >= 1000000000) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a non-negative duration"));
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace

v1::QueueKind ToProto(QueueKind kind) { return QueueKindToProto(kind); }

absl::StatusOr<QueueKind> FromProto(v1::QueueKind kind) {
  QueueKind core = QueueKindFromProto(kind);
  if (core == QueueKind::kUnknown) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown queue kind ", static_cast<int>(kind)));
  }
  return core;
}

absl::StatusOr<FilterSpec> FilterSpecFromProto(const v1::Filter& filter) {
  FilterSpec spec;
  for (int q : filter.queues()) {
    auto kind = FromProto(static_cast<v1::QueueKind>(q));
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

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  timespec ts = absl::ToTimespec(t);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  timespec ts = absl::ToTimespec(d);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

void ToProto(const QueueSnapshot::View& v, v1::Message* out) {
  out->set_queue_id(v.id().data(), v.id().size());
  out->set_queue(ToProto(v.queue_kind()));
  // Whole microseconds: no need for the absl::Time round trip.
  int64_t us = v.arrival_us();
  int64_t sec = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
  out->mutable_arrival_time()->set_seconds(sec);
  out->mutable_arrival_time()->set_nanos(static_cast<int32_t>((us - sec * 1000000) * 1000));
  out->set_size(v.size_bytes());
  out->set_sender(v.sender_address().data(), v.sender_address().size());
  for (size_t i = 0; i < v.recipient_count(); ++i) {
    v1::Recipient* r = out->add_recipients();
    absl::string_view a = v.recipient_address(i);
    absl::string_view o = v.recipient_orig_address(i);
    absl::string_view d = v.recipient_delay_reason(i);
    r->set_address(a.data(), a.size());
    if (!o.empty()) r->set_orig_address(o.data(), o.size());
    if (!d.empty()) r->set_delay_reason(d.data(), d.size());
  }
  if (!v.client().empty()) out->set_client_address(v.client().data(), v.client().size());
  out->set_forced_expire(v.forced_expire());
  if (auto t = v.next_attempt()) SetTimestamp(*t, out->mutable_next_attempt_time());
  if (!v.parse_error().empty()) {
    out->set_parse_error(v.parse_error().data(), v.parse_error().size());
  }
}

void ToProto(const Message& m, v1::Message* out) {
  out->set_queue_id(m.queue_id);
  out->set_queue(ToProto(m.queue));
  SetTimestamp(m.arrival_time, out->mutable_arrival_time());
  out->set_size(m.size);
  out->set_sender(m.sender);
  for (const Recipient& r : m.recipients) {
    v1::Recipient* pr = out->add_recipients();
    pr->set_address(r.address);
    pr->set_orig_address(r.orig_address);
    pr->set_delay_reason(r.delay_reason);
  }
  out->set_client_address(m.client_address);
  out->set_forced_expire(m.forced_expire);
  if (m.next_attempt_time != absl::InfinitePast()) {
    SetTimestamp(m.next_attempt_time, out->mutable_next_attempt_time());
  }
  out->set_parse_error(m.parse_error);
}

void ToProto(const QueueSummary& s, absl::Time now, v1::QueueSummary* out) {
  for (int i = 1; i < kQueueKindCount; ++i) {
    const QueueStats& qs = s.queues[i];
    if (qs.messages == 0) continue;
    v1::QueueStats* p = out->add_queues();
    p->set_queue(ToProto(static_cast<QueueKind>(i)));
    p->set_messages(qs.messages);
    p->set_bytes(qs.bytes);
    p->set_recipients(qs.recipients);
    SetTimestamp(qs.oldest_arrival, p->mutable_oldest_arrival());
    for (int64_t n : qs.age_buckets) p->add_age_buckets(n);
  }
  out->set_total_messages(s.total_messages);
  out->set_total_bytes(s.total_bytes);
  if (s.total_messages > 0) {
    SetTimestamp(s.oldest_arrival, out->mutable_oldest_arrival());
    out->set_oldest_queue_id(s.oldest_queue_id);
  }
  for (int minutes : kAgeBucketMinutes) {
    SetDuration(absl::Minutes(minutes), out->add_age_bucket_bounds());
  }
  for (const auto& d : s.top_domains) {
    v1::DomainCount* p = out->add_top_domains();
    p->set_domain(d.domain);
    p->set_recipients(d.recipients);
    p->set_messages(d.messages);
  }
  for (const auto& [reason, n] : s.top_delay_reasons) {
    v1::ReasonCount* p = out->add_top_delay_reasons();
    p->set_reason(reason);
    p->set_recipients(n);
  }
  out->set_scan_problem_count(s.problem_count);
  for (const auto& problem : s.problems) {
    v1::ScanProblem* p = out->add_scan_problems();
    p->set_queue(ToProto(problem.queue));
    p->set_queue_id(problem.queue_id);
    p->set_reason(problem.reason);
  }
}

}  // namespace mailfleet
