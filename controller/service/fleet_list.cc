// List: each unfinished gateway asked for a page after its own cursor, the
// answers merged in one order, a page taken, and every gateway's cursor
// carried in the next page token.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/list_cursor.h"
#include "common/request_checks.h"
#include "controller/service/controller_service.h"
#include "controller/service/fan_out.h"
#include "controller/service/fleet_calls.h"
#include "proto/queue_kind_proto.h"

namespace mailfleet::controller {
namespace {

constexpr absl::Duration kDefaultListTimeout = absl::Seconds(10);
constexpr int kDefaultPageSize = 1000;
constexpr int kMaxPageSize = 10000;
// Messages one page may ask of all its gateways together, so that a page
// from 500 gateways does not hold 500 pages in memory; each gateway is
// still asked for at least kMinPerGateway.
constexpr int kListBudget = 20000;
constexpr int kMinPerGateway = 20;

absl::StatusOr<v1::FleetListCursor> DecodeToken(const std::string& token) {
  v1::FleetListCursor cursor;
  std::string raw;
  if (!token.empty() && (!absl::WebSafeBase64Unescape(token, &raw) ||
                         !cursor.ParseFromString(raw))) {
    return absl::InvalidArgumentError(
        "malformed page token: pass back next_page_token unchanged");
  }
  return cursor;
}

int64_t ArrivalMicros(const v1::Message& m) {
  return m.arrival_time().seconds() * 1000000 + m.arrival_time().nanos() / 1000;
}

// The fleet's listing order: arrival, gateway, queue id, Postfix first.
auto SortKey(const v1::Message& m, const std::string& gateway) {
  return std::make_tuple(ArrivalMicros(m), std::cref(gateway), std::cref(m.queue_id()),
                         ProtoQueueSource(m.queue()));
}

// One page of the fleet: gateway i's part is answers[i] when its call
// succeeded.
class FleetPage {
 public:
  FleetPage(std::vector<GatewayTarget> targets, v1::FleetListCursor cursors)
      : targets_(std::move(targets)), cursors_(std::move(cursors)) {}

  const v1::FleetListCursor::GatewayCursor& cursor(size_t i) const {
    return cursors_.gateways(static_cast<int>(i));
  }

  void Answer(size_t i, const grpc::Status& status, v1::ListResponse* answer) {
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      answers_[i] = std::move(*answer);
    } else {
      failures_[i] = FailureOf(targets_[i], status);
    }
  }

  // Merges what came, takes `page_size`, and moves each gateway's cursor to
  // the last message taken from it.
  void Take(size_t page_size, const std::vector<size_t>& asked,
            v1::FleetListResponse* response) {
    absl::MutexLock lock(&mu_);
    for (auto& [i, failure] : failures_) *response->add_failures() = failure;
    // Each answered gateway's next message, the least on top: a k-way merge
    // in O(page_size log gateways), for pages drawn from 500 gateways.
    struct Head {
      size_t gateway;
      int next;
    };
    auto later = [this](const Head& a, const Head& b) {
      return SortKey(answers_[b.gateway].messages(b.next), targets_[b.gateway].name) <
             SortKey(answers_[a.gateway].messages(a.next), targets_[a.gateway].name);
    };
    std::priority_queue<Head, std::vector<Head>, decltype(later)> heads(later);
    // A gateway that has more than it sent may have messages anywhere after
    // its last one: nothing past the least such last message is taken.
    std::optional<std::tuple<int64_t, std::string, std::string, QueueSource>> frontier;
    for (auto& [i, answer] : answers_) {
      if (answer.messages_size() == 0) continue;
      heads.push({i, 0});
      if (answer.next_page_token().empty()) continue;
      const v1::Message& last = answer.messages(answer.messages_size() - 1);
      auto key = std::make_tuple(ArrivalMicros(last), targets_[i].name, last.queue_id(),
                                 ProtoQueueSource(last.queue()));
      if (!frontier || key < *frontier) frontier = std::move(key);
    }
    std::map<size_t, int> taken;  // gateway: how many of its answer
    while (static_cast<size_t>(response->messages_size()) < page_size && !heads.empty()) {
      Head head = heads.top();
      if (frontier) {
        const v1::Message& next = answers_[head.gateway].messages(head.next);
        if (std::make_tuple(ArrivalMicros(next), targets_[head.gateway].name, next.queue_id(),
                            ProtoQueueSource(next.queue())) > *frontier) {
          break;
        }
      }
      heads.pop();
      v1::Message* m = response->add_messages();
      *m = std::move(*answers_[head.gateway].mutable_messages(head.next));
      m->set_gateway(targets_[head.gateway].name);
      taken[head.gateway] = ++head.next;
      if (head.next < answers_[head.gateway].messages_size()) heads.push(head);
    }
    for (const auto& [i, answer] : answers_) {
      v1::FleetListCursor::GatewayCursor* c = cursors_.mutable_gateways(static_cast<int>(i));
      const int next = taken.count(i) ? taken[i] : 0;
      if (next == answer.messages_size() && answer.next_page_token().empty()) {
        c->set_done(true);
      } else if (next > 0) {
        const v1::Message& last = LastTaken(i, *response);
        c->set_agent_page_token(EncodePageToken(
            {ArrivalMicros(last), last.queue_id(), ProtoQueueSource(last.queue())}));
      }
    }
    response->set_gateways_asked(static_cast<int32_t>(asked.size()));
    // Gateways that failed on this page keep their cursors and are asked
    // again on the next one; but when nothing else is left to list, another
    // page would only bring the same failures, so the listing ends here.
    bool more = false;
    for (int i = 0; i < cursors_.gateways_size(); ++i) {
      if (!cursors_.gateways(i).done() && failures_.count(static_cast<size_t>(i)) == 0) {
        more = true;
      }
    }
    if (more) {
      response->set_next_page_token(absl::WebSafeBase64Escape(cursors_.SerializeAsString()));
    }
  }

 private:
  // The last message of the page taken from gateway `i` (there is one).
  const v1::Message& LastTaken(size_t i, const v1::FleetListResponse& response) const {
    for (int k = response.messages_size() - 1; k > 0; --k) {
      if (response.messages(k).gateway() == targets_[i].name) return response.messages(k);
    }
    return response.messages(0);
  }

  const std::vector<GatewayTarget> targets_;
  absl::Mutex mu_;
  v1::FleetListCursor cursors_ ABSL_GUARDED_BY(mu_);
  std::map<size_t, v1::ListResponse> answers_ ABSL_GUARDED_BY(mu_);
  std::map<size_t, v1::GatewayFailure> failures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerUnaryReactor* ControllerServiceImpl::List(
    grpc::CallbackServerContext* context, const v1::FleetListRequest* request,
    v1::FleetListResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto refuse = [reactor](const absl::Status& status) {
    reactor->Finish(ToGrpc(status));
    return reactor;
  };
  absl::StatusOr<Principal> who = access_->Check(*context, Permission::kView);
  if (!who.ok()) return refuse(who.status());
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return refuse(absl::InvalidArgumentError(
        absl::StrCat("page_size must be between 0 and ", kMaxPageSize)));
  }
  const int page_size = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  absl::Status filter = CompileFilter(request->filter()).status();
  if (!filter.ok()) return refuse(filter);
  absl::StatusOr<FanOutOptions> options = FanOutOptionsFor(
      options_, &calls_, *context, *who, request->has_timeout() ? &request->timeout() : nullptr, kDefaultListTimeout);
  if (!options.ok()) return refuse(options.status());
  absl::StatusOr<v1::FleetListCursor> given = DecodeToken(request->page_token());
  if (!given.ok()) return refuse(given.status());
  absl::StatusOr<std::vector<GatewayView>> selected =
      SelectFromProto(*fleet_, request->selector());
  if (!selected.ok()) return refuse(selected.status());

  // One cursor per selected gateway, in selection order; a gateway that
  // entered the selection since the last page starts from its beginning.
  std::map<std::string, v1::FleetListCursor::GatewayCursor> by_name;
  for (const auto& c : given->gateways()) by_name[c.gateway()] = c;
  v1::FleetListCursor cursors;
  std::vector<GatewayTarget> all = TargetsOf(*selected);
  std::vector<size_t> asked;
  for (size_t i = 0; i < all.size(); ++i) {
    v1::FleetListCursor::GatewayCursor* c = cursors.add_gateways();
    auto found = by_name.find(all[i].name);
    if (found != by_name.end()) *c = found->second;
    c->set_gateway(all[i].name);
    if (!c->done()) asked.push_back(i);
  }
  auto page = std::make_shared<FleetPage>(all, std::move(cursors));
  auto requests = std::make_shared<std::vector<v1::ListRequest>>(asked.size());
  std::vector<GatewayTarget> targets;
  const int per_gateway = asked.empty() ? page_size
                                        : std::min(page_size, std::max(kMinPerGateway,
                                                                       kListBudget / static_cast<int>(asked.size())));
  for (size_t k = 0; k < asked.size(); ++k) {
    v1::ListRequest& r = (*requests)[k];
    *r.mutable_filter() = request->filter();
    r.set_page_size(per_gateway);
    r.set_page_token(page->cursor(asked[k]).agent_page_token());
    targets.push_back(all[asked[k]]);
  }
  FanOutCall<v1::ListRequest, v1::ListResponse>(
      std::move(targets), *options,
      [](v1::AgentService::Stub* stub, grpc::ClientContext* ctx, const v1::ListRequest* req,
         v1::ListResponse* resp, FanOut::DoneCallback done) {
        stub->async()->List(ctx, req, resp, std::move(done));
      },
      [requests](size_t k) { return &(*requests)[k]; },
      [page, asked](size_t k, const grpc::Status& status, v1::ListResponse* answer,
                    absl::Duration) { page->Answer(asked[k], status, answer); },
      [page, asked, page_size, response, reactor] {
        page->Take(static_cast<size_t>(page_size), asked, response);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace mailfleet::controller
