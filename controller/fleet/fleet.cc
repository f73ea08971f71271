#include "controller/fleet/fleet.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/strings/str_join.h"
#include "controller/config/gateway_selection.h"

namespace mailfleet::controller {
namespace {

std::string Names(const std::vector<Gateway>& gateways) {
  return absl::StrJoin(gateways, ", ",
                       [](std::string* out, const Gateway& gateway) {
                         out->append(gateway.name);
                       });
}

}  // namespace

Fleet::Fleet(LinkOptions options, ChangeCallback on_change)
    : options_(std::move(options)),
      on_change_(std::move(on_change)),
      timers_(std::make_shared<TimerQueue>()) {}

Fleet::~Fleet() {
  absl::MutexLock apply_lock(&apply_mu_);
  std::map<std::string, std::shared_ptr<GatewayLink>> links;
  {
    absl::MutexLock lock(&mu_);
    links.swap(links_);
    gateways_.clear();
  }
  for (auto& [name, link] : links) link->Stop();
}

std::shared_ptr<GatewayLink> Fleet::NewLink(const Gateway& gateway) const {
  GatewayLink::ChangeCallback forward;
  if (on_change_ != nullptr) {
    forward = [this](const GatewayStatus& status) { on_change_(status); };
  }
  return std::make_shared<GatewayLink>(gateway.name, gateway.address, options_,
                                       std::move(forward), timers_);
}

GatewayChanges Fleet::Apply(const std::vector<Gateway>& gateways) {
  absl::MutexLock apply_lock(&apply_mu_);
  GatewayChanges changes;
  std::vector<std::shared_ptr<GatewayLink>> to_stop;
  std::vector<std::shared_ptr<GatewayLink>> to_start;
  {
    absl::MutexLock lock(&mu_);
    changes = DiffGateways(gateways_, gateways);
    for (const Gateway& gateway : changes.removed) {
      auto it = links_.find(gateway.name);
      to_stop.push_back(std::move(it->second));
      links_.erase(it);
    }
    for (const Gateway& gateway : changes.changed) {
      std::shared_ptr<GatewayLink>& link = links_[gateway.name];
      // Labels live in gateways_; only a new address needs a new stream.
      if (link->address() == gateway.address) continue;
      to_stop.push_back(std::move(link));
      link = NewLink(gateway);
      to_start.push_back(link);
    }
    for (const Gateway& gateway : changes.added) {
      std::shared_ptr<GatewayLink> link = NewLink(gateway);
      links_[gateway.name] = link;
      to_start.push_back(std::move(link));
    }
    gateways_ = gateways;
  }
  // Stop waits for the link's callbacks, which may be in the change
  // callback; the fleet's lock must be free for it to return.
  for (const std::shared_ptr<GatewayLink>& link : to_stop) link->Stop();
  for (const std::shared_ptr<GatewayLink>& link : to_start) link->Start();
  if (!changes.empty()) {
    spdlog::info("gateways: {} added [{}], {} removed [{}], {} changed [{}]",
                 changes.added.size(), Names(changes.added),
                 changes.removed.size(), Names(changes.removed),
                 changes.changed.size(), Names(changes.changed));
  }
  return changes;
}

GatewayView Fleet::ViewLocked(const Gateway& gateway) const {
  return GatewayView{gateway, links_.at(gateway.name)->status()};
}

std::vector<GatewayView> Fleet::Gateways() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<GatewayView> views;
  views.reserve(gateways_.size());
  for (const Gateway& gateway : gateways_) {
    views.push_back(ViewLocked(gateway));
  }
  return views;
}

absl::StatusOr<std::vector<GatewayView>> Fleet::Select(
    const std::vector<std::string>& names,
    const std::optional<LabelSelector>& selector, bool all) const {
  absl::ReaderMutexLock lock(&mu_);
  absl::StatusOr<std::vector<std::string>> selected =
      SelectGateways(gateways_, names, selector, all);
  if (!selected.ok()) return selected.status();
  // Both in file order: one pass picks them out.
  std::vector<GatewayView> views;
  views.reserve(selected->size());
  auto next = selected->begin();
  for (const Gateway& gateway : gateways_) {
    if (next == selected->end()) break;
    if (gateway.name != *next) continue;
    views.push_back(ViewLocked(gateway));
    ++next;
  }
  return views;
}

}  // namespace mailfleet::controller
