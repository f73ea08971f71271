// What the CLI tests share: one run's result, and helpers to read it.
#ifndef MAILFLEET_TESTS_CLIENT_CLI_RUN_H_
#define MAILFLEET_TESTS_CLIENT_CLI_RUN_H_

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace mailfleet::cli {

struct CliRun {
  int exit_code;
  std::string out;
  std::string err;
};

// The lines of `text`, without the empty one after a final newline.
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// `message` as protobuf's own JSON printer writes it.
inline std::string ProtobufJson(const google::protobuf::Message& message) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &json).ok());
  return json;
}

}  // namespace mailfleet::cli

#endif  // MAILFLEET_TESTS_CLIENT_CLI_RUN_H_
