// Writes MPA spool items exactly as the MPA does (DESIGN.md, "The MPA
// spool"), for the simulator, tests and benchmarks; the agent never links
// this (it only reads, and renames through spool_actions).
//
// The order of every step is the point: a new item's .env is written under
// tmp/ and renamed into its queue, then its .eml is renamed in last, so an
// item exists exactly when its .eml does and its .env is never seen
// half-written. A move writes the new .env into the target queue first,
// renames the .eml across, then unlinks the old .env; a removal unlinks
// the .eml first. At every instant an item is complete in one queue.
//
// Nothing is fsync'ed: a reader on the same machine sees the renames in
// order without it, and durability across a crash is not what these tools
// simulate. Thread-safe for distinct ids; one id must not be written,
// moved or removed by two threads at once (the MPA owns each item).
#ifndef MAILFLEET_AGENT_MPA_SPOOL_WRITER_H_
#define MAILFLEET_AGENT_MPA_SPOOL_WRITER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/mpa/spool_item.h"
#include "common/queue_kind.h"

namespace mailfleet::mpa {

// What a move changes in the envelope; unset fields are kept.
struct EnvelopeChange {
  std::optional<std::string> error;  // "" clears it
  std::optional<int64_t> attempts;
};

class SpoolWriter {
 public:
  // `root` need not exist yet; it and the queue directories are created
  // (one level each, mode 0700) when first written to.
  explicit SpoolWriter(std::string root);

  const std::string& root() const { return root_; }

  // Creates the item `id` in `queue`. INVALID_ARGUMENT for a bad id or a
  // queue that is not one of the spool's four; ALREADY_EXISTS if its .eml
  // is there (the MPA never reuses an id).
  absl::Status Write(QueueKind queue, absl::string_view id,
                     const SpoolEnvelope& envelope, absl::string_view content);

  // Moves the item from `from` to `to`, its envelope changed by `change`.
  // NOT_FOUND if it is not in `from` (complete); on failure the item is
  // left where it was.
  absl::Status Move(QueueKind from, QueueKind to, absl::string_view id,
                    const EnvelopeChange& change = {});

  // Removes the item, as the MPA does once Postfix has taken it.
  // NOT_FOUND if its .eml is not in `queue`.
  absl::Status Remove(QueueKind queue, absl::string_view id);

  // Writes `bytes` to <root>/<dir>/<name> in one go, neither validating the
  // name nor keeping any order: for planting damaged items in tests. `dir`
  // and `name` are single path components.
  absl::Status WriteRaw(absl::string_view dir, absl::string_view name,
                        absl::string_view bytes);

 private:
  // Writes `bytes` to tmp/<name>, then renames it to `target`.
  absl::Status Publish(absl::string_view name, absl::string_view bytes,
                       const std::string& target);

  std::string root_;
};

// Writes one item of each kind of damage a spool can hold into `queue`
// (and tmp/), as `mailfleet-mpa-sim malformed` and the tests plant them:
//   damaged-no-env            .eml without .env (listed: "no envelope")
//   damaged-truncated-env     .env cut off mid-line (listed, parse_error)
//   damaged-bad-received      received is not RFC 3339 (listed, parse_error)
//   damaged-no-recipient      no recipient line (listed, parse_error)
//   damaged-env-only          .env without .eml: not an item yet (ignored)
//   "bad id"                  a name that is no valid id (ignored)
//   tmp/damaged-in-tmp        still being written (ignored)
absl::Status WriteDamagedItems(SpoolWriter& writer, QueueKind queue);

// A plausible spool item, the same for the same (seed, index): an id
// "mpa-<seed>-<index>", a sender and one to three recipients over a handful
// of domains, a received time shortly before kSampleEpoch + index seconds,
// and an RFC 5322 message of 1 to 8 KB (some S/MIME-encrypted). Items for
// the error and respool queues carry an MPA error reason and attempts.
struct SampleItem {
  std::string id;
  SpoolEnvelope envelope;
  std::string content;
};
inline constexpr absl::Time kSampleEpoch =
    absl::FromUnixSeconds(1764489600);  // 2025-11-30T08:00:00Z
SampleItem MakeSampleItem(uint64_t seed, int64_t index, QueueKind queue);

// One of the MPA's error reasons, naming the item's own addresses where the
// MPA would; `pick` chooses which.
std::string SampleErrorReason(const SpoolEnvelope& envelope, uint64_t pick);

}  // namespace mailfleet::mpa

#endif  // MAILFLEET_AGENT_MPA_SPOOL_WRITER_H_
