#!/usr/bin/env python3
"""A gRPC client that keeps calling `catbuild serve --watch` while
tests/serve.rs edits the project under it.

Loops over GetBundleForChannel and ListBundles (grpcio, stubs generated
from proto/registry.proto), prints `calling` once the first answer came
back, and prints each new skipRange of the channel head as it sees it
(`seen <range>`). Stops once it has seen --want, or after --timeout
seconds. Exit 0 only when every call succeeded and --want was seen after
--first (the answer changed without a restart).

usage: serve_watch_client.py --grpc HOST:PORT --proto FILE --package P --channel C --first RANGE --want RANGE
"""

import argparse
import sys
import time

from serve_client import generate_stubs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--proto", required=True)
    parser.add_argument("--package", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--first", required=True)
    parser.add_argument("--want", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    import grpc

    pb, pb_grpc = generate_stubs(args.proto)
    channel = grpc.insecure_channel(args.grpc)
    registry = pb_grpc.RegistryStub(channel)
    seen = []
    calls = 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            head = registry.GetBundleForChannel(
                pb.GetBundleInChannelRequest(pkgName=args.package, channelName=args.channel), timeout=10
            )
            listed = list(registry.ListBundles(pb.ListBundlesRequest(), timeout=10))
        except grpc.RpcError as error:
            print(f"call {calls + 1} failed: {error.code()} {error.details()}", file=sys.stderr)
            return 1
        calls += 1
        if not listed or not head.csvJson:
            print(f"call {calls}: an empty answer ({len(listed)} bundles listed)", file=sys.stderr)
            return 1
        if not seen:
            print("calling", flush=True)
        if not seen or seen[-1] != head.skipRange:
            seen.append(head.skipRange)
            print(f"seen {head.skipRange}", flush=True)
        if head.skipRange == args.want:
            break
    print(f"{calls} calls, skipRanges seen: {seen}", file=sys.stderr)
    if seen[:1] != [args.first] or seen[-1:] != [args.want]:
        print(f"expected {args.first!r} first and {args.want!r} last", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
