// An immutable, compact picture of a gateway's queues at one moment: every
// message of one scan, sorted by (arrival time, queue id), with all strings
// de-duplicated into one arena. Queries (filtered pages, summaries, lookups
// by id) read it without locks; a new scan builds a new snapshot.
//
// Compactness matters: a gateway may hold a million messages, and the
// budget is a few hundred bytes per message. Addresses and delay reasons
// repeat across messages and are stored once.
#ifndef MAILFLEET_AGENT_INDEX_QUEUE_SNAPSHOT_H_
#define MAILFLEET_AGENT_INDEX_QUEUE_SNAPSHOT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/mpa/throttle.h"
#include "agent/postfix/queue_reader.h"
#include "common/filter.h"
#include "common/list_cursor.h"
#include "common/message.h"

namespace mailfleet {

// A message's identity in the index: its id within its source (see
// QueueSource). Ordered by source, then id.
using MessageKey = std::pair<QueueSource, std::string>;
using MessageKeyRef = std::pair<QueueSource, absl::string_view>;

// The cursor in a page token (see common/list_cursor.h); INVALID_ARGUMENT
// unless its id is valid for its side.
absl::StatusOr<ListCursor> DecodePageToken(absl::string_view token);

// qshape's age buckets, in minutes; one more bucket holds everything older.
inline constexpr std::array<int, 9> kAgeBucketMinutes = {5,   10,  20,  40,  80,
                                                         160, 320, 640, 1280};
inline constexpr int kAgeBucketCount = kAgeBucketMinutes.size() + 1;

struct QueueStats {
  int64_t messages = 0;
  int64_t bytes = 0;
  int64_t recipients = 0;
  absl::Time oldest_arrival = absl::InfiniteFuture();
  std::array<int64_t, kAgeBucketCount> age_buckets{};

  bool operator==(const QueueStats& o) const {
    return messages == o.messages && bytes == o.bytes &&
           recipients == o.recipients && oldest_arrival == o.oldest_arrival &&
           age_buckets == o.age_buckets;
  }
};

struct QueueSummary {
  std::array<QueueStats, kQueueKindCount> queues;  // by QueueKind
  int64_t total_messages = 0;
  int64_t total_bytes = 0;
  absl::Time oldest_arrival = absl::InfiniteFuture();
  std::string oldest_queue_id;
  QueueKind oldest_queue = QueueKind::kUnknown;  // says which side the id is on
  struct DomainCount {
    std::string domain;
    int64_t recipients = 0;
    int64_t messages = 0;
    bool operator==(const DomainCount& o) const {
      return domain == o.domain && recipients == o.recipients && messages == o.messages;
    }
  };
  std::vector<DomainCount> top_domains;
  std::vector<std::pair<std::string, int64_t>> top_delay_reasons;
  int64_t problem_count = 0;
  std::vector<postfix::ScanProblem> problems;  // the first few
  // When the agent has an MPA spool: from the whole index, unfiltered.
  std::optional<mpa::Throttle> mpa_throttle;
};

// How one message changed between two snapshots.
struct IndexChange {
  enum class Kind { kAdded, kRemoved, kMoved, kChanged };
  Kind kind;
  QueueSource source = QueueSource::kPostfix;
  std::string queue_id;
  QueueKind from = QueueKind::kUnknown;  // kRemoved, kMoved, kChanged
  QueueKind to = QueueKind::kUnknown;    // kAdded, kMoved, kChanged
};

class QueueSnapshot {
 private:
  // A string in the arena; in the extension when the top bit of `offset`
  // is set (the rest is then its index there).
  struct StrRef {
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  // A de-duplicated string: an index into tables_->strings, or past its end
  // into the extension's; 0 is the empty string.
  using StrId = uint32_t;
  struct Entry {
    int64_t arrival_us;
    int64_t next_attempt_us;  // INT64_MIN when none
    int64_t size;
    StrRef id;  // unique per message: not worth a StrId
    StrId sender, client, parse_error, mpa_error;
    uint32_t first_recipient;  // past tables_->recipients: the extension's
    uint32_t recipient_count;
    int32_t mpa_attempts;
    QueueKind queue;
    bool forced_expire;
  };
  struct RecipientEntry {
    StrId address, orig_address, delay_reason;
  };

 public:
  // A message of the snapshot, read in place. Offers the accessors
  // Filter::Matches expects. Valid while the snapshot lives.
  class View {
   public:
    QueueKind queue_kind() const { return e_->queue; }
    QueueSource source() const { return SourceOf(e_->queue); }
    MessageKeyRef key() const { return {source(), id()}; }
    absl::Time arrival() const { return absl::FromUnixMicros(e_->arrival_us); }
    int64_t arrival_us() const { return e_->arrival_us; }
    std::optional<absl::Time> next_attempt() const;
    int64_t size_bytes() const { return e_->size; }
    bool forced_expire() const { return e_->forced_expire; }
    absl::string_view id() const { return s_->Str(e_->id); }
    absl::string_view sender_address() const { return s_->Str(e_->sender); }
    absl::string_view client() const { return s_->Str(e_->client); }
    absl::string_view parse_error() const { return s_->Str(e_->parse_error); }
    absl::string_view mpa_error() const { return s_->Str(e_->mpa_error); }
    int32_t mpa_attempts() const { return e_->mpa_attempts; }
    size_t recipient_count() const { return e_->recipient_count; }
    absl::string_view recipient_address(size_t i) const {
      return s_->Str(Rcpt(i).address);
    }
    absl::string_view recipient_orig_address(size_t i) const {
      return s_->Str(Rcpt(i).orig_address);
    }
    absl::string_view recipient_delay_reason(size_t i) const {
      return s_->Str(Rcpt(i).delay_reason);
    }
    Message ToMessage() const;

   private:
    friend class QueueSnapshot;
    View(const QueueSnapshot* s, const Entry* e) : s_(s), e_(e) {}
    const RecipientEntry& Rcpt(size_t i) const {
      return s_->RecipientAt(e_->first_recipient + static_cast<uint32_t>(i));
    }
    const QueueSnapshot* s_;
    const Entry* e_;
  };

  // Consumes a scan (null if it outgrows the index; see Builder::Finish).
  // `generation` is carried along for answers.
  static std::shared_ptr<const QueueSnapshot> Build(postfix::ScanResult scan,
                                                    int64_t generation);

  class Builder;

  // A change to one message that an action made: where it is now.
  struct EntryUpdate {
    std::string queue_id;
    std::optional<QueueKind> queue;  // nullopt: the message is gone
    std::optional<absl::Time> next_attempt;
    bool forced_expire = false;
    QueueSource source = QueueSource::kPostfix;
  };
  // This snapshot with `updates` applied (ids it does not hold are
  // ignored), as generation `generation`. Shares strings and recipients
  // with this one: a few milliseconds for 100,000 messages, where a rescan
  // takes most of a second.
  std::shared_ptr<const QueueSnapshot> WithUpdates(
      const std::vector<EntryUpdate>& updates, int64_t generation) const {
    return WithChanges({}, updates, generation);
  }
  // This snapshot with `messages` added (replacing any held under the same
  // id) and `updates` applied. New strings go to an append-only extension
  // that this snapshot and those derived from it share, so nothing already
  // stored is copied; only entries are. Derive from one snapshot of a
  // family at a time (the index's writer lock sees to it).
  std::shared_ptr<const QueueSnapshot> WithChanges(
      const std::vector<Message>& messages,
      const std::vector<EntryUpdate>& updates, int64_t generation) const;

  // The same messages in fresh tables, without what the extension holds
  // for messages that are gone; for when the extension has grown large.
  std::shared_ptr<const QueueSnapshot> Compacted() const;
  // Bytes the extension holds (strings, recipients), live or not.
  size_t ExtensionBytes() const;

  // What changed from `before` to `after`, by key, in key order.
  static std::vector<IndexChange> Diff(const QueueSnapshot& before,
                                       const QueueSnapshot& after);
  // The same, for these messages only (each once).
  static std::vector<IndexChange> Diff(const QueueSnapshot& before,
                                       const QueueSnapshot& after,
                                       const std::vector<MessageKeyRef>& keys);
  // Whether two messages have the same envelope: everything but where they
  // are (queue, next attempt, forced expiry).
  static bool SameEnvelope(const View& a, const View& b);
  static bool SameEnvelope(const View& a, const Message& b);

  size_t size() const { return entries_.size(); }
  int64_t generation() const { return generation_; }
  // Before the snapshot is published: a rescan that found nothing new
  // keeps the generation it replaces.
  void set_generation(int64_t generation) { generation_ = generation; }
  absl::Time scan_time() const { return scan_time_; }
  absl::Duration scan_duration() const { return scan_duration_; }
  const std::vector<postfix::ScanProblem>& problems() const { return problems_; }
  // Approximate bytes held, for the memory budget.
  size_t MemoryBytes() const;

  std::optional<View> Find(QueueSource source, absl::string_view queue_id) const;
  std::optional<View> Find(MessageKeyRef key) const {
    return Find(key.first, key.second);
  }
  // Messages in `queue`, whatever any filter says.
  int64_t CountIn(QueueKind queue) const {
    return counts_[static_cast<int>(queue)];
  }

  // Calls `visit` for up to `limit` matching messages in (arrival, id)
  // order, starting after `after` when given. Returns the cursor of the
  // last message visited if more may follow, nullopt at the end.
  std::optional<ListCursor> List(const Filter& filter, absl::Time now,
                                 const ListCursor* after, size_t limit,
                                 const std::function<void(const View&)>& visit) const;

  // With `mpa` (the agent has an MPA spool), the throttle state too.
  QueueSummary Summarize(const Filter& filter, absl::Time now, size_t top_n,
                         const mpa::ThrottleLimits* mpa = nullptr) const;

 private:
  friend class Builder;
  class Extension;
  QueueSnapshot() = default;
  absl::string_view Str(StrRef r) const;
  absl::string_view Str(StrId id) const;
  StrId DomainOf(StrId address) const;
  const RecipientEntry& RecipientAt(uint32_t i) const;
  // Where the message is in entries_, or nullopt.
  std::optional<uint32_t> IndexOf(QueueSource source,
                                  absl::string_view queue_id) const;
  void CountQueues();
  MessageKeyRef KeyOf(const Entry& e) const;
  // Listing order: arrival, then id, then source.
  bool ListLess(const Entry& a, const Entry& b) const;

  // What a snapshot and the snapshots patched from it share: strings and
  // recipients never change after a scan, only entries do.
  struct Tables {
    std::string arena;
    std::vector<StrRef> strings;  // by StrId
    // For a recipient address's StrId, its domain's; 0 for other strings.
    std::vector<StrId> domain_of;
    std::vector<RecipientEntry> recipients;
  };
  std::shared_ptr<Tables> tables_ = std::make_shared<Tables>();
  // Strings and recipients of messages added since the scan.
  std::shared_ptr<Extension> ext_;
  // Strings visible to this snapshot (tables_ and extension), for counting
  // by StrId.
  size_t string_count_ = 0;
  std::vector<Entry> entries_;  // sorted by (arrival_us, id)
  std::vector<uint32_t> by_id_;  // entry indices sorted by key
  std::array<int64_t, kQueueKindCount> counts_{};  // by QueueKind
  std::vector<postfix::ScanProblem> problems_;
  int64_t generation_ = 0;
  absl::Time scan_time_;
  absl::Duration scan_duration_;
};

// Builds a snapshot straight from a scan: each scanning thread feeds a part
// of its own (a ScanSink) that stores and de-duplicates strings as they
// come, so no list of full message records ever exists; Finish joins the
// parts and sorts them.
class QueueSnapshot::Builder {
 public:
  explicit Builder(int parts);
  ~Builder();

  // One sink per scanning thread.
  std::vector<postfix::ScanSink*> sinks();

  // RESOURCE_EXHAUSTED if the queue's strings outgrow the index's 32-bit
  // offsets (gigabytes of distinct addresses and reasons).
  absl::StatusOr<std::shared_ptr<QueueSnapshot>> Finish(
      int64_t generation, absl::Time scan_time, absl::Duration scan_duration);

 private:
  class Part;
  std::vector<std::unique_ptr<Part>> parts_;
};

}  // namespace mailfleet

#endif  // MAILFLEET_AGENT_INDEX_QUEUE_SNAPSHOT_H_
