// A small aligned table for short, bounded listings (summary sections,
// later the gateway list): rows are held until printed so that each column
// is as wide as its widest cell. Streaming listings use MessageTable.
#ifndef MAILFLEET_CLIENT_CLI_TEXT_TABLE_H_
#define MAILFLEET_CLIENT_CLI_TEXT_TABLE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace mailfleet::cli {

class TextTable {
 public:
  enum class Align { kLeft, kRight };

  // One entry per column; the header is the first row.
  TextTable(std::vector<std::string> header, std::vector<Align> aligns);

  // Cells are sanitized when printed; missing cells print empty.
  void AddRow(std::vector<std::string> cells);
  bool empty() const { return rows_.size() <= 1; }

  // Columns separated by two spaces, no trailing blanks.
  void Append(std::string* out) const;

 private:
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

// "key:" padded to `key_width` + 2 columns, then the sanitized value and a
// newline: the aligned `key: value` lines of `show` and `summary`.
void AppendLabeledLine(absl::string_view key, absl::string_view value,
                       size_t key_width, std::string* out);

}  // namespace mailfleet::cli

#endif  // MAILFLEET_CLIENT_CLI_TEXT_TABLE_H_
