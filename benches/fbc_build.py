#!/usr/bin/env python3
"""Benchmark: cold `catbuild build` of a synthetic tree to FBC, against the
floor of reading and hashing the same input files.

The floor is `find DIR -type f -print0 | xargs -0 cat | sha256sum`; the
issue's target is catbuild <= 3x the floor. Both run back to back, in
alternation, on the same warm page cache, RUNS times each; the script
prints every run and the medians, the ratio and catbuild's peak RSS
(from GNU time). Timings are benchmarks, not tests: nothing here fails on
a slow machine.

usage: fbc_build.py [--bundles N] [--runs K] [--catbuild PATH] [--shared DIR]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd, cwd=None):
    """Runs cmd under GNU time; returns (seconds, peak RSS in KiB)."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name] + cmd, cwd=cwd, check=True,
                       stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        rss = int(report.read().strip().splitlines()[-1])
    return elapsed, rss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--catbuild", default="target/release/catbuild")
    parser.add_argument("--shared", default="../shared")
    args = parser.parse_args()

    catbuild = os.path.abspath(args.catbuild)
    work = tempfile.mkdtemp(prefix="catbuild-bench-")
    try:
        tree = os.path.join(work, "tree")
        subprocess.run([sys.executable, os.path.join(args.shared, "corpus", "synth.py"), "--bundles",
                        str(args.bundles), "--out", tree], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([catbuild, "init", "-q", "tree"], cwd=work, check=True)
        # Each package keeps the policy init gives it: synth.py's
        # replaces-mode packages are valid under opm HEAD's rules.
        floor = ["sh", "-c", f"find {tree} -type f -print0 | xargs -0 cat | sha256sum"]
        build = [catbuild, "build", "-q"]
        floor_times, build_times, rss = [], [], []
        # One untimed round warms the page cache for both.
        timed(floor)
        timed(build, cwd=work)
        for run in range(args.runs):
            seconds, _ = timed(floor)
            floor_times.append(seconds)
            shutil.rmtree(os.path.join(work, "build"), ignore_errors=True)
            seconds, peak = timed(build, cwd=work)
            build_times.append(seconds)
            rss.append(peak)
            print(json.dumps({"run": run + 1, "floor_s": round(floor_times[-1], 3),
                              "catbuild_s": round(seconds, 3), "catbuild_peak_rss_kib": peak}))
        n_files = sum(len(files) for _, _, files in os.walk(tree))
        n_bytes = sum(os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(tree)
                      for name in files)
        floor_median = statistics.median(floor_times)
        build_median = statistics.median(build_times)
        print(json.dumps({
            "bundles": args.bundles, "files": n_files, "bytes": n_bytes, "runs": args.runs,
            "floor_median_s": round(floor_median, 3), "catbuild_median_s": round(build_median, 3),
            "ratio": round(build_median / floor_median, 2), "target_ratio": 3.0,
            "catbuild_peak_rss_mib": round(max(rss) / 1024, 1), "cpus": os.cpu_count(),
        }))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
