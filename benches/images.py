#!/usr/bin/env python3
"""Benchmark: catbuild building and pushing 1 and 20 bundle images against
the incumbent, buildah (`../shared/tools/bench-baseline`), back to back.

Both get synth.py's bundles with the same seed and push to a loopback
docker-registry under new repository names each run, so every blob is
uploaded. catbuild's timed command is a whole `catbuild build --push`
from cold (no build/): load, render, catalog, bundle and catalog images,
layout written, push. The baseline runs first, then catbuild; the script
prints each run, the medians and the ratio (baseline / catbuild). Timings
are benchmarks, not tests: nothing here fails on a slow machine.

usage: images.py [--runs K] [--cases 1,20] [--catbuild PATH] [--shared DIR]
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

SEED = "catbuild-bench"


def project(work, shared, catbuild, n):
    tree = os.path.join(work, "tree")
    subprocess.run([sys.executable, os.path.join(shared, "corpus", "synth.py"), "--bundles", str(n),
                    "--seed", SEED, "--out", tree], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([catbuild, "init", "-q", "tree"], cwd=work, check=True)
    path = os.path.join(work, "catalog.toml")
    with open(path) as handle:
        text = handle.read()
    # As in fbc_build.py: synth's replaces chains run through skipped
    # bundles, which opm's model refuses; the semver template links them.
    text = text.replace('channel-policy = "replaces"', 'channel-policy = "semver-template"')
    text = text.replace("[catalog]\n", "[catalog]\nbundle-image = \"bench.invalid/{{ bundle.package }}-bundle:v{{ bundle.version }}\"\n"
                        "image = \"bench.invalid/catalog:latest\"\n", 1)
    text += "\n[images]\nbuild = true\n"
    with open(path, "w") as handle:
        handle.write(text)


def baseline(shared, cases, runs):
    """Runs bench-baseline; returns {n: median seconds}."""
    tool = os.path.join(shared, "tools", "bench-baseline")
    result = subprocess.run([tool, "--synth", str(max(cases)), "--seed", SEED, "--runs", str(runs),
                             "--cases", ",".join(map(str, cases))],
                            check=True, stdout=subprocess.PIPE, text=True)
    medians = {}
    for line in result.stdout.splitlines():
        record = json.loads(line)
        print(json.dumps({"tool": "buildah", **record}))
        if record.get("summary") and record.get("case") == "bundles":
            medians[record["n"]] = record["median_s"]
    return medians


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", default="1,20")
    parser.add_argument("--catbuild", default="target/release/catbuild")
    parser.add_argument("--shared", default="../shared")
    args = parser.parse_args()
    cases = [int(case) for case in args.cases.split(",")]
    catbuild = os.path.abspath(args.catbuild)
    shared = os.path.abspath(args.shared)

    buildah = baseline(shared, cases, args.runs)

    registry_tool = os.path.join(shared, "tools", "registry")
    started = subprocess.run([registry_tool, "--background"], check=True, stdout=subprocess.PIPE, text=True)
    env = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    ours = {}
    try:
        for n in cases:
            work = tempfile.mkdtemp(prefix="catbuild-bench-images-")
            try:
                project(work, shared, catbuild, n)
                times = []
                for run in range(args.runs + 1):
                    shutil.rmtree(os.path.join(work, "build"), ignore_errors=True)
                    prefix = f"{env['REGISTRY']}/n{n}-run{run}-{os.getpid()}"
                    start = time.perf_counter()
                    subprocess.run([catbuild, "build", "-q", "--push", "--registry", prefix], cwd=work, check=True)
                    seconds = time.perf_counter() - start
                    if run == 0:
                        continue  # warms the page cache, as the baseline's first build does not count either
                    times.append(seconds)
                    print(json.dumps({"tool": "catbuild", "case": "bundles", "n": n, "run": run, "seconds": round(seconds, 4)}))
                ours[n] = statistics.median(times)
                print(json.dumps({"tool": "catbuild", "case": "bundles", "n": n, "runs": args.runs,
                                  "median_s": round(ours[n], 4), "summary": True}))
            finally:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        subprocess.run([registry_tool, "--stop", env["PIDFILE"]], stdout=subprocess.DEVNULL)
    for n in cases:
        if n in buildah and n in ours:
            print(json.dumps({"summary": "images", "n": n, "buildah_median_s": buildah[n],
                              "catbuild_median_s": round(ours[n], 4), "ratio": round(buildah[n] / ours[n], 1)}))


if __name__ == "__main__":
    main()
