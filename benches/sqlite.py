#!/usr/bin/env python3
"""Benchmark: the SQLite index (issue 14) on a synthetic 1,000-bundle tree,
in both layouts synth.py writes (bundle directories and package manifests),
against the floor of reading and hashing the same input.

For each layout, back to back and in alternation on a warm page cache:

* the floor: `find TREE -type f -print0 | xargs -0 cat | sha256sum`;
* `catbuild build` of the tree to `index.db` only (`formats = ["sqlite"]`),
  into an empty build/ (target: at most 5x the floor);
* `catbuild render index.db > /dev/null` of the database just built
  (target: at most 3x the floor and 100 MB peak RSS); the floor of reading
  and hashing the database itself is printed beside it.

Every run is printed, then one summary line per layout: medians, ratios,
the database size, peak RSS (GNU time) and the CPU seconds of each (user +
sys), which say more than wall time on a machine shared with other jobs.
Timings are benchmarks, not tests: nothing here fails on a slow machine.

usage: sqlite.py [--bundles N] [--runs K] [--catbuild PATH] [--shared DIR]
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


def timed(cmd, cwd=None, stdout=subprocess.DEVNULL):
    """Runs cmd under GNU time: (wall seconds, CPU seconds, peak RSS KiB)."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", report.name] + cmd, cwd=cwd, check=True,
                       stdout=stdout)
        elapsed = time.perf_counter() - start
        user, system, rss = report.read().strip().splitlines()[-1].split()
    return elapsed, float(user) + float(system), int(rss)


def project(work, tree, layout, catbuild):
    """A catalog.toml for the tree (catbuild init) that writes only index.db."""
    subprocess.run([catbuild, "init", "-q", tree], cwd=work, check=True)
    path = os.path.join(work, "catalog.toml")
    with open(path) as handle:
        text = handle.read()
    text = text.replace('formats = ["fbc-json"]', 'formats = ["sqlite"]')
    if layout == "bundle":
        # As in fbc_build.py: synth.py's replaces-mode bundle packages skip
        # bundles their own chain still runs through, which opm's model
        # refuses; the semver template links the same bundles validly.
        text = text.replace('channel-policy = "replaces"', 'channel-policy = "semver-template"')
    with open(path, "w") as handle:
        handle.write(text)


def median(values):
    return round(statistics.median(values), 3)


def bench_layout(layout, args, catbuild, work):
    tree = os.path.join(work, "tree")
    synth = [sys.executable, os.path.join(args.shared, "corpus", "synth.py"), "--bundles", str(args.bundles),
             "--out", tree]
    if layout == "package-manifest":
        synth += ["--layout", "package-manifest"]
    subprocess.run(synth, check=True, stdout=subprocess.DEVNULL)
    project(work, tree, layout, catbuild)
    db = os.path.join(work, "build", "default", "index.db")
    floor = ["sh", "-c", f"find {tree} -type f -print0 | xargs -0 cat | sha256sum"]
    db_floor = ["sh", "-c", f"cat {db} | sha256sum"]
    build = [catbuild, "build", "-q"]
    render = [catbuild, "render", db]
    runs = {"floor": [], "build": [], "render": [], "db_floor": []}
    # One untimed round warms the page cache for every command.
    timed(floor)
    timed(build, cwd=work)
    timed(render, cwd=work)
    for run in range(args.runs):
        runs["floor"].append(timed(floor))
        shutil.rmtree(os.path.join(work, "build"), ignore_errors=True)
        runs["build"].append(timed(build, cwd=work))
        runs["db_floor"].append(timed(db_floor))
        runs["render"].append(timed(render, cwd=work))
        print(json.dumps({"layout": layout, "run": run + 1,
                          **{f"{name}_s": round(values[-1][0], 3) for name, values in runs.items()}}))
    n_bytes = sum(os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(tree) for name in files)
    wall = {name: median([value[0] for value in values]) for name, values in runs.items()}
    cpu = {name: median([value[1] for value in values]) for name, values in runs.items()}
    print(json.dumps({
        "layout": layout, "bundles": args.bundles, "input_bytes": n_bytes, "runs": args.runs,
        "floor_median_s": wall["floor"],
        "build_median_s": wall["build"], "build_ratio": round(wall["build"] / wall["floor"], 2), "build_target_ratio": 5.0,
        "render_median_s": wall["render"], "render_ratio": round(wall["render"] / wall["floor"], 2),
        "render_target_ratio": 3.0, "db_floor_median_s": wall["db_floor"],
        "index_db_bytes": os.path.getsize(db),
        "build_peak_rss_mib": round(max(value[2] for value in runs["build"]) / 1024, 1),
        "render_peak_rss_mib": round(max(value[2] for value in runs["render"]) / 1024, 1),
        "render_target_rss_mib": 100,
        "cpu_median_s": cpu, "cpus": os.cpu_count(), "loadavg_1min": round(os.getloadavg()[0], 1),
    }))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--catbuild", default="target/release/catbuild")
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--layout", choices=["bundle", "package-manifest"], action="append")
    args = parser.parse_args()
    catbuild = os.path.abspath(args.catbuild)
    for layout in args.layout or ["bundle", "package-manifest"]:
        work = tempfile.mkdtemp(prefix="catbuild-bench-sqlite-")
        try:
            bench_layout(layout, args, catbuild, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
