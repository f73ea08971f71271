// Realistic messages for client tests and the speed check: deferred mail
// with long Postfix queue ids, delay reasons as smtp(8) writes them.
#ifndef MAILFLEET_TESTS_CLIENT_SAMPLE_MESSAGES_H_
#define MAILFLEET_TESTS_CLIENT_SAMPLE_MESSAGES_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "mailfleet/v1/types.pb.h"

namespace mailfleet::testing {

// `count` messages with `recipients` recipients each, arrived one second
// apart before `newest`, in arrival order, ids unique.
std::vector<v1::Message> SampleMessages(int count, int recipients,
                                        absl::Time newest);

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_CLIENT_SAMPLE_MESSAGES_H_
