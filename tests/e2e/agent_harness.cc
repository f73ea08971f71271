#include "tests/e2e/agent_harness.h"

#include "absl/strings/str_cat.h"

namespace mailfleet::testing {

absl::StatusOr<std::unique_ptr<AgentHarness>> AgentHarness::Start(
    const std::string& postfix_config_dir, const Options& options) {
  std::unique_ptr<AgentHarness> h(new AgentHarness());
  auto config = postfix::LoadPostfixConfig(h->runner_, postfix_config_dir);
  if (!config.ok()) return config.status();
  h->reader_ = std::make_unique<postfix::QueueReader>(&h->fs_, *config, 2);
  h->index_ = std::make_unique<QueueIndex>(h->reader_.get());
  auto watcher = NewInotifyWatcher();
  if (!watcher.ok()) return watcher.status();
  h->watcher_ = *std::move(watcher);
  h->monitor_ = std::make_unique<QueueMonitor>(h->index_.get(), &h->fs_,
                                               h->watcher_.get(), options.monitor);
  absl::Status s = h->monitor_->Start();
  if (!s.ok()) return s;
  h->tools_ = std::make_unique<postfix::PostfixTools>(&h->runner_, postfix_config_dir);
  h->actions_ = std::make_unique<QueueActions>(h->index_.get(), h->tools_.get(), &h->fs_);
  h->service_ = std::make_unique<AgentServiceImpl>(
      h->index_.get(), "e2e", h->actions_.get(), h->tools_.get(), options.watch);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(h->service_.get());
  h->server_ = builder.BuildAndStart();
  if (!h->server_ || port == 0) return absl::InternalError("agent did not start");
  h->address_ = absl::StrCat("127.0.0.1:", port);
  h->stub_ = v1::AgentService::NewStub(
      grpc::CreateChannel(h->address_, grpc::InsecureChannelCredentials()));
  return h;
}

AgentHarness::~AgentHarness() {
  if (service_) service_->EndWatches();
  if (server_) server_->Shutdown();
  if (monitor_) monitor_->Stop();
}

absl::StatusOr<std::vector<v1::Message>> AgentHarness::ListAll(
    const v1::Filter& filter, int page_size) {
  std::vector<v1::Message> out;
  v1::ListRequest req;
  *req.mutable_filter() = filter;
  req.set_page_size(page_size);
  for (;;) {
    grpc::ClientContext ctx;
    v1::ListResponse resp;
    grpc::Status s = stub_->List(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    for (auto& m : *resp.mutable_messages()) out.push_back(std::move(m));
    if (resp.next_page_token().empty()) return out;
    req.set_page_token(resp.next_page_token());
  }
}

absl::StatusOr<std::string> AgentHarness::Content(const std::string& id) {
  grpc::ClientContext ctx;
  v1::GetMessageRequest req;
  req.set_queue_id(id);
  auto reader = stub_->GetMessage(&ctx, req);
  v1::GetMessageResponse part;
  std::string content;
  bool first = true;
  while (reader->Read(&part)) {
    if (first != part.has_envelope()) {
      return absl::InternalError("envelope is not the first and only first part");
    }
    first = false;
    content += part.content();
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return content;
}

}  // namespace mailfleet::testing
