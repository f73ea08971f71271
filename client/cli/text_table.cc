#include "client/cli/text_table.h"

#include <algorithm>
#include <utility>

#include "client/cli/terminal_text.h"

namespace mailfleet::cli {

TextTable::TextTable(std::vector<std::string> header, std::vector<Align> aligns)
    : aligns_(std::move(aligns)) {
  aligns_.resize(header.size(), Align::kLeft);
  rows_.push_back(std::move(header));
}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(aligns_.size());
  rows_.push_back(std::move(cells));
}

void TextTable::Append(std::string* out) const {
  std::vector<size_t> widths(aligns_.size(), 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], TextWidth(row[i]));
    }
  }
  for (const auto& row : rows_) {
    const size_t line_start = out->size();
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out->append("  ");
      const size_t pad = widths[i] - TextWidth(row[i]);
      if (aligns_[i] == Align::kRight) out->append(pad, ' ');
      AppendSanitized(row[i], out);
      if (aligns_[i] == Align::kLeft) out->append(pad, ' ');
    }
    // No trailing blanks from a short last column.
    size_t end = out->size();
    while (end > line_start && (*out)[end - 1] == ' ') --end;
    out->resize(end);
    out->push_back('\n');
  }
}

void AppendLabeledLine(absl::string_view key, absl::string_view value,
                       size_t key_width, std::string* out) {
  out->append(key.data(), key.size());
  out->push_back(':');
  out->append(key.size() < key_width ? key_width - key.size() + 1 : 1, ' ');
  AppendSanitized(value, out);
  out->push_back('\n');
}

}  // namespace mailfleet::cli
