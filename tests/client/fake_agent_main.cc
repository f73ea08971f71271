// fake_agent: serves synthetic messages over loopback so that the real
// `mailfleet` binary can be timed end to end:
//   fake_agent MESSAGES RECIPIENTS   (prints its address, serves until EOF
//                                     on stdin)
// A watch gets the messages as a snapshot in parts of 1000, then stays open.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "tests/client/fake_agent_service.h"
#include "tests/client/sample_messages.h"

int main(int argc, char** argv) {
  const int messages = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int recipients = argc > 2 ? std::atoi(argv[2]) : 2;
  mailfleet::testing::FakeAgentService service;
  std::vector<mailfleet::v1::Message> sample =
      mailfleet::testing::SampleMessages(messages, recipients, absl::Now());
  std::vector<mailfleet::v1::WatchEvent> snapshot;
  for (size_t i = 0; i == 0 || i < sample.size(); i += 1000) {
    mailfleet::v1::WatchEvent& part = snapshot.emplace_back();
    part.set_instance_id("fake");
    part.set_generation(1);
    part.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    part.mutable_snapshot()->set_reason(
        mailfleet::v1::WatchSnapshot::REASON_INITIAL);
    if (i == 0) {
      part.mutable_snapshot()->mutable_agent()->set_hostname("fake-agent");
      part.mutable_snapshot()->mutable_summary()->set_total_messages(
          static_cast<int64_t>(sample.size()));
    }
    for (size_t j = i; j < i + 1000 && j < sample.size(); ++j) {
      *part.mutable_snapshot()->add_messages() = sample[j];
    }
  }
  snapshot.back().mutable_snapshot()->set_last(true);
  service.SetWatchEvents(std::move(snapshot));
  service.SetMessages(std::move(sample));
  mailfleet::testing::FakeAgentServer server(&service);
  if (server.address().empty()) {
    std::cerr << "fake_agent: cannot listen on 127.0.0.1\n";
    return 1;
  }
  std::cout << server.address() << std::endl;
  std::string ignored;
  while (std::getline(std::cin, ignored)) {
  }
  return 0;
}
