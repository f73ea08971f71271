// A real agent (reader, index, gRPC service) on 127.0.0.1, in the test's
// process, pointed at a real Postfix instance; and the listing it serves.
#ifndef MAILFLEET_TESTS_E2E_AGENT_HARNESS_H_
#define MAILFLEET_TESTS_E2E_AGENT_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/index/queue_index.h"
#include "agent/index/queue_monitor.h"
#include "agent/postfix/queue_reader.h"
#include "agent/service/agent_service.h"
#include "common/os/dir_watcher.h"
#include "common/os/filesystem.h"
#include "common/os/process_runner.h"
#include "mailfleet/v1/agent.grpc.pb.h"

namespace mailfleet::testing {

class AgentHarness {
 public:
  struct Options {
    MonitorOptions monitor;
    WatchHubOptions watch;
  };
  // Scans the queue, then keeps the index live as the agent does.
  static absl::StatusOr<std::unique_ptr<AgentHarness>> Start(
      const std::string& postfix_config_dir, const Options& options);
  static absl::StatusOr<std::unique_ptr<AgentHarness>> Start(
      const std::string& postfix_config_dir) {
    return Start(postfix_config_dir, Options{});
  }
  ~AgentHarness();

  v1::AgentService::Stub& stub() { return *stub_; }
  QueueIndex& index() { return *index_; }
  QueueMonitor& monitor() { return *monitor_; }
  AgentServiceImpl& service() { return *service_; }
  const std::string& address() const { return address_; }

  // Every message of List with `filter`, paging with `page_size`.
  absl::StatusOr<std::vector<v1::Message>> ListAll(const v1::Filter& filter = {},
                                                   int page_size = 1000);
  // The raw content GetMessage streams for `id`.
  absl::StatusOr<std::string> Content(const std::string& id);

 private:
  AgentHarness() = default;
  RealFilesystem fs_;
  RealProcessRunner runner_;
  std::unique_ptr<postfix::QueueReader> reader_;
  std::unique_ptr<QueueIndex> index_;
  std::unique_ptr<DirWatcher> watcher_;
  std::unique_ptr<QueueMonitor> monitor_;
  std::unique_ptr<postfix::PostfixTools> tools_;
  std::unique_ptr<QueueActions> actions_;
  std::unique_ptr<AgentServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  std::string address_;
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_AGENT_HARNESS_H_
