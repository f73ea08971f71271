#include "agent/mpa/spool_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "agent/mpa/spool_reader.h"
#include "common/os/filesystem.h"
#include "common/status_macros.h"

namespace mailfleet::mpa {
namespace {

absl::Status PosixError(absl::string_view op, absl::string_view path, int err) {
  std::string msg = absl::StrCat(op, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EEXIST) return absl::AlreadyExistsError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

absl::Status EnsureDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    return absl::OkStatus();
  }
  return PosixError("mkdir", path, errno);
}

// Creates or truncates `path` and writes all of `bytes`; NOT_FOUND when
// the directory is missing, so that callers can create it and try again.
absl::Status WriteFile(const std::string& path, absl::string_view bytes) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
           0600);
  if (fd < 0) return PosixError("open", path, errno);
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return PosixError("write", path, err);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  if (close(fd) != 0) return PosixError("close", path, errno);
  return absl::OkStatus();
}

absl::Status CheckQueue(QueueKind queue) {
  if (!SpoolDirName(queue).empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "queue ", QueueKindName(queue), " is not one of the MPA spool's"));
}

bool IsPathComponent(absl::string_view s) {
  return !s.empty() && s != "." && s != ".." &&
         s.find_first_of(absl::string_view("/\0", 2)) ==
             absl::string_view::npos;
}

}  // namespace

SpoolWriter::SpoolWriter(std::string root) : root_(std::move(root)) {}

absl::Status SpoolWriter::Publish(absl::string_view name,
                                  absl::string_view bytes,
                                  const std::string& target) {
  const std::string tmp_dir = absl::StrCat(root_, "/tmp");
  const std::string tmp = absl::StrCat(tmp_dir, "/", name);
  absl::Status written = WriteFile(tmp, bytes);
  // Directories are made only when missing: three mkdir(2) per item would
  // cost as much as writing it.
  if (absl::IsNotFound(written)) {
    MF_RETURN_IF_ERROR(EnsureDir(root_));
    MF_RETURN_IF_ERROR(EnsureDir(tmp_dir));
    written = WriteFile(tmp, bytes);
  }
  MF_RETURN_IF_ERROR(written);
  int renamed = rename(tmp.c_str(), target.c_str());
  if (renamed != 0 && errno == ENOENT) {
    absl::Status made = EnsureDir(target.substr(0, target.rfind('/')));
    if (!made.ok()) {
      unlink(tmp.c_str());
      return made;
    }
    renamed = rename(tmp.c_str(), target.c_str());
  }
  if (renamed != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return PosixError(absl::StrCat("rename ", tmp, " to"), target, err);
  }
  return absl::OkStatus();
}

absl::Status SpoolWriter::Write(QueueKind queue, absl::string_view id,
                                const SpoolEnvelope& envelope,
                                absl::string_view content) {
  MF_RETURN_IF_ERROR(ValidateSpoolId(id));
  MF_RETURN_IF_ERROR(CheckQueue(queue));
  const std::string eml = SpoolItemPath(root_, queue, id, ".eml");
  struct stat st;
  if (lstat(eml.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(absl::StrCat("MPA item ", eml, " exists"));
  }
  const std::string env = SpoolItemPath(root_, queue, id, ".env");
  MF_RETURN_IF_ERROR(
      Publish(absl::StrCat(id, ".env"), FormatSpoolEnvelope(envelope), env));
  // The .eml last: from this rename on the item exists, complete.
  absl::Status published = Publish(absl::StrCat(id, ".eml"), content, eml);
  if (!published.ok()) unlink(env.c_str());
  return published;
}

absl::Status SpoolWriter::Move(QueueKind from, QueueKind to,
                               absl::string_view id,
                               const EnvelopeChange& change) {
  MF_RETURN_IF_ERROR(ValidateSpoolId(id));
  MF_RETURN_IF_ERROR(CheckQueue(from));
  MF_RETURN_IF_ERROR(CheckQueue(to));
  if (from == to) {
    return absl::InvalidArgumentError(
        absl::StrCat("MPA item ", id, " is already in ", SpoolDirName(to)));
  }
  const std::string from_eml = SpoolItemPath(root_, from, id, ".eml");
  const std::string from_env = SpoolItemPath(root_, from, id, ".env");
  const std::string to_eml = SpoolItemPath(root_, to, id, ".eml");
  const std::string to_env = SpoolItemPath(root_, to, id, ".env");
  struct stat st;
  if (lstat(from_eml.c_str(), &st) != 0) {
    return PosixError("lstat", from_eml, errno);
  }
  RealFilesystem fs;
  std::string text;
  MF_RETURN_IF_ERROR(fs.ReadFile(from_env, kMaxEnvelopeBytes + 1, &text));
  absl::StatusOr<SpoolEnvelope> envelope = ParseSpoolEnvelope(text);
  if (!envelope.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("MPA item ", from_env,
                     " has a damaged envelope: ", envelope.status().message()));
  }
  if (change.error) envelope->error = *change.error;
  if (change.attempts) envelope->attempts = *change.attempts;
  MF_RETURN_IF_ERROR(Publish(absl::StrCat(id, ".env"),
                             FormatSpoolEnvelope(*envelope), to_env));
  // Both queues hold an .env now and the .eml crosses in one rename: the
  // item is complete in `from` up to this instant and in `to` after it.
  if (rename(from_eml.c_str(), to_eml.c_str()) != 0) {
    const int err = errno;
    unlink(to_env.c_str());
    return PosixError(absl::StrCat("rename ", from_eml, " to"), to_eml, err);
  }
  if (unlink(from_env.c_str()) != 0 && errno != ENOENT) {
    return PosixError(absl::StrCat("MPA item ", id, " moved to ",
                                   SpoolDirName(to), ", but unlink"),
                      from_env, errno);
  }
  return absl::OkStatus();
}

absl::Status SpoolWriter::Remove(QueueKind queue, absl::string_view id) {
  MF_RETURN_IF_ERROR(ValidateSpoolId(id));
  MF_RETURN_IF_ERROR(CheckQueue(queue));
  const std::string eml = SpoolItemPath(root_, queue, id, ".eml");
  const std::string env = SpoolItemPath(root_, queue, id, ".env");
  // The .eml first: once it is gone, so is the item.
  if (unlink(eml.c_str()) != 0) return PosixError("unlink", eml, errno);
  if (unlink(env.c_str()) != 0 && errno != ENOENT) {
    return PosixError("unlink", env, errno);
  }
  return absl::OkStatus();
}

absl::Status SpoolWriter::WriteRaw(absl::string_view dir,
                                   absl::string_view name,
                                   absl::string_view bytes) {
  if (!IsPathComponent(dir) || !IsPathComponent(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", absl::CHexEscape(dir), "/", absl::CHexEscape(name),
                     "\" is not a directory and a file name"));
  }
  const std::string path = absl::StrCat(root_, "/", dir);
  MF_RETURN_IF_ERROR(EnsureDir(root_));
  MF_RETURN_IF_ERROR(EnsureDir(path));
  return WriteFile(absl::StrCat(path, "/", name), bytes);
}

absl::Status WriteDamagedItems(SpoolWriter& writer, QueueKind queue) {
  MF_RETURN_IF_ERROR(CheckQueue(queue));
  const std::string dir(SpoolDirName(queue));
  const std::string eml =
      "From: alice@example.com\r\nTo: bob@partner.example\r\n"
      "Subject: damaged\r\n\r\nbody\r\n";
  const std::string good_env =
      "sender: alice@example.com\nrecipient: bob@partner.example\n"
      "received: 2025-11-30T08:00:00Z\n";
  const struct {
    const char* dir;
    const char* name;
    std::string bytes;
  } files[] = {
      {dir.c_str(), "damaged-no-env.eml", eml},
      {dir.c_str(), "damaged-truncated-env.env",
       "sender: alice@example.com\nrecipient: bob@partner.example\nrecei"},
      {dir.c_str(), "damaged-truncated-env.eml", eml},
      {dir.c_str(), "damaged-bad-received.env",
       "sender: alice@example.com\nrecipient: bob@partner.example\n"
       "received: yesterday\n"},
      {dir.c_str(), "damaged-bad-received.eml", eml},
      {dir.c_str(), "damaged-no-recipient.env",
       "sender: alice@example.com\nreceived: 2025-11-30T08:00:00Z\n"},
      {dir.c_str(), "damaged-no-recipient.eml", eml},
      {dir.c_str(), "damaged-env-only.env", good_env},
      {dir.c_str(), "bad id.env", good_env},
      {dir.c_str(), "bad id.eml", eml},
      {"tmp", "damaged-in-tmp.env", good_env},
      {"tmp", "damaged-in-tmp.eml", eml},
  };
  for (const auto& f : files) {
    MF_RETURN_IF_ERROR(writer.WriteRaw(f.dir, f.name, f.bytes));
  }
  return absl::OkStatus();
}

namespace {

// SplitMix64: tiny, and the same numbers on every platform and library
// (std::uniform_int_distribution is not), so a seed names one spool.
class SampleRandom {
 public:
  SampleRandom(uint64_t seed, int64_t index)
      : state_(seed * 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(index)) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  template <size_t N>
  const char* Pick(const char* const (&options)[N]) {
    return options[Below(N)];
  }

 private:
  uint64_t state_;
};

constexpr const char* kPeople[] = {
    "alice", "bob",    "carol",  "dave",     "erin",    "frank",
    "grace", "heidi",  "ivan",   "judy",     "oscar",   "peggy",
    "trent", "victor", "walter", "invoices", "noreply", "hr"};
// The gateway's own domain, and the partners it exchanges mail with.
constexpr char kOwnDomain[] = "example.com";
constexpr const char* kPartnerDomains[] = {
    "partner.example", "bank.example.net", "example.org", "customer.example.de",
    "supplier.example.co.uk"};
constexpr const char* kSubjects[] = {"Invoice 2025-11-#",
                                     "Re: contract draft v3",
                                     "Quarterly report Q3",
                                     "Payroll November",
                                     "Your order # has shipped",
                                     "Meeting notes",
                                     "Confidential: audit findings",
                                     "Re: Re: delivery schedule"};
constexpr const char* kParagraphs[] = {
    "Please find attached the documents we discussed on the phone. Let me\r\n"
    "know if anything is missing before the end of the week.\r\n",
    "The payment is due within 30 days of the invoice date. Bank details\r\n"
    "are unchanged; please quote the invoice number with the transfer.\r\n",
    "As agreed, the revised schedule moves the first delivery to Monday.\r\n"
    "The remaining items follow in two shipments.\r\n",
    "This message may contain confidential information. If you are not\r\n"
    "the intended recipient, please tell the sender and delete it.\r\n",
    "Best regards,\r\nthe accounts team\r\n",
};
constexpr const char* kTemplates[] = {"partner-tls", "smime-default",
                                      "pgp-legal", "invoice-sign"};
constexpr const char* kDlpPolicies[] = {"pci", "gdpr-export", "source-code"};

std::string Address(SampleRandom& r, const char* domain) {
  return absl::StrCat(r.Pick(kPeople), "@", domain);
}

std::string Base64Lines(SampleRandom& r, size_t bytes) {
  std::string raw(bytes, '\0');
  for (char& c : raw) c = static_cast<char>(r.Next());
  const std::string b64 = absl::Base64Escape(raw);
  std::string out;
  for (size_t i = 0; i < b64.size(); i += 76) {
    absl::StrAppend(&out, b64.substr(i, 76), "\r\n");
  }
  return out;
}

std::string Content(SampleRandom& r, const SampleItem& item, int64_t index) {
  const SpoolEnvelope& env = item.envelope;
  const size_t target = 1024 + r.Below(7 * 1024);
  const bool bounce = env.sender.empty();
  const bool smime = !bounce && r.Below(4) == 0;
  const std::string subject = absl::StrReplaceAll(
      bounce ? "Undelivered Mail Returned to Sender" : r.Pick(kSubjects),
      {{"#", absl::StrCat(100000 + index % 900000)}});
  const std::string date = absl::FormatTime("%a, %d %b %Y %H:%M:%S %z",
                                            env.received, absl::UTCTimeZone());
  std::string out = absl::StrCat(
      "Received: from gw1.example.com (gw1.example.com [192.0.2.",
      10 + r.Below(40), "])\r\n\tby mpa.example.com with ESMTPS id ", item.id,
      ";\r\n\t", date, "\r\n",
      "From: ", bounce ? "MAILER-DAEMON@gw1.example.com" : env.sender, "\r\n",
      "To: ", absl::StrJoin(env.recipients, ", "), "\r\n", "Subject: ", subject,
      "\r\n", "Date: ", date, "\r\n", "Message-ID: <", absl::Hex(r.Next()), ".",
      index, "@example.com>\r\n", "MIME-Version: 1.0\r\n");
  if (smime) {
    absl::StrAppend(
        &out,
        "Content-Type: application/pkcs7-mime; smime-type=enveloped-data;"
        " name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=smime.p7m\r\n\r\n");
    const size_t have = out.size();
    absl::StrAppend(
        &out, Base64Lines(r, target > have ? (target - have) * 3 / 4 : 64));
    return out;
  }
  absl::StrAppend(&out,
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n");
  while (out.size() < target) {
    absl::StrAppend(&out, r.Pick(kParagraphs), "\r\n");
  }
  return out;
}

}  // namespace

std::string SampleErrorReason(const SpoolEnvelope& envelope, uint64_t pick) {
  SampleRandom r(pick, 0);
  const std::string rcpt =
      envelope.recipients.empty()
          ? std::string("bob@partner.example")
          : envelope.recipients[r.Below(envelope.recipients.size())];
  switch (pick % 8) {
    case 0:
      return absl::StrCat("invalid template: encryption template '",
                          r.Pick(kTemplates), "' not found");
    case 1:
      return absl::StrCat("S/MIME: no certificate for recipient ", rcpt);
    case 2:
      return absl::StrCat("DLP: policy '", r.Pick(kDlpPolicies),
                          "' matched, quarantine required");
    case 3:
      return absl::StrCat("PGP: key expired for ", rcpt);
    case 4:
      return "decryption failed: unsupported content-type "
             "application/pkcs7-mime";
    case 5:
      return absl::StrCat(
          "S/MIME: signature verification failed: certificate of ",
          envelope.sender.empty() ? "MAILER-DAEMON" : envelope.sender,
          " revoked");
    case 6:
      return "key server keys.partner.example: timeout after 30 s";
    default:
      return "message too large for encryption: 31457280 bytes (limit "
             "26214400)";
  }
}

SampleItem MakeSampleItem(uint64_t seed, int64_t index, QueueKind queue) {
  SampleRandom r(seed, index);
  SampleItem item;
  item.id = absl::StrCat("mpa-", seed, "-", index);
  SpoolEnvelope& env = item.envelope;
  // Half the mail leaves the company, half comes in; a few are bounces.
  const bool outbound = r.Below(2) == 0;
  const char* partner = r.Pick(kPartnerDomains);
  if (r.Below(32) != 0) {
    env.sender = Address(r, outbound ? kOwnDomain : partner);
  }
  for (uint64_t i = 0, n = 1 + r.Below(3); i < n; ++i) {
    const char* domain = outbound ? r.Pick(kPartnerDomains) : kOwnDomain;
    std::string rcpt = Address(r, domain);
    bool seen = false;
    for (const std::string& have : env.recipients) seen = seen || have == rcpt;
    if (!seen) env.recipients.push_back(std::move(rcpt));
  }
  env.received = kSampleEpoch + absl::Seconds(index) -
                 absl::Milliseconds(static_cast<int64_t>(r.Below(600000)));
  if (queue == QueueKind::kMpaError || queue == QueueKind::kMpaRespool) {
    env.error = SampleErrorReason(env, r.Next());
    env.attempts = 1 + static_cast<int64_t>(r.Below(5));
  }
  item.content = Content(r, item, index);
  return item;
}

}  // namespace mailfleet::mpa
