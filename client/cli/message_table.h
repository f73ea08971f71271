// `ls` as a table, mailq-like: one row per message (`-o table`), or the
// sender row followed by every recipient grouped under its delay reason in
// parentheses (`-o wide`). Columns have fixed widths so that rows can be
// printed as they arrive: a listing of any length needs no memory beyond
// one row. Longer values push the rest of their row to the right. Through
// the controller, a GATEWAY column comes first.
#ifndef MAILFLEET_CLIENT_CLI_MESSAGE_TABLE_H_
#define MAILFLEET_CLIENT_CLI_MESSAGE_TABLE_H_

#include <cstdint>
#include <string>

#include "client/cli/terminal_text.h"
#include "mailfleet/v1/types.pb.h"

namespace mailfleet::cli {

class MessageTable {
 public:
  MessageTable(bool wide, const DisplayContext& display,
               bool with_gateway = false)
      : wide_(wide), with_gateway_(with_gateway), display_(display) {}

  void AppendHeader(std::string* out) const;
  void AppendMessage(const v1::Message& message, std::string* out);
  // "-- 3 messages, 12K": the totals of the rows appended.
  void AppendFooter(std::string* out) const;

 private:
  // Where the sender starts in the wide layout, and its recipients below.
  size_t WideIndent() const;

  bool wide_;
  bool with_gateway_;
  DisplayContext display_;
  int64_t messages_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_MESSAGE_TABLE_H_
