#include "client/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mailfleet {

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(
    const std::string& address,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int max_receive_message_bytes, const std::string& tls_server_name) {
  if (address.empty()) return absl::InvalidArgumentError("address is empty");
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_receive_message_bytes);
  if (!tls_server_name.empty()) args.SetSslTargetNameOverride(tls_server_name);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      address, credentials ? credentials : grpc::InsecureChannelCredentials(),
      args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open a channel to '", address, "'"));
  }
  return channel;
}

}  // namespace mailfleet
