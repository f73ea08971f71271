#include "tests/e2e/support/smtp_sender.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"

namespace mailfleet::testing {
namespace {

// Long enough for a cleanup(8) process that is fsync-bound under load.
constexpr int kIoTimeoutSeconds = 120;

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

bool HasEightBitBytes(const std::string& data) {
  return std::any_of(data.begin(), data.end(), [](char c) {
    return static_cast<unsigned char>(c) > 127;
  });
}

struct Reply {
  int code = 0;
  std::string text;  // every line of the reply, joined by spaces
};

// One SMTP session. Not thread-safe; each sending thread owns one.
class SmtpConnection {
 public:
  SmtpConnection() = default;
  SmtpConnection(const SmtpConnection&) = delete;
  SmtpConnection& operator=(const SmtpConnection&) = delete;
  ~SmtpConnection() {
    if (fd_ >= 0) close(fd_);
  }

  // Connects, reads the greeting and sends EHLO.
  absl::Status Open(int port);
  // One mail transaction; `reset_first` sends RSET before MAIL FROM.
  absl::Status Send(const TestMessage& message, bool reset_first);
  // Polite goodbye; failures do not matter any more at this point.
  void Quit();

 private:
  absl::Status Write(absl::string_view bytes);
  absl::StatusOr<Reply> ReadReply();
  absl::StatusOr<std::string> ReadLine();
  // Reads one reply and checks that its code is `want` (or 2xx if want==2).
  absl::Status Expect(absl::string_view command, int want);

  int fd_ = -1;
  std::string buffer_;
  bool pipelining_ = false;
  bool eight_bit_mime_ = false;
};

absl::Status SmtpConnection::Open(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return ErrnoStatus("socket");
  timeval tv{kIoTimeoutSeconds, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  // Commands are written in one piece each; Nagle would only add latency.
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoStatus(absl::StrCat("connect to 127.0.0.1:", port));
  }
  MF_RETURN_IF_ERROR(Expect("greeting", 220));
  MF_RETURN_IF_ERROR(Write("EHLO mailfleet-test.localdomain\r\n"));
  MF_ASSIGN_OR_RETURN(Reply ehlo, ReadReply());
  if (ehlo.code != 250) {
    return absl::FailedPreconditionError(
        absl::StrCat("EHLO answered '", ehlo.text, "'"));
  }
  // Keywords come one per reply line; the text was joined with spaces, and
  // no keyword is a prefix of another one we look for.
  std::string upper = absl::AsciiStrToUpper(ehlo.text);
  pipelining_ = absl::StrContains(upper, "PIPELINING");
  eight_bit_mime_ = absl::StrContains(upper, "8BITMIME");
  return absl::OkStatus();
}

absl::Status SmtpConnection::Send(const TestMessage& message,
                                  bool reset_first) {
  std::vector<std::string> commands;
  if (reset_first) commands.push_back("RSET");
  std::string mail = absl::StrCat("MAIL FROM:<", message.sender, ">");
  if (eight_bit_mime_ && HasEightBitBytes(message.data)) {
    absl::StrAppend(&mail, " BODY=8BITMIME");
  }
  commands.push_back(std::move(mail));
  for (const std::string& rcpt : message.recipients) {
    commands.push_back(absl::StrCat("RCPT TO:<", rcpt, ">"));
  }
  commands.push_back("DATA");
  if (pipelining_) {
    // One write and one round trip for the whole envelope (RFC 2920).
    MF_RETURN_IF_ERROR(
        Write(absl::StrCat(absl::StrJoin(commands, "\r\n"), "\r\n")));
    for (size_t i = 0; i < commands.size(); ++i) {
      MF_RETURN_IF_ERROR(
          Expect(commands[i], i + 1 == commands.size() ? 354 : 2));
    }
  } else {
    for (size_t i = 0; i < commands.size(); ++i) {
      MF_RETURN_IF_ERROR(Write(absl::StrCat(commands[i], "\r\n")));
      MF_RETURN_IF_ERROR(
          Expect(commands[i], i + 1 == commands.size() ? 354 : 2));
    }
  }
  MF_RETURN_IF_ERROR(Write(DotStuffedData(message.data)));
  return Expect("end of data", 250);
}

void SmtpConnection::Quit() {
  if (Write("QUIT\r\n").ok()) (void)ReadReply();
}

absl::Status SmtpConnection::Write(absl::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("send");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SmtpConnection::ReadLine() {
  while (true) {
    size_t end = buffer_.find("\r\n");
    if (end != std::string::npos) {
      std::string line = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      return line;
    }
    char chunk[4096];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      return absl::UnavailableError("server closed the connection");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return absl::DeadlineExceededError(
          absl::StrCat("no reply within ", kIoTimeoutSeconds, " seconds"));
    } else if (errno != EINTR) {
      return ErrnoStatus("recv");
    }
  }
}

absl::StatusOr<Reply> SmtpConnection::ReadReply() {
  Reply reply;
  while (true) {
    MF_ASSIGN_OR_RETURN(std::string line, ReadLine());
    if (line.size() < 3 || !absl::ascii_isdigit(line[0]) ||
        !absl::ascii_isdigit(line[1]) || !absl::ascii_isdigit(line[2]) ||
        (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      return absl::DataLossError(absl::StrCat("malformed reply '", line, "'"));
    }
    reply.code = std::stoi(line.substr(0, 3));
    absl::StrAppend(&reply.text, reply.text.empty() ? "" : " ", line);
    if (line.size() == 3 || line[3] == ' ') return reply;
  }
}

absl::Status SmtpConnection::Expect(absl::string_view command, int want) {
  MF_ASSIGN_OR_RETURN(Reply reply, ReadReply());
  bool ok = want < 10 ? reply.code / 100 == want : reply.code == want;
  if (!ok) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", command, "' answered '", reply.text, "'"));
  }
  return absl::OkStatus();
}

std::string Describe(const TestMessage& message, size_t index) {
  return absl::StrCat("message #", index, " (from <", message.sender, "> to <",
                      absl::StrJoin(message.recipients, ">, <"), ">)");
}

struct Failure {
  size_t index = 0;
  absl::Status status;
};

// Sends messages first, first + stride, ... over one connection. Stops early
// when another thread failed.
Failure SendShare(int port, const std::vector<TestMessage>& messages,
                  size_t first, size_t stride, const std::atomic<bool>& stop) {
  SmtpConnection connection;
  if (absl::Status s = connection.Open(port); !s.ok()) {
    return {first, absl::Status(s.code(), absl::StrCat("opening SMTP session: ",
                                                       s.message()))};
  }
  for (size_t i = first; i < messages.size() && !stop; i += stride) {
    absl::Status s = connection.Send(messages[i], i != first);
    if (!s.ok()) {
      return {i, absl::Status(s.code(), absl::StrCat(Describe(messages[i], i),
                                                     ": ", s.message()))};
    }
  }
  connection.Quit();
  return {};
}

}  // namespace

std::string DotStuffedData(const std::string& data) {
  std::string out;
  out.reserve(data.size() + data.size() / 64 + 8);
  bool line_start = true;
  for (char c : data) {
    if (line_start && c == '.') out.push_back('.');
    out.push_back(c);
    line_start = c == '\n';
  }
  if (!absl::EndsWith(out, "\r\n")) out.append("\r\n");
  out.append(".\r\n");
  return out;
}

absl::Status SendMessages(int port, const std::vector<TestMessage>& messages,
                          int connections) {
  if (messages.empty()) return absl::OkStatus();
  size_t threads = std::clamp<size_t>(connections, 1, messages.size());
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  Failure first_failure;  // lowest message index wins, for stable reports
  bool failed = false;
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Failure f = SendShare(port, messages, t, threads, stop);
      if (f.status.ok()) return;
      stop = true;
      absl::MutexLock lock(&mu);
      if (!failed || f.index < first_failure.index) first_failure = f;
      failed = true;
    });
  }
  for (std::thread& w : workers) w.join();
  return failed ? first_failure.status : absl::OkStatus();
}

}  // namespace mailfleet::testing
