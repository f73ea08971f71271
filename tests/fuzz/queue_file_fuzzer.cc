// Fuzzes the Postfix queue-file record parser the way the agent uses it: the
// envelope as showq reads it, the content as `postcat -bh` prints it, and the
// record reader alone with a tiny window so that records straddle refills.
// The input is the whole queue file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "agent/postfix/address_format.h"
#include "agent/postfix/queue_file.h"
#include "agent/postfix/record_reader.h"
#include "tests/testing/fake_filesystem.h"

namespace {

using ::mailfleet::testing::StringFile;
namespace postfix = ::mailfleet::postfix;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);

  StringFile envelope_file(bytes);
  absl::StatusOr<postfix::QueueFileEnvelope> env =
      postfix::ReadEnvelope(envelope_file, size);
  // A file in memory has no I/O errors: every problem is a format problem,
  // reported in `error` beside what was read before it.
  Check(env.ok());
  Check(env->recipients.size() <= 4 * size / 2);
  std::string quoted;
  for (const postfix::EnvelopeRecipient& r : env->recipients) {
    postfix::QuoteLocalPartInto(r.address, &quoted);
    postfix::QuoteLocalPartInto(r.orig_address, &quoted);
  }
  postfix::QuoteLocalPartInto(env->sender, &quoted);

  StringFile content_file(bytes);
  size_t content_bytes = 0;
  absl::Status content =
      postfix::ReadContent(content_file, size, [&](absl::string_view chunk) {
        Check(!chunk.empty() && chunk.size() <= postfix::kContentChunkBytes);
        content_bytes += chunk.size();
        return absl::OkStatus();
      });
  Check(content.ok() || absl::IsDataLoss(content));
  // Every content byte comes from a record (plus one newline per record,
  // each at least two bytes long), and pointers may make the reader read a
  // damaged file's bytes at most 4 times over: loops must not multiply them.
  Check(content_bytes <= 4 * size);

  StringFile record_file(bytes);
  postfix::RecordReader reader(&record_file, size, /*window=*/3);
  uint64_t record_bytes = 0;
  for (;;) {
    absl::StatusOr<postfix::Record> r = reader.Next();
    if (!r.ok()) {
      Check(absl::IsNotFound(r.status()) || absl::IsDataLoss(r.status()));
      break;
    }
    Check(r->end_offset <= size && r->data.size() < r->end_offset);
    record_bytes += r->data.size();
    Check(record_bytes <= 4 * size);
  }
  return 0;
}
