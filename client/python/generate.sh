#!/bin/sh
# Generates mailfleet's Python gRPC stubs from the repo's protos into
# OUT_DIR (importable as mailfleet.v1.*_pb2 and *_pb2_grpc with
# PYTHONPATH=OUT_DIR), with Debian's protoc and grpc_python_plugin: they
# match python3-protobuf and python3-grpcio.
#   client/python/generate.sh OUT_DIR
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
plugin=/usr/bin/grpc_python_plugin
for tool in /usr/bin/protoc "$plugin"; do
  if [ ! -x "$tool" ]; then
    echo "generate.sh: $tool is missing: run scripts/bootstrap.sh" >&2
    exit 1
  fi
done
mkdir -p "$1"
protoc --python_out="$1" --grpc_python_out="$1" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  -I "$root/proto" "$root"/proto/mailfleet/v1/*.proto
