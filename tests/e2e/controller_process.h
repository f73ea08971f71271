// `mailfleet-controller` as a child process for end-to-end tests, with a
// stub to ask it. The including test target defines MAILFLEET_CONTROLLER_BIN
// (and, for agent_process.h, MAILFLEET_AGENT_BIN and MAILFLEET_CLI_BIN).
#ifndef MAILFLEET_TESTS_E2E_CONTROLLER_PROCESS_H_
#define MAILFLEET_TESTS_E2E_CONTROLLER_PROCESS_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mailfleet/v1/controller.grpc.pb.h"
#include "tests/e2e/agent_process.h"

namespace mailfleet::testing {

class ControllerProcess {
 public:
  // Serves on 127.0.0.1:`port` the fleet in `gateways_file`; `extra_args`
  // go after --listen, --gateways and --log-level. stub() calls it as
  // `client` says, and WaitUntilServing with its token too.
  ControllerProcess(const std::string& gateways_file, int port,
                    std::vector<std::string> extra_args = {},
                    ClientIdentity client = {})
      : address_(absl::StrCat("127.0.0.1:", port)),
        client_(std::move(client)),
        process_(Args(address_, gateways_file, std::move(extra_args))),
        stub_(v1::ControllerService::NewStub(client_.Channel(address_))) {}

  // Waits until the controller answers ListGateways, whatever the state of
  // its gateways.
  bool WaitUntilServing() {
    grpc::ClientContext ctx;
    client_.Prepare(&ctx);
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    v1::ListGatewaysResponse resp;
    return stub_->ListGateways(&ctx, {}, &resp).ok();
  }
  // SIGTERM, and waits until it has exited.
  void Stop() { process_.Stop(SIGTERM); }
  // SIGHUP: the controller reads its files again and reopens its audit log,
  // after this returns.
  bool Reload() { return process_.Signal(SIGHUP); }
  bool running() { return process_.running(); }

  const std::string& address() const { return address_; }
  v1::ControllerService::Stub& stub() { return *stub_; }

 private:
  static std::vector<std::string> Args(const std::string& address,
                                       const std::string& gateways_file,
                                       std::vector<std::string> extra_args) {
    std::vector<std::string> args = {MAILFLEET_CONTROLLER_BIN,
                                     "--listen",
                                     address,
                                     "--gateways",
                                     gateways_file,
                                     "--log-level",
                                     "warn"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    return args;
  }

  std::string address_;
  ClientIdentity client_;
  ChildProcess process_;
  std::unique_ptr<v1::ControllerService::Stub> stub_;
};

}  // namespace mailfleet::testing

#endif  // MAILFLEET_TESTS_E2E_CONTROLLER_PROCESS_H_
