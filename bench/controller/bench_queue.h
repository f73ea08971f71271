// The queue every benchmark gateway holds: `count` deferred messages whose
// envelopes come from the e2e message generator (senders, 1 to 5
// recipients over a few hundred domains), as Postfix's queue files and
// defer logfiles. The agents host files them; the driver picks its filter
// from the same envelopes, so both sides agree on what a filter matches
// without asking an agent.
#ifndef MAILFLEET_BENCH_CONTROLLER_BENCH_QUEUE_H_
#define MAILFLEET_BENCH_CONTROLLER_BENCH_QUEUE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace mailfleet::bench {

struct BenchMessage {
  // Envelope addresses in the queue file's (unquoted) form.
  std::string sender;
  std::vector<std::string> recipients;
  // The queue file and the defer logfile, byte for byte.
  std::string queue_file;
  std::string defer_log;
  absl::Time arrival;
  // The queue file's mtime: a deferred message's next attempt.
  absl::Time next_attempt;
};

// Messages 0 .. count - 1 of the generator's sequence for `seed`, arrived
// over the five days before `now`.
std::vector<BenchMessage> BuildBenchQueue(int count, uint32_t seed, absl::Time now);

// The queue id of message `message` on gateway `gateway`: hexadecimal,
// unique in the fleet, and spread over the 16 hashed deferred/ directories.
std::string BenchQueueId(int gateway, int message);

// The recipient domain whose messages come closest to `wanted` in `queue`,
// and how many messages have a recipient there.
std::pair<std::string, int> DomainNearest(const std::vector<BenchMessage>& queue,
                                          int wanted);

}  // namespace mailfleet::bench

#endif  // MAILFLEET_BENCH_CONTROLLER_BENCH_QUEUE_H_
