#!/usr/bin/env python3
"""Benchmark: rebuilds with the action cache (issue 19) against the floor
of reading and hashing the same input files.

On a synthetic tree (../shared/corpus/synth.py), after one cold build:
* no-op: `catbuild build` again, nothing changed;
* one-bundle edit: one CSV changed (a value inside `alm-examples`), then
  `catbuild build`;
each RUNS times, back to back with the floor
(`find DIR -type f -print0 | xargs -0 cat | sha256sum`) on the same warm
page cache. Prints every run, then the medians and the ratios to the floor
(the issue's targets: no-op <= 5%, one-bundle edit <= 10%). Timings are
benchmarks, not tests: nothing here fails on a slow machine.

usage: incremental.py [--bundles N] [--runs K] [--catbuild PATH] [--shared DIR]
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
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--catbuild", default="target/release/catbuild")
    parser.add_argument("--shared", default="../shared")
    args = parser.parse_args()

    catbuild = os.path.abspath(args.catbuild)
    work = tempfile.mkdtemp(prefix="catbuild-incremental-")
    try:
        tree = os.path.join(work, "tree")
        subprocess.run([sys.executable, os.path.join(args.shared, "corpus", "synth.py"), "--bundles",
                        str(args.bundles), "--out", tree], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([catbuild, "init", "-q", "tree"], cwd=work, check=True)
        csvs = sorted(
            os.path.join(root, name)
            for root, _, files in os.walk(tree)
            for name in files
            if name.endswith(".clusterserviceversion.yaml")
        )
        csv = csvs[len(csvs) // 2]
        floor = ["sh", "-c", f"find {tree} -type f -print0 | xargs -0 cat | sha256sum"]
        build = [catbuild, "build", "-q"]
        timed(floor)
        cold = timed(build, cwd=work)
        floor_times, noop_times, edit_times = [], [], []
        for run in range(args.runs):
            floor_times.append(timed(floor))
            noop_times.append(timed(build, cwd=work))
            with open(csv) as handle:
                text = handle.read()
            # Alternate between two values, so every run is a real change.
            old, new = ('"replicas": 1,', '"replicas": 2,') if run % 2 == 0 else ('"replicas": 2,', '"replicas": 1,')
            assert old in text, csv
            with open(csv, "w") as handle:
                handle.write(text.replace(old, new, 1))
            edit_times.append(timed(build, cwd=work))
            print(json.dumps({"run": run + 1, "floor_s": round(floor_times[-1], 3),
                              "noop_s": round(noop_times[-1], 3), "one_bundle_edit_s": round(edit_times[-1], 3)}))
        n_bytes = sum(os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(tree)
                      for name in files)
        floor_median = statistics.median(floor_times)
        noop_median = statistics.median(noop_times)
        edit_median = statistics.median(edit_times)
        print(json.dumps({
            "bundles": args.bundles, "bytes": n_bytes, "runs": args.runs, "cold_build_s": round(cold, 3),
            "floor_median_s": round(floor_median, 3),
            "noop_median_s": round(noop_median, 3), "noop_ratio": round(noop_median / floor_median, 3),
            "noop_target": 0.05,
            "edit_median_s": round(edit_median, 3), "edit_ratio": round(edit_median / floor_median, 3),
            "edit_target": 0.10, "cpus": os.cpu_count(),
        }))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
