// fake_agent: serves synthetic messages over loopback so that the real
// `mailfleet` binary can be timed end to end:
//   fake_agent MESSAGES RECIPIENTS   (prints its address, serves until EOF
//                                     on stdin)
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/time/clock.h"
#include "tests/client/fake_agent_service.h"
#include "tests/client/sample_messages.h"

int main(int argc, char** argv) {
  const int messages = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int recipients = argc > 2 ? std::atoi(argv[2]) : 2;
  mailfleet::testing::FakeAgentService service;
  service.SetMessages(
      mailfleet::testing::SampleMessages(messages, recipients, absl::Now()));
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
