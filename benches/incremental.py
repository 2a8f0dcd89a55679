#!/usr/bin/env python3
"""Benchmark: builds with the action cache (issue 19) against the floor of
reading and hashing the same input files.

On a synthetic tree (../shared/corpus/synth.py, or --tree DIR made by it
earlier: a 10,000-bundle tree takes a while to make), each figure RUNS
times, back to back with the floor (`find DIR -type f -print0 | xargs -0
cat | sha256sum`) on the same warm page cache:
* cold to FBC: `catbuild build` with no build/ and no cache;
* cold to FBC + SQLite + every OCI layout (`--format fbc-json,sqlite
  --images`), into another output directory, no cache either;
* no-op: `catbuild build` again, nothing changed;
* one-bundle edit: one CSV changed (a value inside `alm-examples`, a new
  one each run, so the action cache has never seen it), then
  `catbuild build`;
* one-bundle edit with the catalog image layout (`--images`).
Prints every run, then the medians, the ratios to the floor (the issue's
targets: cold FBC <= 2x, cold all <= 5x, no-op <= 5%, one-bundle edit
<= 10%) and the peak RSS of the cold builds against the input bytes
(target <= 25%). Timings are benchmarks, not tests: nothing here fails on
a slow machine.

usage: incremental.py [--bundles N] [--tree DIR] [--runs K] [--cold-runs K]
                      [--catbuild PATH] [--shared DIR]
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
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        rss = int(report.read().strip().splitlines()[-1])
    return elapsed, rss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundles", type=int, default=1000)
    parser.add_argument("--tree", help="an existing synth.py tree (left as it was found)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--catbuild", default="target/release/catbuild")
    parser.add_argument("--shared", default="../shared")
    args = parser.parse_args()

    catbuild = os.path.abspath(args.catbuild)
    work = tempfile.mkdtemp(prefix="catbuild-incremental-")
    csv, original = None, None
    try:
        tree = os.path.join(work, "tree")
        if args.tree:
            os.symlink(os.path.abspath(args.tree), tree)
        else:
            subprocess.run([sys.executable, os.path.join(args.shared, "corpus", "synth.py"), "--bundles",
                            str(args.bundles), "--out", tree], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([catbuild, "init", "-q", "tree"], cwd=work, check=True)
        if args.tree:
            # Its bundles resolve outside the scratch project: allow them.
            config = os.path.join(work, "catalog.toml")
            with open(config) as handle:
                text = handle.read()
            allowed = json.dumps(os.path.realpath(args.tree))
            with open(config, "w") as handle:
                handle.write(text.replace("[catalog]\n", f"[catalog]\nexternal-paths = [{allowed}]\n", 1))
        csvs = sorted(
            os.path.join(root, name)
            for root, _, files in os.walk(tree, followlinks=True)
            for name in files
            if name.endswith(".clusterserviceversion.yaml")
        )
        csv = csvs[len(csvs) // 2]
        with open(csv) as handle:
            original = handle.read()
        n_bundles = len(csvs)
        n_bytes = sum(os.path.getsize(os.path.join(root, name))
                      for root, _, files in os.walk(tree, followlinks=True) for name in files)
        floor = ["sh", "-c", f"find -L {tree} -type f -print0 | xargs -0 cat | sha256sum"]
        build = [catbuild, "build", "-q"]
        build_all = [catbuild, "build", "-q", "--format", "fbc-json,sqlite", "--images"]
        times = {name: [] for name in ("floor", "cold_fbc", "cold_all", "noop", "edit", "edit_images")}
        rss = {"cold_fbc": [], "cold_all": []}
        timed(floor)

        def record(name, seconds_rss):
            times[name].append(seconds_rss[0])
            if name in rss:
                rss[name].append(seconds_rss[1])

        # Each cold build writes into a directory of its own, removed only
        # at the end: on ext4 without a journal, files created right after
        # a big removal cost several times more system time (the allocator
        # passes over recently freed inodes), which measures the removal.
        for run in range(args.cold_runs):
            record("floor", timed(floor))
            record("cold_fbc", timed(build + ["--out", f"cold-fbc-{run}"], cwd=work))
            record("cold_all", timed(build_all + ["--out", f"cold-all-{run}"], cwd=work))
            print(json.dumps({"cold_run": run + 1, "floor_s": round(times["floor"][-1], 3),
                              "cold_fbc_s": round(times["cold_fbc"][-1], 3),
                              "cold_fbc_peak_rss_kib": rss["cold_fbc"][-1],
                              "cold_all_s": round(times["cold_all"][-1], 3),
                              "cold_all_peak_rss_kib": rss["cold_all"][-1]}), flush=True)
        # The warm figures start from a build that filled the cache, and an
        # images build whose layout the edits then change.
        timed(build, cwd=work)
        images = [catbuild, "build", "-q", "--images", "--out", "build-images"]
        timed(images, cwd=work)
        for run in range(args.runs):
            record("floor", timed(floor))
            record("noop", timed(build, cwd=work))
            # A value no earlier run wrote: going back to an earlier text
            # would be a cache hit, not an edit.
            text = original.replace('"replicas": 1,', f'"replicas": {run + 2},', 1)
            assert text != original, csv
            with open(csv, "w") as handle:
                handle.write(text)
            record("edit", timed(build, cwd=work))
            record("edit_images", timed(images, cwd=work))
            print(json.dumps({"run": run + 1, "floor_s": round(times["floor"][-1], 3),
                              "noop_s": round(times["noop"][-1], 3), "one_bundle_edit_s": round(times["edit"][-1], 3),
                              "one_bundle_edit_images_s": round(times["edit_images"][-1], 3)}), flush=True)
        floor_median = statistics.median(times["floor"])
        summary = {"bundles": n_bundles, "bytes": n_bytes, "runs": args.runs, "cold_runs": args.cold_runs,
                   "floor_median_s": round(floor_median, 3), "cpus": os.cpu_count()}
        targets = {"cold_fbc": 2.0, "cold_all": 5.0, "noop": 0.05, "edit": 0.10, "edit_images": 0.10}
        for name, target in targets.items():
            if times[name]:
                median = statistics.median(times[name])
                summary[f"{name}_median_s"] = round(median, 3)
                summary[f"{name}_ratio"] = round(median / floor_median, 3)
                summary[f"{name}_target"] = target
        for name, values in rss.items():
            if values:
                summary[f"{name}_peak_rss_mib"] = round(max(values) / 1024, 1)
                summary[f"{name}_peak_rss_of_input"] = round(max(values) * 1024 / n_bytes, 3)
        summary["peak_rss_target"] = 0.25
        print(json.dumps(summary))
    finally:
        if csv and original is not None:
            with open(csv, "w") as handle:
                handle.write(original)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
