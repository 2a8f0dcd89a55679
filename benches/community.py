#!/usr/bin/env python3
"""Benchmark on real data: adopt community-operators-prod with `catbuild
init` and build all of its operators/, as its own pipeline publishes it.

Reports what a lead needs to judge adoption at scale:

* packages built, and the packages rejected with why (each error's
  diagnostic code and message, by package);
* problems by kind (severity and diagnostic code);
* wall time and peak RSS (GNU time) of `init`, of the full build, of the
  build without the rejected packages, and of `catbuild validate` of the
  FBC it wrote; the read+sha256 floor of operators/ measured in the same
  run, right before each build, and each build's ratio to it;
* channels compared with every published catalog in catalogs/: for each
  package catbuild built that a catalogs/<version>/<package>/ holds, are
  the channel entries (name, replaces, skips, skipRange, per channel)
  the same? Counted per (catalog version, package), and apart for the
  catalog version whose template `init` adopted.

Nothing is written inside COP: the project lives in a scratch dir (a
symlink to COP/operators, so locations read `operators/<package>/...`).
A bench, not a test: it prints numbers and never fails on them.

usage: community.py --cop DIR [--catbuild PATH] [--work DIR] [--keep]
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def timed(cmd, cwd, stderr_path=None):
    """Runs cmd under GNU time -v; returns (exit code, seconds, peak RSS KiB)."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        with open(stderr_path or os.devnull, "w") as err:
            code = subprocess.run(["/usr/bin/time", "-v", "-o", report.name] + cmd, cwd=cwd,
                                  stdout=subprocess.DEVNULL, stderr=err).returncode
        elapsed = time.perf_counter() - start
        rss = 0
        for line in report.read().splitlines():
            if "Maximum resident set size" in line:
                rss = int(line.rsplit(":", 1)[1])
    return code, elapsed, rss


def floor(operators):
    """Seconds to read and sha256 every file under operators/."""
    start = time.perf_counter()
    subprocess.run(["sh", "-c", f"find -L '{operators}' -type f -print0 | xargs -0 cat | sha256sum"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def package_tables(toml_text):
    """catalog.toml split into its [[package]] tables: (name, first line, text)."""
    tables = []
    line = 1
    for chunk in re.split(r"(?m)^(?=\[\[package\]\]$|\[\[target\]\]$)", toml_text):
        match = re.search(r'(?m)^name = "([^"]+)"', chunk)
        if chunk.startswith("[[package]]") and match:
            tables.append((match.group(1), line, chunk))
        line += chunk.count("\n")
    return tables


def problems(stderr_text, tables):
    """Each diagnostic as (severity, code, message, package or None)."""
    found = []
    lines = stderr_text.splitlines()
    for idx, line in enumerate(lines):
        match = re.match(r"^(error|warning)\[([a-z-]+)\]: (.*)", line)
        if not match:
            continue
        severity, code, message = match.groups()
        # The diagnostic's own lines: up to the blank line that ends it.
        end = idx + 1
        while end < len(lines) and lines[end].strip():
            end += 1
        own = lines[idx:end]
        package = None
        for follow in own[1:4]:
            located = re.match(r"^\s*--> (\S+?)(?::(\d+))?(?::\d+)?$", follow)
            if not located:
                continue
            path = located.group(1)
            parts = path.split("/")
            if parts[0] == "operators" and len(parts) > 1:
                package = parts[1]
            elif path.endswith("catalog.toml") and located.group(2):
                owners = [name for name, first, _ in tables if first <= int(located.group(2))]
                package = owners[-1] if owners else None
            break
        if package is None:
            quoted = re.search(r'package "([^"]+)"|package `([^`]+)`', "\n".join(own))
            if quoted:
                package = quoted.group(1) or quoted.group(2)
        found.append((severity, code, message, package))
    return found


def channels_of(blobs, package):
    """Channel name -> sorted entries (name, replaces, skips, skipRange)."""
    channels = {}
    for blob in blobs:
        if blob.get("schema") == "olm.channel" and blob.get("package") == package:
            entries = sorted((entry["name"], entry.get("replaces", ""), tuple(sorted(entry.get("skips") or [])),
                              entry.get("skipRange", "")) for entry in blob.get("entries") or [])
            channels[blob["name"]] = entries
    return channels


def render(catbuild, path):
    """The FBC blobs of a file or directory, as opm would read them."""
    out = subprocess.run([catbuild, "render", "-q", "-o", "json", path], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    decoder = json.JSONDecoder()
    text, pos, blobs = out.stdout, 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return blobs
        blob, pos = decoder.raw_decode(text, pos)
        blobs.append(blob)


def version_key(name):
    return tuple(int(part) for part in re.findall(r"\d+", name))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cop", required=True, help="a checkout of community-operators-prod")
    parser.add_argument("--catbuild", default="target/release/catbuild")
    parser.add_argument("--work", help="scratch dir (default: a new temp dir, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir")
    args = parser.parse_args()

    catbuild = os.path.abspath(args.catbuild)
    cop = os.path.abspath(args.cop)
    operators = os.path.join(cop, "operators")
    if not os.path.isdir(operators):
        sys.exit(f"error: `{operators}` is not a directory; COP must be a community-operators-prod checkout")
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="catbuild-community-")
    if work.startswith(cop + os.sep):
        sys.exit("error: the scratch dir must be outside COP")
    os.makedirs(work, exist_ok=True)
    for name in ("operators", "catalog.toml", "build", "full.err", "kept.err", "validate.err", "init.err"):
        path = os.path.join(work, name)
        if os.path.islink(path) or os.path.isfile(path):
            os.remove(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)
    os.symlink(operators, os.path.join(work, "operators"))
    try:
        report = run(catbuild, cop, operators, work)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(report)


def run(catbuild, cop, operators, work):
    n_package_dirs = sum(1 for entry in os.scandir(operators) if entry.is_dir())
    floor(operators)  # warm the page cache
    code, init_s, init_rss = timed([catbuild, "init", "-q", "operators"], work, os.path.join(work, "init.err"))
    if code != 0:
        sys.exit(f"error: catbuild init failed; see {work}/init.err")
    toml_path = os.path.join(work, "catalog.toml")
    with open(toml_path) as handle:
        toml_text = handle.read()
    # operators/ is a link to the checkout: reading through it is asked for.
    toml_text = toml_text.replace(
        "[catalog]\n", f"[catalog]\nexternal-paths = [{json.dumps(os.path.realpath(operators))}]\n", 1)
    with open(toml_path, "w") as handle:
        handle.write(toml_text)
    tables = package_tables(toml_text)

    full_floor = floor(operators)
    full_code, full_s, full_rss = timed([catbuild, "build", "-q"], work, os.path.join(work, "full.err"))
    with open(os.path.join(work, "full.err")) as handle:
        found = problems(handle.read(), tables)
    rejected = collections.defaultdict(list)
    for severity, code, message, package in found:
        if severity == "error":
            rejected[package or "(unlocated)"].append((code, message))

    # The rejected packages left out, the rest is built and written.
    kept_text = "".join(chunk for name, _, chunk in tables if name not in rejected)
    head = toml_text[: toml_text.index("[[package]]")]
    tail = toml_text[toml_text.index("[[target]]"):]
    with open(toml_path, "w") as handle:
        handle.write(head + kept_text + tail)
    # The full build filled the action cache (build/.cache) even though it
    # wrote no catalog: without this the second build reads its 321
    # packages back from the cache, and the two times are not comparable.
    shutil.rmtree(os.path.join(work, "build"), ignore_errors=True)
    kept_floor = floor(operators)
    kept_code, kept_s, kept_rss = timed([catbuild, "build", "-q"], work, os.path.join(work, "kept.err"))
    catalog_dir = os.path.join(work, "build", "default", "catalog")
    built = sorted(os.listdir(catalog_dir)) if kept_code == 0 else []
    validate_code, validate_s, validate_rss = timed([catbuild, "validate", catalog_dir], work,
                                                    os.path.join(work, "validate.err"))
    out_bytes = sum(os.path.getsize(os.path.join(root, name)) for root, _, files in os.walk(catalog_dir)
                    for name in files) if built else 0
    in_files = in_bytes = 0
    for root, _, files in os.walk(operators):
        for name in files:
            in_files += 1
            in_bytes += os.path.getsize(os.path.join(root, name))

    # Channels against every published catalog.
    adopted = {}
    for name, _, chunk in tables:
        match = re.search(r"\(catalog (v[\d.]+)\)", chunk)
        if match:
            adopted[name] = match.group(1)
    ours = {}
    for package in built:
        blobs = render(catbuild, os.path.join(catalog_dir, package))
        ours[package] = channels_of(blobs or [], package)
    compared = collections.Counter()
    mismatches = []
    catalogs = os.path.join(cop, "catalogs")
    versions = sorted(os.listdir(catalogs), key=version_key) if os.path.isdir(catalogs) else []
    for version in versions:
        for package in sorted(os.listdir(os.path.join(catalogs, version))):
            if package not in ours:
                compared["not built by catbuild" if package in rejected else "package not in operators/"] += 1
                continue
            path = os.path.join(catalogs, version, package)
            blobs = render(catbuild, path)
            if not blobs:
                compared["published catalog missing or unreadable"] += 1
                continue
            theirs = channels_of(blobs, package)
            same = theirs == ours[package]
            is_adopted = adopted.get(package) == version
            compared[("match" if same else "differ") + (", adopted template" if is_adopted else "")] += 1
            if not same and is_adopted:
                mismatches.append(f"{package} ({version})")

    n_errors = sum(1 for severity, *_ in found if severity == "error")
    by_kind = collections.Counter(f"{severity}[{code}]" for severity, code, _, _ in found)
    lines = [
        f"community-operators-prod: {n_package_dirs} package dirs, {in_files} files, {in_bytes / 1e9:.2f} GB under operators/",
        "",
        "| run | exit | wall | floor | ratio | peak RSS |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| init | 0 | {init_s:.1f} s | | | {init_rss / 1024:.0f} MiB |",
        f"| build, all packages | {full_code} | {full_s:.1f} s | {full_floor:.1f} s | {full_s / full_floor:.2f} | {full_rss / 1024:.0f} MiB |",
        f"| build, rejected left out | {kept_code} | {kept_s:.1f} s | {kept_floor:.1f} s | {kept_s / kept_floor:.2f} | {kept_rss / 1024:.0f} MiB |",
        f"| validate of its FBC ({out_bytes / 1e9:.2f} GB) | {validate_code} | {validate_s:.1f} s | | | {validate_rss / 1024:.0f} MiB |",
        "",
        f"packages built: {len(built)} of {len(tables)} in catalog.toml; rejected: {len(rejected)}; errors: {n_errors}",
        "",
        "problems by kind: " + ", ".join(f"{kind} {count}" for kind, count in sorted(by_kind.items())),
        "",
        "channels against published catalogs (per catalog version and package): "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(compared.items())),
    ]
    if mismatches:
        lines.append("differ from the adopted template's catalog: " + ", ".join(mismatches))
    lines.append("")
    lines.append("rejected packages (first error of each):")
    for package in sorted(rejected):
        errors = rejected[package]
        code, message = errors[0]
        lines.append(f"  {package}: {len(errors)} error(s); [{code}] {message[:140]}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
