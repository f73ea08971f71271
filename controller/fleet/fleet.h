// Fleet is the controller's registry of gateways: the gateways file's
// entries, each with the GatewayLink that watches its agent. Apply brings it
// to a reading of the file (the first at start, the next on each SIGHUP) by
// starting links for new gateways, stopping those of removed ones, and
// replacing a link only when its gateway's address changed; a change of
// labels alone keeps the link, its stream and its status.
//
// The links share one TimerQueue, the fleet's, for their backoffs and
// watchdogs, and gRPC's threads for their streams: the fleet costs one
// thread of its own however many gateways it has.
//
// Thread-safe. Links are stopped (which waits for their callbacks) outside
// the fleet's lock, and their changes are forwarded to the fleet's callback
// without it, so that the callback may call Gateways() or Select(); it must
// not call Apply() or destroy the fleet. A removed or replaced gateway's
// status may still be reported until the Apply that removed it returns,
// never after.
#ifndef MAILFLEET_CONTROLLER_FLEET_FLEET_H_
#define MAILFLEET_CONTROLLER_FLEET_FLEET_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/config/gateways_file.h"
#include "controller/config/label_selector.h"
#include "controller/fleet/gateway_link.h"

namespace mailfleet::controller {

// A gateway as the file has it, and what its link knows now.
struct GatewayView {
  Gateway config;
  GatewayStatus status;
};

class Fleet {
 public:
  using ChangeCallback = std::function<void(const GatewayStatus&)>;

  // `options` are every link's (see CheckLinkOptions); `on_change` is
  // called as GatewayLink's is, one call at a time per link (calls for
  // different gateways may come at once).
  explicit Fleet(LinkOptions options, ChangeCallback on_change = nullptr);
  // Stops every link.
  ~Fleet();

  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Makes the fleet `gateways` (file order, unique names, as
  // ParseGatewaysFile returns them) and returns, and logs, what changed
  // from the last call (everything is added on the first).
  GatewayChanges Apply(const std::vector<Gateway>& gateways)
      ABSL_LOCKS_EXCLUDED(apply_mu_, mu_);

  // Every gateway, in file order.
  std::vector<GatewayView> Gateways() const ABSL_LOCKS_EXCLUDED(mu_);

  // The gateways SelectGateways picks, in file order, or its error.
  absl::StatusOr<std::vector<GatewayView>> Select(
      const std::vector<std::string>& names,
      const std::optional<LabelSelector>& selector, bool all) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::shared_ptr<GatewayLink> NewLink(const Gateway& gateway) const;
  GatewayView ViewLocked(const Gateway& gateway) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const LinkOptions options_;
  const ChangeCallback on_change_;
  // Every link's timers; held by the links too, so that it outlives them.
  const std::shared_ptr<TimerQueue> timers_;

  // Serializes Apply and the destructor, so that a link is started and
  // stopped by one of them at a time; never taken by a link's callback.
  absl::Mutex apply_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::vector<Gateway> gateways_ ABSL_GUARDED_BY(mu_);
  // By gateway name, one for each of gateways_.
  std::map<std::string, std::shared_ptr<GatewayLink>> links_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace mailfleet::controller

#endif  // MAILFLEET_CONTROLLER_FLEET_FLEET_H_
