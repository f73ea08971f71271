#include "agent/index/queue_snapshot.h"

#include <algorithm>
#include <cstring>
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
#include "absl/strings/str_split.h"
#include "agent/mpa/spool_item.h"
#include "common/queue_id.h"

namespace mailfleet {
namespace {

constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();
constexpr size_t kSummaryProblems = 20;
// The top bit of a StrRef's offset marks the extension's strings.
constexpr uint32_t kExtBit = 1u << 31;
constexpr uint64_t kMaxArenaBytes = kExtBit - 1;

int64_t ToMicros(absl::Time t) {
  return t == absl::InfinitePast() ? kNoTime : absl::ToUnixMicros(t);
}

// A vector that only grows and never moves what it holds: the writer
// appends while readers of older snapshots read the elements they know of.
// Segments are allocated as needed; the table of segments is allocated
// once, so that no reader ever sees it reallocated.
template <typename T>
class AppendOnlyVector {
 public:
  static constexpr size_t kSegmentBits = 14;
  static constexpr size_t kSegmentSize = size_t{1} << kSegmentBits;
  static constexpr size_t kMaxSegments = size_t{1} << 14;

  AppendOnlyVector() : segments_(new std::unique_ptr<T[]>[kMaxSegments]) {}

  size_t size() const { return size_; }
  bool full() const { return size_ == kSegmentSize * kMaxSegments; }
  const T& operator[](size_t i) const {
    return segments_[i >> kSegmentBits][i & (kSegmentSize - 1)];
  }
  // Callers check full() first.
  size_t push_back(const T& v) {
    size_t seg = size_ >> kSegmentBits;
    if (!segments_[seg]) segments_[seg].reset(new T[kSegmentSize]);
    segments_[seg][size_ & (kSegmentSize - 1)] = v;
    return size_++;
  }
  void set(size_t i, const T& v) {
    segments_[i >> kSegmentBits][i & (kSegmentSize - 1)] = v;
  }
  size_t bytes() const {
    return ((size_ + kSegmentSize - 1) / kSegmentSize) * kSegmentSize * sizeof(T);
  }

 private:
  std::unique_ptr<std::unique_ptr<T[]>[]> segments_;
  size_t size_ = 0;
};

}  // namespace

// Strings and recipients of messages that arrived (or changed) since the
// scan the snapshot family started from. Appended to by the index's writer
// only; read by every snapshot of the family.
class QueueSnapshot::Extension {
 public:
  static constexpr size_t kBlockBytes = 256 << 10;

  bool full() const {
    return strings_.full() || recipients.full() || strings_.size() >= kExtBit - 1;
  }
  absl::string_view String(size_t i) const { return strings_[i]; }
  StrId DomainOf(size_t i) const { return domain_of_[i]; }
  size_t string_count() const { return strings_.size(); }

  // Stores `s` as a new string (no de-duplication), returning its index.
  size_t Append(absl::string_view s) {
    size_t i = strings_.push_back(Store(s));
    domain_of_.push_back(0);
    return i;
  }
  // The index of `s` among the extension's strings, stored once.
  size_t Intern(absl::string_view s) {
    auto it = interned_.find(s);
    if (it != interned_.end()) return it->second;
    size_t i = Append(s);
    interned_.emplace(strings_[i], i);
    return i;
  }
  // Set before the snapshot that first holds string `i` is published.
  void SetDomain(size_t i, StrId domain) { domain_of_.set(i, domain); }

  size_t bytes() const {
    return stored_bytes_ + strings_.bytes() + domain_of_.bytes() +
           recipients.bytes() +
           interned_.capacity() * (sizeof(absl::string_view) + sizeof(size_t));
  }

  AppendOnlyVector<RecipientEntry> recipients;

 private:
  absl::string_view Store(absl::string_view s) {
    if (s.size() > kBlockBytes / 4) {
      blocks_.emplace_back(new char[s.size()]);
      memcpy(blocks_.back().get(), s.data(), s.size());
      stored_bytes_ += s.size();
      return absl::string_view(blocks_.back().get(), s.size());
    }
    if (block_used_ + s.size() > kBlockBytes || current_ == nullptr) {
      blocks_.emplace_back(new char[kBlockBytes]);
      current_ = blocks_.back().get();
      block_used_ = 0;
      stored_bytes_ += kBlockBytes;
    }
    char* at = current_ + block_used_;
    memcpy(at, s.data(), s.size());
    block_used_ += s.size();
    return absl::string_view(at, s.size());
  }

  std::vector<std::unique_ptr<char[]>> blocks_;  // never move once written
  char* current_ = nullptr;
  size_t block_used_ = 0;
  size_t stored_bytes_ = 0;
  AppendOnlyVector<absl::string_view> strings_;
  AppendOnlyVector<StrId> domain_of_;
  absl::flat_hash_map<absl::string_view, size_t> interned_;
};

namespace {

}  // namespace

absl::StatusOr<ListCursor> DecodePageToken(absl::string_view token) {
  std::string raw;
  auto bad = [] {
    return absl::InvalidArgumentError(
        "malformed page token: pass back next_page_token unchanged");
  };
  if (token.size() > 256 || !absl::WebSafeBase64Unescape(token, &raw)) return bad();
  std::vector<absl::string_view> parts = absl::StrSplit(raw, absl::MaxSplits(':', 2));
  ListCursor c;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &c.arrival_us)) return bad();
  c.queue_id = std::string(parts[2]);
  if (parts[1] == "p" && IsPostfixQueueFileName(c.queue_id)) return c;
  c.source = QueueSource::kMpa;
  if (parts[1] == "m" && mpa::ValidateSpoolId(c.queue_id).ok()) return c;
  return bad();
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
  m.mpa_error = std::string(mpa_error());
  m.mpa_attempts = mpa_attempts();
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
    e.mpa_error = Intern(m.mpa_error);
    e.mpa_attempts = m.mpa_attempts;
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

absl::StatusOr<std::shared_ptr<QueueSnapshot>> QueueSnapshot::Builder::Finish(
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
      e.mpa_error = shift(e.mpa_error);
      e.first_recipient += rcpt_base;
      joined.push_back(e);
    }
    std::move(p->problems.begin(), p->problems.end(),
              std::back_inserter(s->problems_));
    p.reset();  // free each part as soon as it is copied
  }
  parts_.clear();

  // Two orders, sorted side by side on two cores: by key (for lookups, and
  // to find a message caught mid-move and listed from two queues) and by
  // (arrival, id, source) for listing.
  std::vector<uint32_t> by_id(joined.size());
  std::iota(by_id.begin(), by_id.end(), 0);
  std::vector<uint32_t> order = by_id;
  std::thread order_sorter([&] {
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return s->ListLess(joined[a], joined[b]);
    });
  });
  std::sort(by_id.begin(), by_id.end(), [&](uint32_t a, uint32_t b) {
    return s->KeyOf(joined[a]) < s->KeyOf(joined[b]);
  });
  order_sorter.join();
  std::vector<bool> drop(joined.size(), false);
  for (size_t i = 1; i < by_id.size(); ++i) {
    if (s->KeyOf(joined[by_id[i]]) == s->KeyOf(joined[by_id[i - 1]])) {
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
  s->ext_ = std::make_shared<Extension>();
  s->string_count_ = s->tables_->strings.size();
  s->CountQueues();
  return s;
}

void QueueSnapshot::CountQueues() {
  counts_.fill(0);
  for (const Entry& e : entries_) counts_[static_cast<int>(e.queue)]++;
}

MessageKeyRef QueueSnapshot::KeyOf(const Entry& e) const {
  return {SourceOf(e.queue), Str(e.id)};
}

bool QueueSnapshot::ListLess(const Entry& a, const Entry& b) const {
  if (a.arrival_us != b.arrival_us) return a.arrival_us < b.arrival_us;
  absl::string_view ia = Str(a.id), ib = Str(b.id);
  if (ia != ib) return ia < ib;
  return SourceOf(a.queue) < SourceOf(b.queue);
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

absl::string_view QueueSnapshot::Str(StrRef r) const {
  if (r.offset & kExtBit) return ext_->String(r.offset & ~kExtBit);
  return absl::string_view(tables_->arena.data() + r.offset, r.length);
}

absl::string_view QueueSnapshot::Str(StrId id) const {
  const size_t base = tables_->strings.size();
  return id < base ? Str(tables_->strings[id]) : ext_->String(id - base);
}

QueueSnapshot::StrId QueueSnapshot::DomainOf(StrId address) const {
  const size_t base = tables_->strings.size();
  return address < base ? tables_->domain_of[address]
                        : ext_->DomainOf(address - base);
}

const QueueSnapshot::RecipientEntry& QueueSnapshot::RecipientAt(uint32_t i) const {
  const size_t base = tables_->recipients.size();
  return i < base ? tables_->recipients[i] : ext_->recipients[i - base];
}

std::optional<uint32_t> QueueSnapshot::IndexOf(QueueSource source,
                                               absl::string_view queue_id) const {
  const MessageKeyRef key(source, queue_id);
  auto it = std::lower_bound(
      by_id_.begin(), by_id_.end(), key,
      [&](uint32_t i, const MessageKeyRef& k) { return KeyOf(entries_[i]) < k; });
  if (it == by_id_.end() || KeyOf(entries_[*it]) != key) return std::nullopt;
  return *it;
}

std::shared_ptr<const QueueSnapshot> QueueSnapshot::WithChanges(
    const std::vector<Message>& messages, const std::vector<EntryUpdate>& updates,
    int64_t generation) const {
  if (ext_->full()) {
    // Millions of strings added since the scan: start a fresh family.
    if (auto fresh = Compacted()) return fresh->WithChanges(messages, updates, generation);
  }
  std::shared_ptr<QueueSnapshot> s(new QueueSnapshot());
  s->tables_ = tables_;
  s->ext_ = ext_;
  s->problems_ = problems_;
  s->generation_ = generation;
  s->scan_time_ = scan_time_;
  s->scan_duration_ = scan_duration_;

  // The new messages' entries, their strings in the extension.
  Extension& ext = *ext_;
  const StrId base_strings = static_cast<StrId>(tables_->strings.size());
  const uint32_t base_recipients = static_cast<uint32_t>(tables_->recipients.size());
  auto intern = [&](absl::string_view v) -> StrId {
    return v.empty() ? 0 : base_strings + static_cast<StrId>(ext.Intern(v));
  };
  std::vector<Entry> added;
  added.reserve(messages.size());
  for (const Message& m : messages) {
    if (ext.full()) break;  // the next batch starts a fresh family
    Entry e;
    e.arrival_us = ToMicros(m.arrival_time);
    e.next_attempt_us = ToMicros(m.next_attempt_time);
    e.size = m.size;
    e.id = StrRef{kExtBit | static_cast<uint32_t>(ext.Append(m.queue_id)),
                  static_cast<uint32_t>(m.queue_id.size())};
    e.sender = intern(m.sender);
    e.client = intern(m.client_address);
    e.parse_error = intern(m.parse_error);
    e.mpa_error = intern(m.mpa_error);
    e.mpa_attempts = m.mpa_attempts;
    e.first_recipient =
        base_recipients + static_cast<uint32_t>(ext.recipients.size());
    e.recipient_count = static_cast<uint32_t>(m.recipients.size());
    e.queue = m.queue;
    e.forced_expire = m.forced_expire;
    for (const Recipient& r : m.recipients) {
      StrId address = intern(r.address);
      if (address != 0 && ext.DomainOf(address - base_strings) == 0) {
        size_t at = r.address.rfind('@');
        if (at != std::string::npos && at + 1 < r.address.size()) {
          ext.SetDomain(address - base_strings,
                        intern(absl::string_view(r.address).substr(at + 1)));
        }
      }
      ext.recipients.push_back(
          {address, intern(r.orig_address), intern(r.delay_reason)});
    }
    added.push_back(e);
  }
  s->string_count_ = base_strings + ext.string_count();

  // What happens to the entries held: kept, patched, or dropped (gone, or
  // replaced by a new entry).
  constexpr int32_t kKeep = -1, kDrop = -2;
  std::vector<int32_t> fate(entries_.size(), kKeep);
  for (size_t u = 0; u < updates.size(); ++u) {
    if (auto i = IndexOf(updates[u].source, updates[u].queue_id)) {
      fate[*i] = updates[u].queue ? static_cast<int32_t>(u) : kDrop;
    }
  }
  for (const Message& m : messages) {
    if (auto i = IndexOf(m.source(), m.queue_id)) fate[*i] = kDrop;
  }

  auto key_less = [&](const Entry& a, const Entry& b) { return s->ListLess(a, b); };
  std::sort(added.begin(), added.end(), key_less);

  // Merge the entries kept with the new ones, in listing order. Where each
  // new one goes is found by binary search, so that the pass over the
  // entries held compares no strings: a batch costs a copy of the entries,
  // not a sort.
  constexpr uint32_t kGone = UINT32_MAX;
  std::vector<size_t> slot(added.size());
  for (size_t j = 0; j < added.size(); ++j) {
    slot[j] = std::upper_bound(entries_.begin(), entries_.end(), added[j], key_less) -
              entries_.begin();
  }
  std::vector<uint32_t> new_index(entries_.size(), kGone);
  std::vector<uint32_t> added_index(added.size());
  s->entries_.reserve(entries_.size() + added.size());
  size_t j = 0;
  auto take_added_until = [&](size_t i) {
    for (; j < added.size() && slot[j] <= i; ++j) {
      added_index[j] = static_cast<uint32_t>(s->entries_.size());
      s->entries_.push_back(added[j]);
    }
  };
  for (size_t i = 0; i < entries_.size(); ++i) {
    take_added_until(i);
    if (fate[i] == kDrop) continue;
    Entry e = entries_[i];
    if (fate[i] >= 0) {
      const EntryUpdate& u = updates[fate[i]];
      e.queue = *u.queue;
      e.next_attempt_us = u.next_attempt ? ToMicros(*u.next_attempt) : kNoTime;
      e.forced_expire = u.forced_expire;
    }
    new_index[i] = static_cast<uint32_t>(s->entries_.size());
    s->entries_.push_back(e);
  }
  take_added_until(SIZE_MAX);

  // And the id order: the kept ones' (already sorted) with the new ones
  // inserted the same way.
  std::vector<uint32_t> added_by_id(added.size());
  std::iota(added_by_id.begin(), added_by_id.end(), 0);
  std::sort(added_by_id.begin(), added_by_id.end(), [&](uint32_t a, uint32_t b) {
    return s->KeyOf(added[a]) < s->KeyOf(added[b]);
  });
  std::vector<size_t> id_slot(added.size());
  for (size_t k = 0; k < added_by_id.size(); ++k) {
    MessageKeyRef key = s->KeyOf(added[added_by_id[k]]);
    id_slot[k] = std::lower_bound(by_id_.begin(), by_id_.end(), key,
                                  [&](uint32_t i, const MessageKeyRef& v) {
                                    return KeyOf(entries_[i]) < v;
                                  }) -
                 by_id_.begin();
  }
  s->by_id_.reserve(s->entries_.size());
  size_t k = 0;
  for (size_t t = 0; t <= by_id_.size(); ++t) {
    for (; k < added_by_id.size() && id_slot[k] <= t; ++k) {
      s->by_id_.push_back(added_index[added_by_id[k]]);
    }
    if (t < by_id_.size() && new_index[by_id_[t]] != kGone) {
      s->by_id_.push_back(new_index[by_id_[t]]);
    }
  }
  s->CountQueues();
  return s;
}

std::shared_ptr<const QueueSnapshot> QueueSnapshot::Compacted() const {
  Builder builder(1);
  postfix::ScanSink* sink = builder.sinks()[0];
  for (const Entry& e : entries_) sink->OnMessage(View(this, &e).ToMessage());
  for (const auto& p : problems_) sink->OnProblem(p);
  auto fresh = builder.Finish(generation_, scan_time_, scan_duration_);
  return fresh.ok() ? *fresh : nullptr;
}

size_t QueueSnapshot::ExtensionBytes() const { return ext_ ? ext_->bytes() : 0; }

namespace {

// What a View and a Message hold under different names.
struct Extras {
  absl::string_view parse_error, mpa_error;
  int32_t mpa_attempts;
};
Extras ExtrasOf(const QueueSnapshot::View& v) {
  return {v.parse_error(), v.mpa_error(), v.mpa_attempts()};
}
Extras ExtrasOf(const Message& m) {
  return {m.parse_error, m.mpa_error, m.mpa_attempts};
}

// Over the accessors a View and a Message share (Filter's).
template <typename A, typename B>
bool SameEnvelopeOf(const A& a, const B& b) {
  const Extras xa = ExtrasOf(a), xb = ExtrasOf(b);
  if (ToMicros(a.arrival()) != ToMicros(b.arrival()) ||
      a.size_bytes() != b.size_bytes() || a.sender_address() != b.sender_address() ||
      a.client() != b.client() || xa.parse_error != xb.parse_error ||
      xa.mpa_error != xb.mpa_error || xa.mpa_attempts != xb.mpa_attempts ||
      a.recipient_count() != b.recipient_count()) {
    return false;
  }
  for (size_t i = 0; i < a.recipient_count(); ++i) {
    if (a.recipient_address(i) != b.recipient_address(i) ||
        a.recipient_orig_address(i) != b.recipient_orig_address(i) ||
        a.recipient_delay_reason(i) != b.recipient_delay_reason(i)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool QueueSnapshot::SameEnvelope(const View& a, const View& b) {
  return SameEnvelopeOf(a, b);
}

bool QueueSnapshot::SameEnvelope(const View& a, const Message& b) {
  return SameEnvelopeOf(a, b);
}

namespace {

// How one message differs between two snapshots, if it does.
std::optional<IndexChange> Compare(const std::optional<QueueSnapshot::View>& b,
                                   const std::optional<QueueSnapshot::View>& a) {
  using Kind = IndexChange::Kind;
  if (!a && !b) return std::nullopt;
  if (!b) {
    return IndexChange{Kind::kAdded, a->source(), std::string(a->id()),
                       QueueKind::kUnknown, a->queue_kind()};
  }
  if (!a) {
    return IndexChange{Kind::kRemoved, b->source(), std::string(b->id()),
                       b->queue_kind(), QueueKind::kUnknown};
  }
  if (a->queue_kind() != b->queue_kind()) {
    return IndexChange{Kind::kMoved, a->source(), std::string(a->id()),
                       b->queue_kind(), a->queue_kind()};
  }
  if (a->next_attempt() != b->next_attempt() ||
      a->forced_expire() != b->forced_expire() ||
      !QueueSnapshot::SameEnvelope(*a, *b)) {
    return IndexChange{Kind::kChanged, a->source(), std::string(a->id()),
                       b->queue_kind(), a->queue_kind()};
  }
  return std::nullopt;
}

}  // namespace

std::vector<IndexChange> QueueSnapshot::Diff(
    const QueueSnapshot& before, const QueueSnapshot& after,
    const std::vector<MessageKeyRef>& keys) {
  std::vector<IndexChange> changes;
  for (const MessageKeyRef& key : keys) {
    if (auto c = Compare(before.Find(key), after.Find(key))) {
      changes.push_back(*std::move(c));
    }
  }
  return changes;
}

std::vector<IndexChange> QueueSnapshot::Diff(const QueueSnapshot& before,
                                             const QueueSnapshot& after) {
  std::vector<IndexChange> changes;
  size_t i = 0, j = 0;
  const size_t nb = before.by_id_.size(), na = after.by_id_.size();
  while (i < nb || j < na) {
    std::optional<View> b, a;
    if (i < nb) b = View(&before, &before.entries_[before.by_id_[i]]);
    if (j < na) a = View(&after, &after.entries_[after.by_id_[j]]);
    if (a && b && a->key() != b->key()) {
      // Only the smaller key is this step's.
      if (a->key() < b->key()) {
        b.reset();
      } else {
        a.reset();
      }
    }
    if (a) ++j;
    if (b) ++i;
    if (auto c = Compare(b, a)) changes.push_back(*std::move(c));
  }
  return changes;
}

size_t QueueSnapshot::MemoryBytes() const {
  return sizeof(*this) + tables_->arena.capacity() +
         tables_->strings.capacity() * sizeof(StrRef) +
         tables_->domain_of.capacity() * sizeof(StrId) +
         entries_.capacity() * sizeof(Entry) +
         tables_->recipients.capacity() * sizeof(RecipientEntry) +
         by_id_.capacity() * sizeof(uint32_t) + ExtensionBytes();
}

std::optional<QueueSnapshot::View> QueueSnapshot::Find(
    QueueSource source, absl::string_view queue_id) const {
  auto i = IndexOf(source, queue_id);
  if (!i) return std::nullopt;
  return View(this, &entries_[*i]);
}

std::optional<ListCursor> QueueSnapshot::List(
    const Filter& filter, absl::Time now, const ListCursor* after,
    size_t limit, const std::function<void(const View&)>& visit) const {
  auto it = entries_.begin();
  if (after != nullptr) {
    it = std::upper_bound(entries_.begin(), entries_.end(), *after,
                          [&](const ListCursor& c, const Entry& e) {
                            return std::make_tuple(c.arrival_us,
                                                   absl::string_view(c.queue_id),
                                                   c.source) <
                                   std::make_tuple(e.arrival_us, Str(e.id),
                                                   SourceOf(e.queue));
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
      return ListCursor{last->arrival_us, std::string(Str(last->id)),
                        SourceOf(last->queue)};
    }
    visit(v);
    last = &*it;
    ++visited;
  }
  return std::nullopt;
}

QueueSummary QueueSnapshot::Summarize(const Filter& filter, absl::Time now,
                                      size_t top_n,
                                      const mpa::ThrottleLimits* mpa) const {
  QueueSummary sum;
  // Counting goes by string id, not by string: a large queue's summary
  // hashes nothing per recipient.
  std::vector<std::pair<int64_t, int64_t>> domain_counts(string_count_);
  std::vector<int64_t> reason_counts(string_count_, 0);
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
      sum.oldest_queue = e.queue;
    }
    message_domains.clear();
    for (uint32_t i = 0; i < e.recipient_count; ++i) {
      const RecipientEntry& r = RecipientAt(e.first_recipient + i);
      if (r.delay_reason != 0) reason_counts[r.delay_reason]++;
      StrId d = DomainOf(r.address);
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
  for (StrId id = 1; id < string_count_; ++id) {
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
  if (mpa != nullptr) {
    sum.mpa_throttle = mpa::JudgeThrottle(CountIn(QueueKind::kMpaSpool),
                                          CountIn(QueueKind::kMpaError), *mpa);
  }
  return sum;
}

}  // namespace mailfleet
