#include "tests/e2e/support/loopback_ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "absl/strings/str_cat.h"

namespace mailfleet::testing {
namespace {

// Linux's default ephemeral range starts at 32768.
constexpr int kFirstListenPort = 20000;
constexpr int kLastListenPort = 32000;
// Scanned downwards; the low privileged ports have well-known services.
constexpr int kHighestClosedPort = 1023;
constexpr int kLowestClosedPort = 600;

sockaddr_in LoopbackAddress(const char* address, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, address, &addr.sin_addr);
  return addr;
}

// Whether `port` could be bound the way master(8) binds its listeners.
bool CanBind(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = LoopbackAddress("127.0.0.1", port);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

bool RefusesConnections(const char* address, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = LoopbackAddress(address, port);
  bool refused =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno == ECONNREFUSED;
  close(fd);
  return refused;
}

}  // namespace

absl::StatusOr<int> PickFreeLoopbackPort() {
  // Concurrent test processes must not walk the range in the same order.
  std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> pick(kFirstListenPort, kLastListenPort);
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port = pick(rng);
    if (CanBind(port)) return port;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no free port on 127.0.0.1 between ", kFirstListenPort,
                   " and ", kLastListenPort));
}

absl::StatusOr<std::vector<int>> FindClosedLoopbackPorts(int count) {
  std::vector<int> ports;
  for (int port = kHighestClosedPort;
       port >= kLowestClosedPort && static_cast<int>(ports.size()) < count;
       --port) {
    bool closed = true;
    for (const char* address : kRelayAddresses) {
      closed = closed && RefusesConnections(address, port);
    }
    if (closed) ports.push_back(port);
  }
  if (static_cast<int>(ports.size()) < count) {
    return absl::ResourceExhaustedError(
        absl::StrCat("fewer than ", count, " closed loopback ports between ",
                     kLowestClosedPort, " and ", kHighestClosedPort));
  }
  return ports;
}

}  // namespace mailfleet::testing
