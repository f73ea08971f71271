#include "agent/postfix/queue_file.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "agent/postfix/record_reader.h"

namespace mailfleet::postfix {
namespace {

// Postfix's atol(): leading blanks, optional sign, digits; stops at the
// first other byte, 0 when there is no number.
int64_t LeadingNumber(absl::string_view s) {
  std::string copy(s.substr(0, 64));
  return std::strtoll(copy.c_str(), nullptr, 10);
}

// showq accepts a size record only if it holds digits and blanks alone.
bool IsDigitsAndSpaces(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && c != ' ') return false;
  }
  return true;
}

// Postfix handles record data as C strings: whatever follows a NUL is not
// there for showq.
absl::string_view CString(absl::string_view data) {
  return data.substr(0, data.find('\0'));
}

void ParseArrival(absl::string_view data, QueueFileEnvelope& env) {
  env.arrival_seconds = LeadingNumber(data);
  std::vector<absl::string_view> parts =
      absl::StrSplit(data, ' ', absl::SkipEmpty());
  int64_t usec = 0;
  if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &usec) && usec >= 0 &&
      usec < 1000000) {
    env.arrival_micros = usec;
  }
}

// Named attributes are "name=value" with blanks around either trimmed.
void ParseAttribute(absl::string_view data, QueueFileEnvelope& env,
                    bool& have_log_client) {
  size_t eq = data.find('=');
  if (eq == absl::string_view::npos) return;
  absl::string_view name = absl::StripAsciiWhitespace(data.substr(0, eq));
  absl::string_view value = absl::StripAsciiWhitespace(data.substr(eq + 1));
  if (name == "log_client_address") {
    env.client_address = std::string(value);
    have_log_client = true;
  } else if (name == "client_address" && !have_log_client) {
    env.client_address = std::string(value);
  }
}

}  // namespace

absl::StatusOr<QueueFileEnvelope> ReadEnvelope(RandomAccessFile& file,
                                               uint64_t file_size) {
  QueueFileEnvelope env;
  RecordReader reader(&file, file_size);
  bool have_log_client = false;
  std::string pending_orig;
  bool have_orig = false;
  for (;;) {
    absl::StatusOr<Record> r = reader.Next();
    if (!r.ok()) {
      if (absl::IsNotFound(r.status())) {
        if (!reader.saw_end()) env.error = "file ends before its end record";
        break;
      }
      if (absl::IsDataLoss(r.status())) {
        env.error = std::string(r.status().message());
        break;
      }
      return r.status();
    }
    if (r->type == 0) {
      // showq's loop ends at a record type of zero, as at end of file.
      env.error = "record of type 0";
      break;
    }
    const absl::string_view data = CString(r->data);
    switch (r->type) {
      case rec::kTime:
        if (env.arrival_seconds == 0) ParseArrival(data, env);
        break;
      case rec::kSize:
        if (!env.size_ok && IsDigitsAndSpaces(data)) {
          int64_t size = LeadingNumber(data);
          if (size >= 0) {
            env.size_ok = true;
            env.content_size = size;
          }
        }
        break;
      case rec::kFrom:
        if (env.sender_seen) {
          env.error = "duplicate sender record";
          return env;
        }
        env.sender_seen = true;
        env.sender = std::string(data);
        break;
      case rec::kOrigRcpt:
        pending_orig = std::string(data);
        have_orig = true;
        break;
      case rec::kRcpt:
        if (!env.sender_seen) {
          env.error = "recipient record before the sender record";
          return env;
        }
        env.recipients.push_back(
            {std::string(data), have_orig ? std::move(pending_orig) : ""});
        have_orig = false;
        pending_orig.clear();
        break;
      case rec::kAttr:
        ParseAttribute(data, env, have_log_client);
        break;
      case rec::kMesg:
        // Skip the content: field 1 of the size record is its length, so
        // the extracted segment starts right behind it.
        if (env.size_ok) reader.Seek(reader.position() + env.content_size);
        break;
      default:
        // 'D'one and '/' canceled recipients consume the pending original
        // address as an 'R' would.
        if (r->type == 'D' || r->type == '/') {
          have_orig = false;
          pending_orig.clear();
        }
        break;
    }
    if (r->type == rec::kEnd) break;
  }
  return env;
}

absl::Status ReadContent(
    RandomAccessFile& file, uint64_t file_size,
    const std::function<absl::Status(absl::string_view)>& sink) {
  RecordReader reader(&file, file_size, kContentChunkBytes);
  bool in_content = false;
  std::string chunk;
  chunk.reserve(kContentChunkBytes);
  auto emit = [&](absl::string_view data) -> absl::Status {
    while (!data.empty()) {
      size_t room = kContentChunkBytes - chunk.size();
      size_t take = std::min(room, data.size());
      chunk.append(data.data(), take);
      data.remove_prefix(take);
      if (chunk.size() == kContentChunkBytes) {
        absl::Status s = sink(chunk);
        if (!s.ok()) return s;
        chunk.clear();
      }
    }
    return absl::OkStatus();
  };
  for (;;) {
    absl::StatusOr<Record> r = reader.Next();
    if (!r.ok()) {
      if (absl::IsNotFound(r.status())) {
        return absl::DataLossError("queue file ends inside the message content");
      }
      return r.status();
    }
    if (!in_content) {
      if (r->type == rec::kMesg) in_content = true;
      if (r->type == rec::kEnd) {
        return absl::DataLossError("queue file has no message content");
      }
      continue;
    }
    if (r->type == rec::kNorm) {
      absl::Status s = emit(r->data);
      if (s.ok()) s = emit("\n");
      if (!s.ok()) return s;
    } else if (r->type == rec::kCont) {
      absl::Status s = emit(r->data);
      if (!s.ok()) return s;
    } else if (r->type == rec::kXtra || r->type == rec::kEnd) {
      break;
    }
  }
  if (!chunk.empty()) return sink(chunk);
  return absl::OkStatus();
}

}  // namespace mailfleet::postfix
