#include "agent/index/queue_snapshot.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <thread>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/queue_id.h"

namespace mailfleet {
namespace {

constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();
constexpr size_t kSummaryProblems = 20;
constexpr uint64_t kMaxArenaBytes = UINT32_MAX;

int64_t ToMicros(absl::Time t) {
  return t == absl::InfinitePast() ? kNoTime : absl::ToUnixMicros(t);
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

// One scanning thread's share of a snapshot under construction.
class QueueSnapshot::Builder::Part : public postfix::ScanSink {
 public:
  void OnMessage(const Message& m) override {
    Entry e;
    e.arrival_us = ToMicros(m.arrival_time);
    e.next_attempt_us = ToMicros(m.next_attempt_time);
    e.size = m.size;
    e.id = Append(m.queue_id);
    e.sender = Intern(m.sender);
    e.client = Intern(m.client_address);
    e.parse_error = Intern(m.parse_error);
    e.first_recipient = static_cast<uint32_t>(recipients.size());
    e.recipient_count = static_cast<uint32_t>(m.recipients.size());
    e.queue = m.queue;
    e.forced_expire = m.forced_expire;
    for (const Recipient& r : m.recipients) {
      recipients.push_back({InternAddress(r.address), Intern(r.orig_address),
                            Intern(r.delay_reason)});
    }
    entries.push_back(e);
  }
  void OnProblem(postfix::ScanProblem p) override {
    problems.push_back(std::move(p));
  }

  std::string arena;
  bool overflow = false;
  std::vector<StrRef> strings = {StrRef{}};  // StrId 0: the empty string
  std::vector<StrId> domain_of = {0};         // parallel to strings
  std::vector<Entry> entries;
  std::vector<RecipientEntry> recipients;
  std::vector<postfix::ScanProblem> problems;

 private:
  // The set of interned strings holds ids only and looks strings up in the
  // arena: no copy of any key, and the arena may move as it grows.
  struct IdHash {
    using is_transparent = void;
    const Part* part;
    size_t operator()(absl::string_view s) const {
      return absl::Hash<absl::string_view>()(s);
    }
    size_t operator()(StrId id) const { return (*this)(part->View(id)); }
  };
  struct IdEq {
    using is_transparent = void;
    const Part* part;
    bool operator()(StrId a, StrId b) const { return a == b; }
    bool operator()(StrId a, absl::string_view b) const { return part->View(a) == b; }
    bool operator()(absl::string_view a, StrId b) const { return a == part->View(b); }
  };

  absl::string_view View(StrId id) const {
    return absl::string_view(arena.data() + strings[id].offset, strings[id].length);
  }
  // Offsets are 32 bits to keep the index small; past 4 GiB of strings the
  // part stops storing and Finish refuses the snapshot.
  StrRef Append(absl::string_view s) {
    if (arena.size() + s.size() > kMaxArenaBytes) {
      overflow = true;
      return StrRef{};
    }
    StrRef r{static_cast<uint32_t>(arena.size()), static_cast<uint32_t>(s.size())};
    arena.append(s.data(), s.size());
    return r;
  }
  StrId Intern(absl::string_view s) {
    if (s.empty()) return 0;
    auto it = seen_.find(s);
    if (it != seen_.end()) return *it;
    StrId id = static_cast<StrId>(strings.size());
    strings.push_back(Append(s));
    domain_of.push_back(0);
    seen_.insert(id);
    return id;
  }
  // Also records the address's domain, once per distinct address, so that
  // summaries count domains without looking at strings.
  StrId InternAddress(absl::string_view address) {
    StrId id = Intern(address);
    if (id != 0 && domain_of[id] == 0) {
      size_t at = address.rfind('@');
      if (at != absl::string_view::npos && at + 1 < address.size()) {
        StrId domain = Intern(address.substr(at + 1));
        domain_of[id] = domain;
      }
    }
    return id;
  }

  absl::flat_hash_set<StrId, IdHash, IdEq> seen_{0, IdHash{this}, IdEq{this}};
};

QueueSnapshot::Builder::Builder(int parts) {
  for (int i = 0; i < std::max(1, parts); ++i) {
    parts_.push_back(std::make_unique<Part>());
  }
}

QueueSnapshot::Builder::~Builder() = default;

std::vector<postfix::ScanSink*> QueueSnapshot::Builder::sinks() {
  std::vector<postfix::ScanSink*> out;
  for (auto& p : parts_) out.push_back(p.get());
  return out;
}

absl::StatusOr<std::shared_ptr<const QueueSnapshot>> QueueSnapshot::Builder::Finish(
    int64_t generation, absl::Time scan_time, absl::Duration scan_duration) {
  std::shared_ptr<QueueSnapshot> s(new QueueSnapshot());
  s->generation_ = generation;
  s->scan_time_ = scan_time;
  s->scan_duration_ = scan_duration;

  // Join the parts: one arena, one recipient table, entries pointing into
  // them. A string both parts saw is stored twice, which is cheaper than
  // hashing everything again.
  size_t arena_size = 0, nstrings = 1, nrcpt = 0, nentries = 0;
  for (auto& p : parts_) {
    arena_size += p->arena.size();
    nstrings += p->strings.size() - 1;
    nrcpt += p->recipients.size();
    nentries += p->entries.size();
  }
  for (auto& p : parts_) {
    if (p->overflow || arena_size > kMaxArenaBytes || nstrings > UINT32_MAX ||
        nrcpt > UINT32_MAX || nentries > UINT32_MAX) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the queue holds more than the index can address (",
          arena_size >> 20, " MiB of strings, ", nrcpt, " recipients)"));
    }
  }
  s->tables_->arena.reserve(arena_size);
  s->tables_->strings.reserve(nstrings);
  s->tables_->strings.push_back(StrRef{});
  s->tables_->domain_of.reserve(nstrings);
  s->tables_->domain_of.push_back(0);
  s->tables_->recipients.reserve(nrcpt);
  std::vector<Entry> joined;
  joined.reserve(nentries);
  for (auto& p : parts_) {
    const uint32_t arena_base = static_cast<uint32_t>(s->tables_->arena.size());
    const StrId id_base = static_cast<StrId>(s->tables_->strings.size()) - 1;
    const uint32_t rcpt_base = static_cast<uint32_t>(s->tables_->recipients.size());
    auto shift = [id_base](StrId id) { return id == 0 ? 0 : id + id_base; };
    s->tables_->arena += p->arena;
    for (size_t i = 1; i < p->strings.size(); ++i) {
      s->tables_->strings.push_back(
          {p->strings[i].offset + arena_base, p->strings[i].length});
      s->tables_->domain_of.push_back(shift(p->domain_of[i]));
    }
    for (const RecipientEntry& r : p->recipients) {
      s->tables_->recipients.push_back(
          {shift(r.address), shift(r.orig_address), shift(r.delay_reason)});
    }
    for (Entry e : p->entries) {
      e.id.offset += arena_base;
      e.sender = shift(e.sender);
      e.client = shift(e.client);
      e.parse_error = shift(e.parse_error);
      e.first_recipient += rcpt_base;
      joined.push_back(e);
    }
    std::move(p->problems.begin(), p->problems.end(),
              std::back_inserter(s->problems_));
    p.reset();  // free each part as soon as it is copied
  }
  parts_.clear();

  // Two orders, sorted side by side on two cores: by id (for lookups, and
  // to find a message caught mid-move and listed from two queues) and by
  // (arrival, id) for listing.
  std::vector<uint32_t> by_id(joined.size());
  std::iota(by_id.begin(), by_id.end(), 0);
  std::vector<uint32_t> order = by_id;
  std::thread order_sorter([&] {
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      const Entry& ea = joined[a];
      const Entry& eb = joined[b];
      if (ea.arrival_us != eb.arrival_us) return ea.arrival_us < eb.arrival_us;
      return s->Str(ea.id) < s->Str(eb.id);
    });
  });
  std::sort(by_id.begin(), by_id.end(), [&](uint32_t a, uint32_t b) {
    return s->Str(joined[a].id) < s->Str(joined[b].id);
  });
  order_sorter.join();
  std::vector<bool> drop(joined.size(), false);
  for (size_t i = 1; i < by_id.size(); ++i) {
    if (s->Str(joined[by_id[i]].id) == s->Str(joined[by_id[i - 1]].id)) {
      drop[by_id[i]] = true;
    }
  }
  order.erase(std::remove_if(order.begin(), order.end(),
                             [&](uint32_t i) { return drop[i]; }),
              order.end());
  s->entries_.reserve(order.size());
  std::vector<uint32_t> position(joined.size());
  for (uint32_t i : order) {
    position[i] = static_cast<uint32_t>(s->entries_.size());
    s->entries_.push_back(joined[i]);
  }
  s->by_id_.reserve(order.size());
  for (uint32_t i : by_id) {
    if (!drop[i]) s->by_id_.push_back(position[i]);
  }
  return s;
}

std::shared_ptr<const QueueSnapshot> QueueSnapshot::Build(
    postfix::ScanResult scan, int64_t generation) {
  Builder builder(1);
  postfix::ScanSink* sink = builder.sinks()[0];
  for (const Message& m : scan.messages) sink->OnMessage(m);
  for (auto& p : scan.problems) sink->OnProblem(std::move(p));
  auto snapshot = builder.Finish(generation, scan.started, scan.duration);
  // Only a queue of gigabytes of distinct strings fails; tests never do.
  return snapshot.ok() ? *snapshot : nullptr;
}

std::shared_ptr<const QueueSnapshot> QueueSnapshot::WithUpdates(
    const std::vector<EntryUpdate>& updates, int64_t generation) const {
  std::shared_ptr<QueueSnapshot> s(new QueueSnapshot());
  s->tables_ = tables_;
  s->problems_ = problems_;
  s->generation_ = generation;
  s->scan_time_ = scan_time_;
  s->scan_duration_ = scan_duration_;
  constexpr uint32_t kRemoved = UINT32_MAX;
  std::vector<const EntryUpdate*> update_of(entries_.size(), nullptr);
  for (const EntryUpdate& u : updates) {
    auto it = std::lower_bound(
        by_id_.begin(), by_id_.end(), absl::string_view(u.queue_id),
        [&](uint32_t i, absl::string_view id) { return Str(entries_[i].id) < id; });
    if (it != by_id_.end() && Str(entries_[*it].id) == u.queue_id) {
      update_of[*it] = &u;
    }
  }
  std::vector<uint32_t> new_index(entries_.size(), kRemoved);
  s->entries_.reserve(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry e = entries_[i];
    if (const EntryUpdate* u = update_of[i]) {
      if (!u->queue) continue;
      e.queue = *u->queue;
      e.next_attempt_us = u->next_attempt ? ToMicros(*u->next_attempt) : kNoTime;
      e.forced_expire = u->forced_expire;
    }
    new_index[i] = static_cast<uint32_t>(s->entries_.size());
    s->entries_.push_back(e);
  }
  s->by_id_.reserve(s->entries_.size());
  for (uint32_t i : by_id_) {
    if (new_index[i] != kRemoved) s->by_id_.push_back(new_index[i]);
  }
  return s;
}

size_t QueueSnapshot::MemoryBytes() const {
  return sizeof(*this) + tables_->arena.capacity() +
         tables_->strings.capacity() * sizeof(StrRef) +
         tables_->domain_of.capacity() * sizeof(StrId) +
         entries_.capacity() * sizeof(Entry) +
         tables_->recipients.capacity() * sizeof(RecipientEntry) +
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
  if (limit == 0) return std::nullopt;
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
  // Counting goes by string id, not by string: a large queue's summary
  // hashes nothing per recipient.
  std::vector<std::pair<int64_t, int64_t>> domain_counts(tables_->strings.size());
  std::vector<int64_t> reason_counts(tables_->strings.size(), 0);
  std::vector<StrId> message_domains;
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
    for (uint32_t i = 0; i < e.recipient_count; ++i) {
      const RecipientEntry& r = tables_->recipients[e.first_recipient + i];
      if (r.delay_reason != 0) reason_counts[r.delay_reason]++;
      StrId d = tables_->domain_of[r.address];
      if (d == 0) continue;
      domain_counts[d].first++;
      if (std::find(message_domains.begin(), message_domains.end(), d) ==
          message_domains.end()) {
        message_domains.push_back(d);
        domain_counts[d].second++;
      }
    }
  }
  absl::flat_hash_map<absl::string_view, std::pair<int64_t, int64_t>> domains;
  absl::flat_hash_map<absl::string_view, int64_t> reasons;
  for (StrId id = 1; id < tables_->strings.size(); ++id) {
    // Each scanning thread stored its own copy of a string, so one text may
    // have several ids: add their counts up.
    if (domain_counts[id].first > 0) {
      auto& d = domains[Str(id)];
      d.first += domain_counts[id].first;
      d.second += domain_counts[id].second;
    }
    if (reason_counts[id] > 0) reasons[Str(id)] += reason_counts[id];
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
