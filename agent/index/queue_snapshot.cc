#include "agent/index/queue_snapshot.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/queue_id.h"

namespace mailfleet {
namespace {

constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();
constexpr size_t kSummaryProblems = 20;

// Interns strings into one arena while a snapshot is built. Keys point into
// the scan's messages, which outlive the builder.
class ArenaBuilder {
 public:
  explicit ArenaBuilder(std::string& arena) : arena_(arena) {}

  template <typename Ref>
  Ref Intern(absl::string_view s) {
    if (s.empty()) return Ref{};
    auto it = seen_.find(s);
    if (it != seen_.end()) return Ref{it->second.first, it->second.second};
    Ref r = Append<Ref>(s);
    seen_.emplace(s, std::make_pair(r.offset, r.length));
    return r;
  }

  template <typename Ref>
  Ref Append(absl::string_view s) {
    Ref r{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(s.size())};
    arena_.append(s.data(), s.size());
    return r;
  }

 private:
  std::string& arena_;
  absl::flat_hash_map<absl::string_view, std::pair<uint32_t, uint32_t>> seen_;
};

int64_t ToMicros(absl::Time t) {
  return t == absl::InfinitePast() ? kNoTime : absl::ToUnixMicros(t);
}

absl::string_view DomainOf(absl::string_view address) {
  size_t at = address.rfind('@');
  return at == absl::string_view::npos ? absl::string_view()
                                       : address.substr(at + 1);
}

}  // namespace

std::string EncodePageToken(const ListCursor& cursor) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(cursor.arrival_us, ":", cursor.queue_id));
}

absl::StatusOr<ListCursor> DecodePageToken(absl::string_view token) {
  std::string raw;
  auto bad = [] {
    return absl::InvalidArgumentError(
        "malformed page token: pass back next_page_token unchanged");
  };
  if (token.size() > 256 || !absl::WebSafeBase64Unescape(token, &raw)) return bad();
  size_t colon = raw.find(':');
  if (colon == std::string::npos) return bad();
  ListCursor c;
  if (!absl::SimpleAtoi(absl::string_view(raw).substr(0, colon), &c.arrival_us)) {
    return bad();
  }
  c.queue_id = raw.substr(colon + 1);
  if (!IsPostfixQueueFileName(c.queue_id)) return bad();
  return c;
}

std::optional<absl::Time> QueueSnapshot::View::next_attempt() const {
  if (e_->next_attempt_us == kNoTime) return std::nullopt;
  return absl::FromUnixMicros(e_->next_attempt_us);
}

Message QueueSnapshot::View::ToMessage() const {
  Message m;
  m.queue_id = std::string(id());
  m.queue = queue_kind();
  m.arrival_time = arrival();
  if (auto t = next_attempt()) m.next_attempt_time = *t;
  m.size = size_bytes();
  m.sender = std::string(sender_address());
  m.client_address = std::string(client());
  m.forced_expire = forced_expire();
  m.parse_error = std::string(parse_error());
  for (size_t i = 0; i < recipient_count(); ++i) {
    m.recipients.push_back({std::string(recipient_address(i)),
                            std::string(recipient_orig_address(i)),
                            std::string(recipient_delay_reason(i))});
  }
  return m;
}

std::shared_ptr<const QueueSnapshot> QueueSnapshot::Build(
    postfix::ScanResult scan, int64_t generation) {
  std::shared_ptr<QueueSnapshot> s(new QueueSnapshot());
  s->generation_ = generation;
  s->scan_time_ = scan.started;
  s->scan_duration_ = scan.duration;
  s->problems_ = std::move(scan.problems);
  std::vector<Message>& msgs = scan.messages;

  // A message caught mid-move can be listed from two queues; keep one.
  std::vector<uint32_t> order(msgs.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return msgs[a].queue_id < msgs[b].queue_id;
  });
  order.erase(std::unique(order.begin(), order.end(),
                          [&](uint32_t a, uint32_t b) {
                            return msgs[a].queue_id == msgs[b].queue_id;
                          }),
              order.end());
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    int64_t ta = ToMicros(msgs[a].arrival_time);
    int64_t tb = ToMicros(msgs[b].arrival_time);
    return std::tie(ta, msgs[a].queue_id) < std::tie(tb, msgs[b].queue_id);
  });

  size_t rcpts = 0;
  for (uint32_t i : order) rcpts += msgs[i].recipients.size();
  s->entries_.reserve(order.size());
  s->recipients_.reserve(rcpts);
  ArenaBuilder arena(s->arena_);
  for (uint32_t i : order) {
    const Message& m = msgs[i];
    Entry e;
    e.arrival_us = ToMicros(m.arrival_time);
    e.next_attempt_us = ToMicros(m.next_attempt_time);
    e.size = m.size;
    e.id = arena.Append<StrRef>(m.queue_id);
    e.sender = arena.Intern<StrRef>(m.sender);
    e.client = arena.Intern<StrRef>(m.client_address);
    e.parse_error = arena.Intern<StrRef>(m.parse_error);
    e.first_recipient = static_cast<uint32_t>(s->recipients_.size());
    e.recipient_count = static_cast<uint32_t>(m.recipients.size());
    e.queue = m.queue;
    e.forced_expire = m.forced_expire;
    for (const Recipient& r : m.recipients) {
      s->recipients_.push_back({arena.Intern<StrRef>(r.address),
                                arena.Intern<StrRef>(r.orig_address),
                                arena.Intern<StrRef>(r.delay_reason)});
    }
    s->entries_.push_back(e);
  }
  s->arena_.shrink_to_fit();
  s->by_id_.resize(s->entries_.size());
  std::iota(s->by_id_.begin(), s->by_id_.end(), 0);
  std::sort(s->by_id_.begin(), s->by_id_.end(), [&](uint32_t a, uint32_t b) {
    return s->Str(s->entries_[a].id) < s->Str(s->entries_[b].id);
  });
  return s;
}

size_t QueueSnapshot::MemoryBytes() const {
  return sizeof(*this) + arena_.capacity() +
         entries_.capacity() * sizeof(Entry) +
         recipients_.capacity() * sizeof(RecipientEntry) +
         by_id_.capacity() * sizeof(uint32_t);
}

std::optional<QueueSnapshot::View> QueueSnapshot::Find(
    absl::string_view queue_id) const {
  auto it = std::lower_bound(
      by_id_.begin(), by_id_.end(), queue_id,
      [&](uint32_t i, absl::string_view id) { return Str(entries_[i].id) < id; });
  if (it == by_id_.end() || Str(entries_[*it].id) != queue_id) return std::nullopt;
  return View(this, &entries_[*it]);
}

std::optional<ListCursor> QueueSnapshot::List(
    const Filter& filter, absl::Time now, const ListCursor* after,
    size_t limit, const std::function<void(const View&)>& visit) const {
  auto it = entries_.begin();
  if (after != nullptr) {
    it = std::upper_bound(entries_.begin(), entries_.end(), *after,
                          [&](const ListCursor& c, const Entry& e) {
                            return std::tie(c.arrival_us, c.queue_id) <
                                   std::make_tuple(e.arrival_us, Str(e.id));
                          });
  }
  size_t visited = 0;
  const Entry* last = nullptr;
  for (; it != entries_.end(); ++it) {
    View v(this, &*it);
    if (!filter.Matches(v, now)) continue;
    if (visited == limit) {
      // Another match exists: the caller gets a cursor, never an empty
      // last page.
      return ListCursor{last->arrival_us, std::string(Str(last->id))};
    }
    visit(v);
    last = &*it;
    ++visited;
  }
  return std::nullopt;
}

QueueSummary QueueSnapshot::Summarize(const Filter& filter, absl::Time now,
                                      size_t top_n) const {
  QueueSummary sum;
  absl::flat_hash_map<absl::string_view, std::pair<int64_t, int64_t>> domains;
  absl::flat_hash_map<absl::string_view, int64_t> reasons;
  std::vector<absl::string_view> message_domains;
  for (const Entry& e : entries_) {
    View v(this, &e);
    if (!filter.Matches(v, now)) continue;
    QueueStats& qs = sum.queues[static_cast<int>(e.queue)];
    qs.messages++;
    qs.bytes += e.size;
    qs.recipients += e.recipient_count;
    absl::Time arrival = v.arrival();
    qs.oldest_arrival = std::min(qs.oldest_arrival, arrival);
    int64_t age_min = absl::ToInt64Minutes(now - arrival);
    int bucket = 0;
    while (bucket < static_cast<int>(kAgeBucketMinutes.size()) &&
           age_min > kAgeBucketMinutes[bucket]) {
      ++bucket;
    }
    qs.age_buckets[bucket]++;
    sum.total_messages++;
    sum.total_bytes += e.size;
    if (arrival < sum.oldest_arrival) {
      sum.oldest_arrival = arrival;
      sum.oldest_queue_id = std::string(v.id());
    }
    message_domains.clear();
    for (size_t i = 0; i < e.recipient_count; ++i) {
      absl::string_view reason = v.recipient_delay_reason(i);
      if (!reason.empty()) reasons[reason]++;
      absl::string_view domain = DomainOf(v.recipient_address(i));
      if (domain.empty()) continue;
      auto& d = domains[domain];
      d.first++;
      if (std::find(message_domains.begin(), message_domains.end(), domain) ==
          message_domains.end()) {
        message_domains.push_back(domain);
        d.second++;
      }
    }
  }
  // Domains differ in case only by accident; count them as one.
  absl::flat_hash_map<std::string, QueueSummary::DomainCount> folded;
  for (const auto& [domain, counts] : domains) {
    std::string key = absl::AsciiStrToLower(domain);
    auto& d = folded[key];
    d.domain = key;
    d.recipients += counts.first;
    d.messages += counts.second;
  }
  for (auto& [key, d] : folded) sum.top_domains.push_back(std::move(d));
  auto by_recipients = [](const QueueSummary::DomainCount& a,
                          const QueueSummary::DomainCount& b) {
    return std::tie(b.recipients, a.domain) < std::tie(a.recipients, b.domain);
  };
  size_t nd = std::min(top_n, sum.top_domains.size());
  std::partial_sort(sum.top_domains.begin(), sum.top_domains.begin() + nd,
                    sum.top_domains.end(), by_recipients);
  sum.top_domains.resize(nd);

  for (const auto& [reason, n] : reasons) {
    sum.top_delay_reasons.emplace_back(std::string(reason), n);
  }
  auto by_count = [](const std::pair<std::string, int64_t>& a,
                     const std::pair<std::string, int64_t>& b) {
    return std::tie(b.second, a.first) < std::tie(a.second, b.first);
  };
  size_t nr = std::min(top_n, sum.top_delay_reasons.size());
  std::partial_sort(sum.top_delay_reasons.begin(),
                    sum.top_delay_reasons.begin() + nr,
                    sum.top_delay_reasons.end(), by_count);
  sum.top_delay_reasons.resize(nr);

  sum.problem_count = static_cast<int64_t>(problems_.size());
  sum.problems.assign(
      problems_.begin(),
      problems_.begin() + std::min(problems_.size(), kSummaryProblems));
  return sum;
}

}  // namespace mailfleet
