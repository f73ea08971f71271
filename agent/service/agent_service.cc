#include "agent/service/agent_service.h"

#include <deque>
#include <functional>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/service/proto_convert.h"
#include "agent/mpa/spool_item.h"
#include "common/queue_id.h"
#include "common/request_checks.h"
#include "common/security/refused_stream.h"
#include "common/status_macros.h"

namespace mailfleet {
namespace {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // The agent's own lack of access is its problem, not the caller's:
  // PERMISSION_DENIED is kept for callers who may not do something.
  if (absl::IsPermissionDenied(s)) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("agent cannot read the queue: ", s.message()));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

// A caller refused by the access control: its code as it is (ToGrpc would
// take PERMISSION_DENIED for the agent's own).
grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                 const absl::Status& why) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(why.code()),
                               std::string(why.message())));
  return reactor;
}

// Chunks read ahead of the client, per stream: memory stays bounded
// whatever the message's size.
constexpr size_t kMaxQueuedParts = 8;

// Streams one message: the envelope, then the content in chunks. A worker
// thread reads from disk (never the reactor's thread) and waits while the
// client is kMaxQueuedParts behind; the reactor writes, one write in flight.
// Every Finish goes through WriteOrFinishLocked, once.
class MessageWriter : public grpc::ServerWriteReactor<v1::GetMessageResponse> {
 public:
  // `audit_read`, when set, is told whether the message was found before
  // any of it is sent: a content read is on the audit trail first.
  MessageWriter(const QueueIndex& index, v1::GetMessageRequest request,
                std::atomic<int>* reads_in_flight,
                std::function<void(const absl::Status&)> audit_read)
      : reads_in_flight_(reads_in_flight), audit_read_(std::move(audit_read)) {
    if (reads_in_flight_->fetch_add(1) >= kMaxConcurrentReads) {
      reads_in_flight_->fetch_sub(1);
      counted_ = false;  // before Finish: OnDone may run at once
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "too many messages being read at once; try again"));
      return;
    }
    std::thread([this, &index, request = std::move(request)] {
      absl::Status status = Produce(index, request);
      Close(status);
    }).detach();
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> done;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        cancelled_ = true;
        final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      }
      done = WriteOrFinishLocked();
    }
    if (done) Finish(*done);
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  void OnDone() override {
    if (counted_) reads_in_flight_->fetch_sub(1);
    delete this;
  }

 private:
  absl::Status Produce(const QueueIndex& index, const v1::GetMessageRequest& request) {
    const std::string& id = request.queue_id();
    Located where;
    absl::StatusOr<Message> message = Find(index, request, &where);
    if (audit_read_) audit_read_(message.status());
    if (!message.ok()) return message.status();
    v1::GetMessageResponse envelope;
    ToProto(*message, envelope.mutable_envelope());
    MF_RETURN_IF_ERROR(Push(std::move(envelope)));
    if (request.envelope_only()) return absl::OkStatus();
    auto push_chunk = [&](absl::string_view chunk) {
      v1::GetMessageResponse part;
      part.set_content(chunk.data(), chunk.size());
      return Push(std::move(part));
    };
    absl::Status s =
        where.source == QueueSource::kMpa
            ? index.spool()->ReadContent(message->queue, id, push_chunk)
            : index.reader().ReadMessageContent(id, message->queue, push_chunk);
    if (absl::IsNotFound(s)) {
      // It moved on between its envelope and its content (a release, a
      // flush, a respool): the stream ends and the client asks again.
      return absl::UnavailableError(
          absl::StrCat("message ", id, " moved while it was read; ask again"));
    }
    return s;
  }

  struct Located {
    QueueSource source = QueueSource::kPostfix;
    std::optional<QueueKind> queue;  // where to look first
    // Not indexed on either side: the MPA's spool is the next place to look.
    bool mpa_fallback = false;
  };
  static absl::StatusOr<Message> Find(const QueueIndex& index,
                                      const v1::GetMessageRequest& request,
                                      Located* where) {
    const std::string& id = request.queue_id();
    MF_ASSIGN_OR_RETURN(*where, Locate(index, request));
    absl::StatusOr<Message> message =
        where->source == QueueSource::kMpa ? index.spool()->FindItem(id, where->queue)
                                           : index.reader().ReadMessage(id, where->queue);
    if (absl::IsNotFound(message.status()) && where->mpa_fallback) {
      where->source = QueueSource::kMpa;
      message = index.spool()->FindItem(id, std::nullopt);
    }
    return message;
  }
  // Which side the id names, checked against that side's id syntax before
  // it is used in any path. The index settles which side holds it; an id
  // it does not know is looked for on disk.
  static absl::StatusOr<Located> Locate(const QueueIndex& index,
                                        const v1::GetMessageRequest& request) {
    const std::string& id = request.queue_id();
    std::optional<QueueSource> wanted;
    if (request.queue() != v1::QUEUE_KIND_UNSPECIFIED) {
      MF_ASSIGN_OR_RETURN(QueueKind q, FromProto(request.queue()));
      wanted = SourceOf(q);
    }
    const bool has_spool = index.spool() != nullptr;
    const bool postfix_ok =
        wanted != QueueSource::kMpa && ValidatePostfixQueueId(id).ok();
    const bool mpa_ok =
        has_spool && wanted != QueueSource::kPostfix && mpa::ValidateSpoolId(id).ok();
    if (!postfix_ok && !mpa_ok) {
      if (wanted == QueueSource::kMpa && !has_spool) {
        return absl::FailedPreconditionError("this agent has no MPA spool");
      }
      return wanted == QueueSource::kMpa || (has_spool && wanted != QueueSource::kPostfix)
                 ? mpa::ValidateSpoolId(id)
                 : ValidatePostfixQueueId(id);
    }
    auto snapshot = index.Current();
    std::optional<QueueSnapshot::View> in_postfix, in_mpa;
    if (postfix_ok) in_postfix = snapshot->Find(QueueSource::kPostfix, id);
    if (mpa_ok) in_mpa = snapshot->Find(QueueSource::kMpa, id);
    if (in_postfix && in_mpa) {
      return absl::InvalidArgumentError(absl::StrCat(
          id, " ", NamesBothSides(in_postfix->queue_kind(), in_mpa->queue_kind())));
    }
    if (in_mpa) return Located{QueueSource::kMpa, in_mpa->queue_kind()};
    if (in_postfix) return Located{QueueSource::kPostfix, in_postfix->queue_kind()};
    if (!postfix_ok) return Located{QueueSource::kMpa, std::nullopt};
    return Located{QueueSource::kPostfix, std::nullopt, mpa_ok};
  }

  // Queues a part for writing; waits while the client is far behind.
  absl::Status Push(v1::GetMessageResponse part) {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return cancelled_ || queue_.size() < kMaxQueuedParts;
    };
    mu_.Await(absl::Condition(&room));
    if (cancelled_) return absl::CancelledError("client went away");
    queue_.push_back(std::move(part));
    // Never finishes here: the producer is still running.
    (void)WriteOrFinishLocked();
    return absl::OkStatus();
  }

  // The producer is done; the stream ends once every part is written.
  void Close(const absl::Status& status) {
    std::optional<grpc::Status> done;
    {
      absl::MutexLock lock(&mu_);
      producer_done_ = true;
      if (!cancelled_) final_status_ = ToGrpc(status);
      done = WriteOrFinishLocked();
    }
    // Finish may delete this object at once (OnDone): nothing after it.
    if (done) Finish(*done);
  }

  // Starts the next write, or returns the status to finish with once the
  // producer has let go of this object and nothing is left to write. The
  // caller calls Finish after unlocking: OnDone deletes the object, mutex
  // included.
  std::optional<grpc::Status> WriteOrFinishLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return std::nullopt;
    if (!queue_.empty() && !cancelled_) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      StartWrite(&current_);
      return std::nullopt;
    }
    if (!producer_done_) return std::nullopt;
    finished_ = true;
    return final_status_;
  }

  absl::Mutex mu_;
  std::deque<v1::GetMessageResponse> queue_ ABSL_GUARDED_BY(mu_);
  v1::GetMessageResponse current_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool producer_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  std::atomic<int>* const reads_in_flight_;
  const std::function<void(const absl::Status&)> audit_read_;
  bool counted_ = true;
};

}  // namespace

namespace {

v1::AgentInfo StaticAgentInfo(const QueueIndex& index, const std::string& hostname) {
  v1::AgentInfo info;
  info.set_instance_id(index.instance_id());
  info.set_hostname(hostname);
  info.set_postfix_version(index.reader().config().mail_version);
  info.set_queue_directory(index.reader().config().queue_directory);
  return info;
}

}  // namespace

AgentServiceImpl::AgentServiceImpl(QueueIndex* index, std::string hostname,
                                   const QueueActions* actions,
                                   const postfix::PostfixTools* tools,
                                   WatchHubOptions watch_options,
                                   const AccessControl* access)
    : index_(index),
      hostname_(std::move(hostname)),
      actions_(actions),
      tools_(tools),
      access_(access != nullptr ? access : &AccessControl::LocalOnly()),
      watch_hub_(index, StaticAgentInfo(*index, hostname_), watch_options) {}

grpc::ServerWriteReactor<v1::WatchEvent>* AgentServiceImpl::Watch(
    grpc::CallbackServerContext* context, const v1::WatchRequest* request) {
  if (auto who = access_->Check(*context, Permission::kView); !who.ok()) {
    return new RefusedStream<v1::WatchEvent>(who.status());
  }
  return watch_hub_.Open(context, request);
}

bool AgentServiceImpl::Drain(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (reads_in_flight_.load() > 0 || actions_in_flight_.load() > 0) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

namespace {

// An action's counts and the ids it touched, or why it failed as a whole.
void AuditOutcome(const absl::Status& status, const v1::ActResponse& response,
                  v1::AuditRecord* record) {
  if (!status.ok()) {
    // Refused by the checks (nothing ran), or failed as a whole.
    record->set_result(absl::IsInvalidArgument(status) ? "invalid" : "failed");
    record->set_error(std::string(status.message()));
    return;
  }
  record->set_matched(response.matched());
  record->set_succeeded(response.succeeded());
  record->set_failed(response.failed());
  record->set_result(response.failed() > 0 ? "failed" : "ok");
  *record->mutable_queue_ids() = response.queue_ids();
}

// Runs `work` (Postfix's tools: seconds, not microseconds) on a thread of
// its own and finishes the call from there, never blocking a reactor.
grpc::ServerUnaryReactor* RunOnWorker(grpc::CallbackServerContext* context,
                                      std::atomic<int>* in_flight,
                                      std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (in_flight->fetch_add(1) >= kMaxConcurrentActions) {
    in_flight->fetch_sub(1);
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "too many actions running at once; try again"));
    return reactor;
  }
  std::thread([reactor, in_flight, work = std::move(work)] {
    absl::Status status = work();
    reactor->Finish(ToGrpc(status));
    // Last: once this reaches zero, Drain lets the server go.
    in_flight->fetch_sub(1);
  }).detach();
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* AgentServiceImpl::Act(grpc::CallbackServerContext* context,
                                                const v1::ActRequest* request,
                                                v1::ActResponse* response) {
  v1::AuditRecord asked = AuditRequest(ActionVerb(request->action()), hostname_,
                                       SelectorText(request->selector()),
                                       request->dry_run());
  auto who = access_->CheckAudited(*context, Permission::kAct, asked);
  if (!who.ok()) return Refuse(context, who.status());
  v1::AuditRecord record = AuditRecordFor(*who, std::move(asked));
  auto core = ActionRequestFromProto(*request);
  if (!core.ok()) {
    record.set_result("invalid");
    record.set_error(std::string(core.status().message()));
    access_->Audit(std::move(record));
    return Finish(context, core.status());
  }
  return RunOnWorker(context, &actions_in_flight_,
                     [this, core = *std::move(core), request, response,
                      record = std::move(record)]() mutable {
                       auto result = actions_->Act(core);
                       if (result.ok()) ToProto(*result, *request, response);
                       AuditOutcome(result.status(), *response, &record);
                       access_->Audit(std::move(record));
                       return result.status();
                     });
}

grpc::ServerUnaryReactor* AgentServiceImpl::Flush(grpc::CallbackServerContext* context,
                                                  const v1::FlushRequest* request,
                                                  v1::FlushResponse* response) {
  v1::AuditRecord asked = AuditRequest("flush", hostname_, FlushTargetsText(*request));
  auto who = access_->CheckAudited(*context, Permission::kAct, asked);
  if (!who.ok()) return Refuse(context, who.status());
  v1::AuditRecord record = AuditRecordFor(*who, std::move(asked));
  absl::Status targets = CheckFlushTargets(*request);
  if (!targets.ok()) {
    record.set_result("invalid");
    record.set_error(std::string(targets.message()));
    access_->Audit(std::move(record));
    return Finish(context, targets);
  }
  // PostfixTools checks the ids and the site before it runs anything.
  std::vector<std::string> ids(request->queue_ids().begin(), request->queue_ids().end());
  return RunOnWorker(context, &actions_in_flight_,
                     [this, ids = std::move(ids), site = request->site(),
                      record = std::move(record)]() mutable {
                       absl::Status s = !site.empty() ? tools_->FlushSite(site)
                                        : !ids.empty() ? tools_->FlushIds(ids)
                                                       : tools_->FlushAll();
                       record.set_result(s.ok()                        ? "ok"
                                         : absl::IsInvalidArgument(s) ? "invalid"
                                                                      : "failed");
                       if (!s.ok()) record.set_error(std::string(s.message()));
                       access_->Audit(std::move(record));
                       return s;
                     });
}

grpc::ServerUnaryReactor* AgentServiceImpl::Summary(
    grpc::CallbackServerContext* context, const v1::SummaryRequest* request,
    v1::SummaryResponse* response) {
  if (auto who = access_->Check(*context, Permission::kView); !who.ok()) {
    return Refuse(context, who.status());
  }
  auto filter = CompileFilter(request->filter());
  if (!filter.ok()) return Finish(context, filter.status());
  auto top_n = TopNFromProto(request->top_n());
  if (!top_n.ok()) return Finish(context, top_n.status());
  auto snapshot = index_->Current();
  absl::Time now = absl::Now();
  ToProto(index_->Summarize(*snapshot, *filter, now, *top_n), now,
          response->mutable_summary());
  v1::AgentInfo* info = response->mutable_agent();
  *info = StaticAgentInfo(*index_, hostname_);
  info->set_generation(snapshot->generation());
  SetTimestamp(snapshot->scan_time(), info->mutable_last_scan_time());
  SetDuration(snapshot->scan_duration(), info->mutable_last_scan_duration());
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* AgentServiceImpl::List(
    grpc::CallbackServerContext* context, const v1::ListRequest* request,
    v1::ListResponse* response) {
  if (auto who = access_->Check(*context, Permission::kView); !who.ok()) {
    return Refuse(context, who.status());
  }
  auto filter = CompileFilter(request->filter());
  if (!filter.ok()) return Finish(context, filter.status());
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return Finish(context, absl::InvalidArgumentError(absl::StrCat(
                               "page_size must be between 0 and ", kMaxPageSize)));
  }
  std::optional<ListCursor> after;
  if (!request->page_token().empty()) {
    auto cursor = DecodePageToken(request->page_token());
    if (!cursor.ok()) return Finish(context, cursor.status());
    after = *std::move(cursor);
  }
  size_t page_size =
      request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  auto snapshot = index_->Current();
  response->mutable_messages()->Reserve(static_cast<int>(page_size));
  std::optional<ListCursor> next = snapshot->List(
      *filter, absl::Now(), after ? &*after : nullptr, page_size,
      [response](const QueueSnapshot::View& v) {
        ToProto(v, response->add_messages());
      });
  if (next) response->set_next_page_token(EncodePageToken(*next));
  response->set_generation(snapshot->generation());
  return Finish(context, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::GetMessageResponse>* AgentServiceImpl::GetMessage(
    grpc::CallbackServerContext* context, const v1::GetMessageRequest* request) {
  if (request->envelope_only()) {
    if (auto who = access_->Check(*context, Permission::kView); !who.ok()) {
      return new RefusedStream<v1::GetMessageResponse>(who.status());
    }
    return new MessageWriter(*index_, *request, &reads_in_flight_, nullptr);
  }
  v1::AuditRecord asked =
      AuditRequest("read", hostname_, absl::StrCat("id ", request->queue_id()));
  auto who = access_->CheckAudited(*context, Permission::kReadContent, asked);
  if (!who.ok()) return new RefusedStream<v1::GetMessageResponse>(who.status());
  v1::AuditRecord record = AuditRecordFor(*who, std::move(asked));
  auto audit_read = [this, record](const absl::Status& found) mutable {
    record.set_matched(found.ok() ? 1 : 0);
    record.set_result(found.ok() ? "ok" : "failed");
    if (!found.ok()) record.set_error(std::string(found.message()));
    access_->Audit(std::move(record));
  };
  return new MessageWriter(*index_, *request, &reads_in_flight_, std::move(audit_read));
}

}  // namespace mailfleet
