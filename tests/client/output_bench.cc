// output_bench: CPU time of the output layer alone for N messages with R
// recipients each, written to /dev/null, in each format; and of
// MessageToJsonString for comparison.
//   output_bench [N [R]]
#include <google/protobuf/util/json_util.h>

#include <ctime>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/cli/output.h"
#include "tests/client/sample_messages.h"

namespace {

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  using mailfleet::cli::Output;
  using mailfleet::cli::OutputFormat;
  const int count = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int recipients = argc > 2 ? std::atoi(argv[2]) : 2;
  const absl::Time now = absl::Now();
  const auto messages =
      mailfleet::testing::SampleMessages(count, recipients, now);
  std::ofstream devnull("/dev/null");
  for (auto [name, format] : {std::pair{"json", OutputFormat::kJson},
                              std::pair{"table", OutputFormat::kTable},
                              std::pair{"wide", OutputFormat::kWide}}) {
    const double start = CpuSeconds();
    {
      Output out(devnull, format, {now, absl::LocalTimeZone()});
      out.BeginMessageList();
      for (const auto& message : messages) {
        if (!out.AddMessage(message).ok()) return 1;
      }
      if (!out.EndMessageList().ok()) return 1;
    }
    std::cout << absl::StrFormat("%-28s %6.3f s CPU\n",
                                 absl::StrCat("Output -o ", name),
                                 CpuSeconds() - start);
  }
  const double start = CpuSeconds();
  std::string line;
  for (const auto& message : messages) {
    line.clear();
    if (!google::protobuf::util::MessageToJsonString(message, &line).ok()) {
      return 1;
    }
    line.push_back('\n');
    devnull.write(line.data(), line.size());
  }
  std::cout << absl::StrFormat("%-28s %6.3f s CPU\n", "MessageToJsonString",
                               CpuSeconds() - start);
  return 0;
}
