#!/usr/bin/env python3
"""Benchmark: the FBC read path on the FBC that `catbuild build` makes from
a synthetic tree (1,000 bundles by default), against the floor of reading
the FBC dir (`cat | sha256sum`), measured back to back in each run:
`catbuild validate DIR` and `catbuild render DIR` (wall time, peak RSS),
and `catbuild serve DIR` (time from start until the gRPC health service
says SERVING, the server's RSS after one full ListBundles). Needs grpcio and grpcio-health-checking (as the
tests do); the stubs come from proto/registry.proto at run time.
"""

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def stubs():
    out = tempfile.mkdtemp(prefix="serve-bench-")
    # The generated stubs are only needed until the process ends.
    atexit.register(shutil.rmtree, out, True)
    import importlib.resources
    from grpc_tools import protoc

    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    proto_dir = os.path.join(REPO, "proto")
    code = protoc.main(["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out}",
                        f"--grpc_python_out={out}", "registry.proto"])
    if code != 0:
        sys.exit("grpc_tools.protoc failed")
    sys.path.insert(0, out)
    import registry_pb2
    import registry_pb2_grpc
    return registry_pb2, registry_pb2_grpc


def timed(command):
    """Wall time and peak RSS (KiB) of a command, its stdout discarded."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} exited with {process.returncode}")
    return elapsed, usage.ru_maxrss


def serve_once(catbuild, catalog, pb, pb_grpc):
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    start = time.monotonic()
    server = subprocess.Popen([catbuild, "serve", catalog, "--addr", "127.0.0.1:0", "--name", "bench"],
                              stderr=subprocess.PIPE, text=True)
    try:
        address = None
        for line in server.stderr:
            if line.startswith("  gRPC  "):
                address = line.split()[1]
                break
        if address is None:
            sys.exit("catbuild serve did not start")
        channel = grpc.insecure_channel(address)
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                pass
            time.sleep(0.005)
        healthy = time.monotonic() - start
        n_bundles = sum(1 for _ in pb_grpc.RegistryStub(channel).ListBundles(pb.ListBundlesRequest()))
        rss = status_kib(server.pid, "VmRSS")
        peak = status_kib(server.pid, "VmHWM")
        channel.close()
        return healthy, rss, peak, n_bundles
    finally:
        server.send_signal(2)
        server.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--catbuild", default="target/release/catbuild")
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--catalog", help="an FBC dir made before (skips making the synth tree and its build)")
    parser.add_argument("--only", choices=["validate", "render", "serve"], action="append",
                        help="measure only these (repeatable; default: all three)")
    args = parser.parse_args()

    catbuild = os.path.abspath(args.catbuild)
    pb, pb_grpc = stubs()
    work = tempfile.mkdtemp(prefix="catbuild-bench-serve-")
    try:
        if args.catalog:
            catalog = os.path.abspath(args.catalog)
        else:
            tree = os.path.join(work, "tree")
            subprocess.run([sys.executable, os.path.join(args.shared, "corpus", "synth.py"), "--bundles",
                            str(args.bundles), "--out", tree], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([catbuild, "init", "-q", "tree"], cwd=work, check=True)
            subprocess.run([catbuild, "build", "-q"], cwd=work, check=True)
            catalogs = [os.path.join(root, "catalog") for root in
                        (os.path.join(work, "build", name) for name in sorted(os.listdir(os.path.join(work, "build"))))
                        if os.path.isdir(os.path.join(root, "catalog"))]
            catalog = catalogs[0]
        only = set(args.only or ["validate", "render", "serve"])
        floor = ["sh", "-c", f"find {catalog} -type f -print0 | xargs -0 cat | sha256sum"]
        n_bytes = sum(os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(catalog)
                      for name in files)
        # One untimed round warms the page cache for both.
        subprocess.run(floor, check=True, stdout=subprocess.DEVNULL)
        if "serve" in only:
            serve_once(catbuild, catalog, pb, pb_grpc)
        commands = {name: command for name, command in
                    (("validate", [catbuild, "validate", catalog]), ("render", [catbuild, "render", catalog]))
                    if name in only}
        floors, healthies, rsses, peaks = [], [], [], []
        times = {name: [] for name in commands}
        maxrss = {name: [] for name in commands}
        for run in range(args.runs):
            floors.append(timed(floor)[0])
            line = {"run": run + 1, "floor_s": round(floors[-1], 3)}
            for name, command in commands.items():
                elapsed, peak_kib = timed(command)
                times[name].append(elapsed)
                maxrss[name].append(peak_kib)
                line[f"{name}_s"] = round(elapsed, 3)
                line[f"{name}_peak_rss_kib"] = peak_kib
            if "serve" in only:
                healthy, rss, peak, n_bundles = serve_once(catbuild, catalog, pb, pb_grpc)
                healthies.append(healthy)
                rsses.append(rss)
                peaks.append(peak)
                line.update({"healthy_s": round(healthy, 3), "rss_after_list_bundles_kib": rss,
                             "peak_rss_kib": peak, "bundles_listed": n_bundles})
            print(json.dumps(line), flush=True)
        floor_median = statistics.median(floors)
        summary = {"bundles": args.bundles, "fbc_bytes": n_bytes, "runs": args.runs,
                   "floor_median_s": round(floor_median, 3)}
        for name in commands:
            summary[f"{name}_median_s"] = round(statistics.median(times[name]), 3)
            summary[f"{name}_ratio"] = round(statistics.median(times[name]) / floor_median, 2)
            summary[f"{name}_peak_rss_max_mib"] = round(max(maxrss[name]) / 1024, 1)
        if healthies:
            summary.update({
                "healthy_median_s": round(statistics.median(healthies), 3),
                "ratio": round(statistics.median(healthies) / floor_median, 2),
                "rss_after_list_bundles_median_mib": round(statistics.median(rsses) / 1024, 1),
                "peak_rss_max_mib": round(max(peaks) / 1024, 1),
            })
        summary.update({"cpus": os.cpu_count(), "load": os.getloadavg()[0]})
        print(json.dumps(summary))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
