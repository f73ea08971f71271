// mailfleet --agent ADDR health | mailfleet --controller ADDR health
#include "client/cli/commands.h"
#include "common/status_macros.h"

namespace mailfleet::cli {

absl::Status RunHealth(CommandContext& context) {
  MF_RETURN_IF_ERROR(context.CheckHealth());
  return context.out().PrintServing();
}

}  // namespace mailfleet::cli
