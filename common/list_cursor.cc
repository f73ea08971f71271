#include "common/list_cursor.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace mailfleet {

std::string EncodePageToken(const ListCursor& cursor) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(cursor.arrival_us, ":",
                   cursor.source == QueueSource::kMpa ? "m" : "p", ":",
                   cursor.queue_id));
}

}  // namespace mailfleet
