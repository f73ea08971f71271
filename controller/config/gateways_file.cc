#include "controller/config/gateways_file.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/config/quote.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "mailfleet/v1/gateways.pb.h"
#include "re2/re2.h"

namespace mailfleet::controller {
namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::TextFormat;

// Past this many, a file is better fixed from the first errors.
constexpr size_t kMaxReportedErrors = 20;

// Keeps the first syntax error; TextFormat stops at it anyway.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(absl::string_view source) : source_(source) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.empty()) return;
    error_ =
        absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message);
  }

  const std::string& error() const { return error_; }

 private:
  absl::string_view source_;
  std::string error_;
};

std::string BadAddress(absl::string_view address, absl::string_view problem) {
  return absl::StrCat(
      "address ", Quote(address), " ", problem,
      ": expected host:port (a DNS name, IPv4 or [IPv6] address, a port "
      "from 1 to 65535; no URI scheme such as dns: or unix:)");
}

// Empty if `address` is a valid host:port, else what is wrong with it.
std::string AddressProblem(absl::string_view address) {
  static const RE2* const kPort = new RE2("[0-9]{1,5}");
  static const RE2* const kDigitsAndDots = new RE2("[0-9.]+");
  static const RE2* const kIpv4 =
      new RE2(R"((?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))"
              R"((?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})");
  // RFC 1123 labels; an absolute name may end in a dot.
  static const RE2* const kDnsName =
      new RE2(R"([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
              R"((?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?)");
  auto matches = [](absl::string_view s, const RE2& re) {
    return RE2::FullMatch(re2::StringPiece(s.data(), s.size()), re);
  };

  absl::string_view host;
  absl::string_view port;
  bool ipv6 = !address.empty() && address[0] == '[';
  if (ipv6) {
    size_t close = address.find(']');
    if (close == absl::string_view::npos)
      return BadAddress(address, "has no ']'");
    host = address.substr(1, close - 1);
    absl::string_view rest = address.substr(close + 1);
    if (rest.empty() || rest[0] != ':')
      return BadAddress(address, "has no port");
    port = rest.substr(1);
  } else {
    size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) {
      return BadAddress(address, "has no port");
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  int port_number = 0;
  if (!matches(port, *kPort) || !absl::SimpleAtoi(port, &port_number) ||
      port_number < 1 || port_number > 65535) {
    return BadAddress(address,
                      absl::StrCat("has an invalid port ", Quote(port)));
  }
  if (host.empty()) return BadAddress(address, "has no host");
  if (ipv6) {
    in6_addr parsed;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &parsed) != 1) {
      return BadAddress(address, "has an invalid IPv6 address");
    }
  } else if (matches(host, *kDigitsAndDots)) {
    if (!matches(host, *kIpv4)) {
      return BadAddress(address, "has an invalid IPv4 address");
    }
  } else if (host.size() > 253 || !matches(host, *kDnsName)) {
    return BadAddress(address, "has an invalid host name");
  }
  return "";
}

// One gateway's validation: the errors go to `errors`, each prefixed with
// the position of the field at fault.
class GatewayChecker {
 public:
  GatewayChecker(absl::string_view source, std::vector<std::string>* errors)
      : source_(source), errors_(errors) {}

  // `gateway` is `config`, converted; `index` its place in the file.
  void Check(const v1::GatewayConfig& config, const Gateway& gateway, int index,
             const TextFormat::ParseInfoTree& tree) {
    const auto* file_desc = v1::GatewaysFile::descriptor();
    const auto* desc = v1::GatewayConfig::descriptor();
    const FieldDescriptor* gateway_field =
        file_desc->FindFieldByName("gateway");
    const FieldDescriptor* name_field = desc->FindFieldByName("name");
    const FieldDescriptor* address_field = desc->FindFieldByName("address");
    const FieldDescriptor* labels_field = desc->FindFieldByName("labels");
    const TextFormat::ParseLocation block =
        tree.GetLocation(gateway_field, index);
    const TextFormat::ParseInfoTree* fields =
        tree.GetTreeForNested(gateway_field, index);
    auto at = [&](const FieldDescriptor* field) {
      TextFormat::ParseLocation loc =
          fields == nullptr ? block : fields->GetLocation(field, -1);
      return loc.line < 0 ? block : loc;
    };

    static const RE2* const kName = new RE2("[A-Za-z0-9._-]{1,64}");
    const std::string& name = gateway.name;
    bool name_ok = RE2::FullMatch(name, *kName);
    who_ = name_ok ? absl::StrCat("gateway ", Quote(name))
                   : absl::StrCat("gateway #", index + 1);
    if (name.empty()) {
      Report(at(name_field), "has no name");
    } else if (!name_ok) {
      Report(at(name_field),
             absl::StrCat("name ", Quote(name),
                          " is invalid: expected [A-Za-z0-9._-]{1,64}"));
    } else if (!names_.insert(name).second) {
      Report(at(name_field), "the name is already used by an earlier gateway");
    }

    const std::string& address = gateway.address;
    if (address.empty()) {
      Report(at(address_field), "has no address");
    } else if (std::string problem = AddressProblem(address);
               !problem.empty()) {
      Report(at(address_field), problem);
    } else {
      auto [it, inserted] =
          addresses_.emplace(absl::AsciiStrToLower(address), who_);
      if (!inserted) {
        Report(at(address_field),
               absl::StrCat("has the address ", Quote(address), " of ",
                            it->second, ": one agent cannot be two gateways"));
      }
    }

    // Text format lets a later map entry silently replace an earlier one
    // with the same key: almost always a mistake in a config file.
    int written = 0;
    while (fields != nullptr &&
           fields->GetLocation(labels_field, written).line >= 0) {
      ++written;
    }
    if (written > static_cast<int>(gateway.labels.size())) {
      Report(block, absl::StrCat("has a label ", RepeatedLabelKey(config),
                                 "more than once"));
    }
    for (const auto& [key, value] : gateway.labels) {
      absl::Status s = ValidateLabelKey(key);
      if (s.ok()) s = ValidateLabelValue(value);
      if (!s.ok()) Report(block, std::string(s.message()));
    }
  }

 private:
  // "key 'K' ", naming the first key written twice, where the map's
  // repeated view (the order written, in protobuf 3.21) shows it.
  static std::string RepeatedLabelKey(const v1::GatewayConfig& config) {
    const auto* reflection = config.GetReflection();
    const FieldDescriptor* labels_field =
        config.GetDescriptor()->FindFieldByName("labels");
    std::set<std::string> seen;
    for (int i = 0; i < reflection->FieldSize(config, labels_field); ++i) {
      const auto& entry =
          reflection->GetRepeatedMessage(config, labels_field, i);
      std::string key = entry.GetReflection()->GetString(
          entry, entry.GetDescriptor()->map_key());
      if (!seen.insert(key).second)
        return absl::StrCat("key ", Quote(key), " ");
    }
    return "key ";
  }

  void Report(TextFormat::ParseLocation at, absl::string_view problem) {
    errors_->push_back(absl::StrCat(source_, ":", at.line + 1, ":",
                                    at.column + 1, ": ", who_, ": ", problem));
  }

  absl::string_view source_;
  std::vector<std::string>* errors_;
  std::string who_;
  std::set<std::string> names_;
  // Lowercased address -> "gateway 'NAME'" (or "gateway #N").
  std::map<std::string, std::string> addresses_;
};

absl::Status FileError(absl::string_view op, const std::string& path, int err) {
  std::string message = absl::StrCat(op, " ", path, ": ", std::strerror(err));
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) {
    return absl::PermissionDeniedError(message);
  }
  return absl::FailedPreconditionError(message);
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  // O_NONBLOCK: a FIFO in the file's place fails below instead of hanging a
  // SIGHUP reload.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return FileError("open", path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return FileError("fstat", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a regular file"));
  }
  std::string text;
  // One byte more than allowed tells a file at the limit from a larger one
  // (the size may change between fstat and read).
  text.resize(kMaxGatewaysFileBytes + 1);
  size_t have = 0;
  while (have < text.size()) {
    ssize_t r = read(fd, text.data() + have, text.size() - have);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      close(fd);
      return FileError("read", path, err);
    }
    if (r == 0) break;
    have += r;
  }
  close(fd);
  if (have > kMaxGatewaysFileBytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is larger than ", kMaxGatewaysFileBytes >> 20, " MiB"));
  }
  text.resize(have);
  return text;
}

}  // namespace

absl::StatusOr<std::vector<Gateway>> ParseGatewaysFile(
    absl::string_view text, absl::string_view source_name) {
  v1::GatewaysFile file;
  TextFormat::Parser parser;
  FirstErrorCollector collector(source_name);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &file)) {
    return absl::InvalidArgumentError(
        collector.error().empty()
            ? absl::StrCat(source_name, ": not a valid gateways file")
            : collector.error());
  }

  std::vector<std::string> errors;
  GatewayChecker checker(source_name, &errors);
  std::vector<Gateway> gateways;
  gateways.reserve(file.gateway_size());
  for (int i = 0; i < file.gateway_size(); ++i) {
    const v1::GatewayConfig& config = file.gateway(i);
    gateways.push_back(
        Gateway{config.name(), config.address(),
                Labels(config.labels().begin(), config.labels().end())});
    checker.Check(config, gateways.back(), i, tree);
  }
  if (!errors.empty()) {
    size_t more = errors.size() > kMaxReportedErrors
                      ? errors.size() - kMaxReportedErrors
                      : 0;
    errors.resize(errors.size() - more);
    if (more > 0) errors.push_back(absl::StrCat("... and ", more, " more"));
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  return gateways;
}

absl::StatusOr<std::vector<Gateway>> LoadGatewaysFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  return ParseGatewaysFile(*text, path);
}

GatewayChanges DiffGateways(const std::vector<Gateway>& before,
                            const std::vector<Gateway>& after) {
  std::map<absl::string_view, const Gateway*> old_by_name;
  for (const Gateway& g : before) old_by_name.emplace(g.name, &g);
  std::set<absl::string_view> kept;
  GatewayChanges changes;
  for (const Gateway& g : after) {
    auto it = old_by_name.find(g.name);
    if (it == old_by_name.end()) {
      changes.added.push_back(g);
      continue;
    }
    kept.insert(g.name);
    if (*it->second != g) changes.changed.push_back(g);
  }
  for (const Gateway& g : before) {
    if (kept.count(g.name) == 0) changes.removed.push_back(g);
  }
  return changes;
}

}  // namespace mailfleet::controller
