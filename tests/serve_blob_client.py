#!/usr/bin/env python3
"""One gRPC call for tests/serve.rs: the head of a package's default
channel, with its blobs, from `catbuild serve` (grpcio, stubs generated
from proto/registry.proto).

Prints `ok <objects> <sha256 of the objects and csvJson>` for an answer,
or `error <status code> <details>` for a failed call; exits 0 either way,
so the test decides what it wanted.

usage: serve_blob_client.py --grpc HOST:PORT --proto FILE --package P
"""

import argparse
import hashlib

from serve_client import generate_stubs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--proto", required=True)
    parser.add_argument("--package", required=True)
    args = parser.parse_args()

    import grpc

    pb, pb_grpc = generate_stubs(args.proto)
    registry = pb_grpc.RegistryStub(grpc.insecure_channel(args.grpc))
    package = registry.GetPackage(pb.GetPackageRequest(name=args.package), timeout=30)
    head = next(channel.csvName for channel in package.channels if channel.name == package.defaultChannelName)
    try:
        bundle = registry.GetBundle(
            pb.GetBundleRequest(pkgName=args.package, channelName=package.defaultChannelName, csvName=head), timeout=30
        )
    except grpc.RpcError as error:
        print(f"error {error.code().name} {error.details()}")
        return
    digest = hashlib.sha256()
    for text in list(bundle.object) + [bundle.csvJson]:
        digest.update(text.encode())
        digest.update(b"\0")
    print(f"ok {len(bundle.object)} {digest.hexdigest()}")


if __name__ == "__main__":
    main()
