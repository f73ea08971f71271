#include "controller/service/summary_total.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace mailfleet::controller {
namespace {

bool Earlier(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return std::make_tuple(a.seconds(), a.nanos()) < std::make_tuple(b.seconds(), b.nanos());
}

void AddStats(const v1::QueueStats& from, v1::QueueStats* to) {
  to->set_queue(from.queue());
  to->set_messages(to->messages() + from.messages());
  to->set_bytes(to->bytes() + from.bytes());
  to->set_recipients(to->recipients() + from.recipients());
  if (from.has_oldest_arrival() &&
      (!to->has_oldest_arrival() || Earlier(from.oldest_arrival(), to->oldest_arrival()))) {
    *to->mutable_oldest_arrival() = from.oldest_arrival();
  }
  while (to->age_buckets_size() < from.age_buckets_size()) to->add_age_buckets(0);
  for (int i = 0; i < from.age_buckets_size(); ++i) {
    to->set_age_buckets(i, to->age_buckets(i) + from.age_buckets(i));
  }
}

// Throttle states ordered by how bad they are: their enum values.
v1::MpaThrottle::State Worse(v1::MpaThrottle::State a, v1::MpaThrottle::State b) {
  return a > b ? a : b;
}

}  // namespace

void SummaryTotal::Add(const std::string& gateway, const v1::QueueSummary& s) {
  for (const v1::QueueStats& q : s.queues()) AddStats(q, &queues_[q.queue()]);
  total_.set_total_messages(total_.total_messages() + s.total_messages());
  total_.set_total_bytes(total_.total_bytes() + s.total_bytes());
  if (total_.age_bucket_bounds_size() == 0) {
    // Every agent uses qshape's buckets; the first to say so speaks for all.
    *total_.mutable_age_bucket_bounds() = s.age_bucket_bounds();
  }
  if (s.has_oldest_arrival() && !s.oldest_queue_id().empty() &&
      (oldest_gateway_.empty() || Earlier(s.oldest_arrival(), total_.oldest_arrival()))) {
    *total_.mutable_oldest_arrival() = s.oldest_arrival();
    total_.set_oldest_queue_id(s.oldest_queue_id());
    total_.set_oldest_queue(s.oldest_queue());
    oldest_gateway_ = gateway;
  }
  for (const v1::DomainCount& d : s.top_domains()) {
    auto& [recipients, messages] = domains_[d.domain()];
    recipients += d.recipients();
    messages += d.messages();
  }
  for (const v1::ReasonCount& r : s.top_delay_reasons()) {
    reasons_[r.reason()] += r.recipients();
  }
  total_.set_scan_problem_count(total_.scan_problem_count() + s.scan_problem_count());
  if (s.has_mpa_throttle()) {
    v1::MpaThrottle* t = total_.mutable_mpa_throttle();
    t->set_state(Worse(t->state(), s.mpa_throttle().state()));
    t->set_spool_items(t->spool_items() + s.mpa_throttle().spool_items());
    t->set_error_items(t->error_items() + s.mpa_throttle().error_items());
  }
}

v1::QueueSummary SummaryTotal::Total(size_t top_n) const {
  v1::QueueSummary out = total_;
  for (const auto& [kind, stats] : queues_) *out.add_queues() = stats;
  for (const auto& [domain, counts] : domains_) {
    v1::DomainCount* d = out.add_top_domains();
    d->set_domain(domain);
    d->set_recipients(counts.first);
    d->set_messages(counts.second);
  }
  for (const auto& [reason, recipients] : reasons_) {
    v1::ReasonCount* r = out.add_top_delay_reasons();
    r->set_reason(reason);
    r->set_recipients(recipients);
  }
  CutTopLists(top_n, &out);
  return out;
}

void CutTopLists(size_t top_n, v1::QueueSummary* summary) {
  // Most recipients first; ties by name, so that the cut is the same on
  // every call.
  auto* domains = summary->mutable_top_domains();
  std::stable_sort(domains->begin(), domains->end(),
                   [](const v1::DomainCount& a, const v1::DomainCount& b) {
                     return std::make_tuple(-a.recipients(), a.domain()) <
                            std::make_tuple(-b.recipients(), b.domain());
                   });
  auto* reasons = summary->mutable_top_delay_reasons();
  std::stable_sort(reasons->begin(), reasons->end(),
                   [](const v1::ReasonCount& a, const v1::ReasonCount& b) {
                     return std::make_tuple(-a.recipients(), a.reason()) <
                            std::make_tuple(-b.recipients(), b.reason());
                   });
  const int n = static_cast<int>(top_n);
  if (domains->size() > n) domains->DeleteSubrange(n, domains->size() - n);
  if (reasons->size() > n) reasons->DeleteSubrange(n, reasons->size() - n);
}

}  // namespace mailfleet::controller
