// Opening a channel to an agent or the controller, the same for every
// client: the credentials (plaintext when null) and the receive limit.
#ifndef MAILFLEET_CLIENT_CHANNEL_H_
#define MAILFLEET_CLIENT_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mailfleet {

// A channel to `address` ("host:port" or a gRPC target URI); it connects
// lazily. With TLS, the server's certificate must name `tls_server_name`,
// or the address's host when that is empty. INVALID_ARGUMENT for an empty
// address, or one gRPC cannot use.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(
    const std::string& address,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int max_receive_message_bytes, const std::string& tls_server_name = "");

}  // namespace mailfleet

#endif  // MAILFLEET_CLIENT_CHANNEL_H_
