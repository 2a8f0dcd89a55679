//! Issue 22: hostile and malformed input on a copy of the example project.
//! Each case breaks one thing after a good build, runs `catbuild` with a
//! deadline, and asserts the exact error (or, for input catbuild must take
//! as opm does, byte-identical output), the exit code, a small report, a
//! time and a peak-memory bound (the child's `ru_maxrss`), that nothing
//! was written outside the build directory and that the good build's
//! output is byte for byte what it was.
//!
//! One table, [`CASES`], serves two uses: `cargo test` runs every case
//! small (`Scale::Test`), and `make reliability` runs them full size with
//! `CATBUILD_RELIABILITY_REPORT=docs/reliability.md`, which writes the
//! table of outcomes, with the fuzz targets' last figures
//! (`fuzz/last-run.tsv`), to that file.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{example_project, tree};

/// The bundle most cases put their bad file in.
const MANIFESTS: &str = "manifests/fruits-catalog-operator/0.0.1/manifests";

/// The bundle's CSV.
const CSV: &str = "manifests/fruits-catalog-operator/0.0.1/manifests/fruits-catalog-operator.clusterserviceversion.yaml";

/// The templated CSV's bundle, where a `.j2` manifest renders.
const TEMPLATED: &str = "manifests/fruits-catalog-operator/0.0.3/manifests";

/// How big the hostile inputs are: small under `cargo test`, as the issue
/// states them under `make reliability`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scale {
    Test,
    Full,
}

/// What a case's damage sets up.
struct Ctx<'a> {
    dir: &'a Path,
    /// A directory outside the project, for files links lead to.
    outside: &'a Path,
    scale: Scale,
}

/// What the run must do.
enum Expect {
    /// Exit 1, stderr starting with this text.
    Refused(String),
    /// Exit 0, and the output byte for byte the good build's.
    SameOutput,
    /// Exit 0: input opm takes, which catbuild must take too.
    Built,
}

struct Case {
    name: &'static str,
    /// The hostile input, for docs/reliability.md.
    input: &'static str,
    /// Arguments after `catbuild`.
    args: &'static [&'static str],
    /// Bounds on the run (at `Scale::Full`, which bounds `Scale::Test` too).
    max_seconds: f64,
    max_rss_mib: u64,
    damage: fn(&Ctx) -> Expect,
}

/// The usual bounds: an example build takes a fraction of a second and
/// about 30 MB.
const SECONDS: f64 = 20.0;
const RSS_MIB: u64 = 200;

/// Killed past this, whatever the case's bound.
const DEADLINE: Duration = Duration::from_secs(60);

const BUILD: &[&str] = &["build"];

fn refused(text: impl Into<String>) -> Expect {
    Expect::Refused(text.into())
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::write(path, bytes).unwrap();
}

fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    write(path, change(text));
}

/// Appends `[limits]` with `keys` to catalog.toml; returns the line the
/// first key is on.
fn limits(dir: &Path, keys: &str) -> usize {
    let path = dir.join("catalog.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text.lines().count() + 3;
    write(&path, format!("{text}\n[limits]\n{keys}\n"));
    line
}

fn catalog_key(dir: &Path, line: &str) {
    edit(&dir.join("catalog.toml"), |text| {
        text.replacen("[catalog]\n", &format!("[catalog]\n{line}\n"), 1)
    });
}

/// Sets the package's `icon`; it lands on line 26 of catalog.toml.
fn package_icon(dir: &Path, icon: &str) {
    edit(&dir.join("catalog.toml"), |text| {
        text.replace(
            "default-channel = \"stable\"\n",
            &format!("default-channel = \"stable\"\nicon = {}\n", toml_string(icon)),
        )
    });
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// `path` as catbuild shows it: relative to the project when inside it.
fn resolved(path: &Path) -> String {
    path.canonicalize().unwrap().display().to_string()
}

/// A sparse file of `size` bytes: huge on paper, nothing on disk.
fn sparse(path: &Path, size: u64) {
    std::fs::File::create(path).unwrap().set_len(size).unwrap();
}

fn nested_flow(depth: usize) -> String {
    format!(
        "kind: ConfigMap\nmetadata: {{name: d}}\ndata: {{k: {}{}}}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

/// A copy of the good build's FBC of the example as `fbc/`, with `name`
/// beside the package's catalog holding `text` (`catbuild validate fbc`).
fn fbc_with(ctx: &Ctx, name: &str, text: String) {
    let fbc = ctx.dir.join("fbc");
    common::copy_dir(&ctx.dir.join("build/ocp-4.16/catalog"), &fbc);
    write(&fbc.join("fruits-catalog-operator").join(name), text);
}

/// A blob of an unknown schema (opm keeps those) whose `v` is `arrays`
/// flow sequences deep: with the blob's own `{`, JSON nests one more.
fn deep_blob_json(arrays: usize) -> String {
    format!(
        "{{\"schema\":\"x.deep\",\"package\":\"fruits-catalog-operator\",\"v\":{}{}}}\n",
        "[".repeat(arrays),
        "]".repeat(arrays)
    )
}

fn deep_blob_yaml(arrays: usize) -> String {
    format!(
        "schema: x.deep\npackage: fruits-catalog-operator\nv: {}{}\n",
        "[".repeat(arrays),
        "]".repeat(arrays)
    )
}

const VALIDATE_FBC: &[&str] = &["validate", "fbc"];

/// Block sequences `depth` deep under `data.k`: with the document, `data`
/// and `k`, 9,998 is the deepest go-yaml's limit of 10,000 lets through.
fn nested_block(depth: usize) -> String {
    format!("kind: ConfigMap\nmetadata: {{name: d}}\ndata:\n  k:\n    {}x\n", "- ".repeat(depth))
}

const CASES: &[Case] = &[
    // --- special files -------------------------------------------------
    Case {
        name: "fifo_among_the_manifests",
        input: "a FIFO in `manifests/`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            mkfifo(&ctx.dir.join(MANIFESTS).join("pipe.yaml"));
            refused(
                "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/pipe.yaml`: it is not a regular file (a FIFO, socket or device)\n",
            )
        },
    },
    Case {
        name: "socket_among_the_manifests",
        input: "a Unix socket in `manifests/`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let listener = std::os::unix::net::UnixListener::bind(ctx.dir.join(MANIFESTS).join("socket.yaml")).unwrap();
            drop(listener);
            refused(
                "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/socket.yaml`: it is not a regular file (a FIFO, socket or device)\n",
            )
        },
    },
    Case {
        name: "link_to_dev_zero_among_the_manifests",
        input: "a link to `/dev/zero` in `manifests/`, `/dev` allowed",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            symlink("/dev/zero", &ctx.dir.join(MANIFESTS).join("zero.yaml"));
            // Allowed to lead there, so the device itself is what is refused.
            catalog_key(ctx.dir, "external-paths = [\"/dev\"]");
            refused(
                "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/zero.yaml`: it is not a regular file (a FIFO, socket or device)\n",
            )
        },
    },
    Case {
        name: "link_to_dev_urandom_among_the_manifests",
        input: "a link to `/dev/urandom` in `manifests/`, `/dev` not allowed",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            symlink("/dev/urandom", &ctx.dir.join(MANIFESTS).join("random.yaml"));
            refused(
                "error[bundle]: `manifests/fruits-catalog-operator/0.0.1/manifests/random.yaml` leads to `/dev/urandom`, outside the project\n",
            )
        },
    },
    Case {
        name: "fifo_as_catalog_toml",
        input: "a FIFO given as catalog.toml (`--config`)",
        args: &["--config", "other.toml", "build"],
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let fifo = ctx.dir.join("other.toml");
            mkfifo(&fifo);
            refused(format!(
                "error[config]: cannot read `{}`: it is not a regular file (a FIFO, socket or device)\n",
                resolved(&fifo)
            ))
        },
    },
    Case {
        name: "dev_zero_as_catalog_toml",
        input: "`/dev/zero` given as catalog.toml",
        args: &["--config", "/dev/zero", "build"],
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |_| refused("error[config]: cannot read `/dev/zero`: it is not a regular file (a FIFO, socket or device)\n"),
    },
    Case {
        name: "fifo_as_the_package_icon",
        input: "a FIFO as a package's `icon`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            mkfifo(&ctx.dir.join("icon.svg"));
            package_icon(ctx.dir, "icon.svg");
            refused(
                "error[config]: cannot read icon file `icon.svg` (the `icon` of package `fruits-catalog-operator`): it is not a regular file (a FIFO, socket or device)\n  --> catalog.toml:26:8\n",
            )
        },
    },
    Case {
        name: "dev_zero_as_the_package_icon",
        input: "`/dev/zero` as a package's `icon`, `/dev` allowed",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            catalog_key(ctx.dir, "external-paths = [\"/dev\"]");
            package_icon(ctx.dir, "/dev/zero");
            refused(
                "error[config]: cannot read icon file `/dev/zero` (the `icon` of package `fruits-catalog-operator`): it is not a regular file (a FIFO, socket or device)\n  --> catalog.toml:27:8\n",
            )
        },
    },
    // --- sizes ----------------------------------------------------------
    Case {
        name: "huge_one_line_manifest",
        input: "a one-line manifest of 200 MB (40 MB under `cargo test`)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: 700,
        damage: |ctx| {
            let length = if ctx.scale == Scale::Full { 200_000_000 } else { 40_000_000 };
            // Written in chunks: the test process's own peak counts in the
            // child's (Linux carries it over fork and exec).
            let mut file = std::io::BufWriter::new(std::fs::File::create(ctx.dir.join(MANIFESTS).join("huge.yaml")).unwrap());
            let head = "metadata: {name: x, labels: {a: \"";
            let tail = "\"}}";
            file.write_all(format!("kind: ConfigMap\n{head}").as_bytes()).unwrap();
            let chunk = vec![b'x'; 1 << 20];
            let mut left = length - head.len() - tail.len();
            while left > 0 {
                let n = left.min(chunk.len());
                file.write_all(&chunk[..n]).unwrap();
                left -= n;
            }
            file.write_all(format!("{tail}\n").as_bytes()).unwrap();
            file.flush().unwrap();
            refused(format!(
                "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/huge.yaml`: line 2 is {length} bytes long, more than the `line-length` limit of 33554432\n"
            ))
        },
    },
    Case {
        name: "long_line_below_the_limit_quotes_a_window",
        input: "a 20 MB line with a YAML error in it (below `line-length`)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: 400,
        damage: |ctx| {
            let line = format!("metadata: {{name: x, labels: {{a: \"{}\", b: [}}\n", "x".repeat(20_000_000));
            write(&ctx.dir.join(MANIFESTS).join("huge.yaml"), format!("kind: ConfigMap\n{line}"));
            refused(
                "error[yaml]: cannot decode `manifests/fruits-catalog-operator/0.0.1/manifests/huge.yaml`: yaml: line 1: did not find expected node content\n --> manifests/fruits-catalog-operator/0.0.1/manifests/huge.yaml:2:1\n  |\n2 | metadata: {name: x, labels: {a: \"xxxx",
            )
        },
    },
    Case {
        name: "line_length_limit_from_catalog_toml",
        input: "a 2,000-byte line with `[limits] line-length = 1000`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            limits(ctx.dir, "line-length = 1000");
            write(
                &ctx.dir.join(MANIFESTS).join("long.yaml"),
                format!("kind: ConfigMap\nmetadata: {{name: long}}\ndata: {{a: \"{}\"}}\n", "y".repeat(2000)),
            );
            refused(
                "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/long.yaml`: line 3 is 2013 bytes long, more than the `line-length` limit of 1000\n",
            )
        },
    },
    Case {
        name: "file_size_limit_from_catalog_toml",
        input: "the CSV above `[limits] file-size = 1000`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            limits(ctx.dir, "file-size = 1000");
            let size = std::fs::metadata(ctx.dir.join(CSV)).unwrap().len();
            refused(format!(
                "error[bundle]: cannot read `{CSV}`: it is {size} bytes, more than the 1000-byte limit on one input file\n"
            ))
        },
    },
    Case {
        name: "sparse_two_gigabyte_manifest",
        input: "a sparse 2 GiB manifest (above the 1 GiB default)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            sparse(&ctx.dir.join(MANIFESTS).join("sparse.yaml"), 2 << 30);
            refused(
                "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/sparse.yaml`: it is 2147483648 bytes, more than the 1073741824-byte limit on one input file\n",
            )
        },
    },
    Case {
        name: "sparse_two_gigabyte_catalog_toml",
        input: "a sparse 2 GiB catalog.toml",
        args: &["--config", "big.toml", "build"],
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let path = ctx.dir.join("big.toml");
            sparse(&path, 2 << 30);
            refused(format!(
                "error[config]: cannot read `{}`: it is 2147483648 bytes, more than the 1073741824-byte limit on one input file\n",
                resolved(&path)
            ))
        },
    },
    Case {
        name: "sparse_two_gigabyte_icon",
        input: "a sparse 2 GiB package icon",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            sparse(&ctx.dir.join("icon.png"), 2 << 30);
            package_icon(ctx.dir, "icon.png");
            refused(
                "error[config]: cannot read icon file `icon.png` (the `icon` of package `fruits-catalog-operator`): it is 2147483648 bytes, more than the 1073741824-byte limit on one input file\n  --> catalog.toml:26:8\n",
            )
        },
    },
    // --- documents, nesting, aliases -----------------------------------
    Case {
        name: "huge_document_count",
        input: "a manifest of 10 million `---` documents (200,000 under `cargo test`)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let n_documents = if ctx.scale == Scale::Full { 10_000_000 } else { 200_000 };
            let mut file = std::io::BufWriter::new(std::fs::File::create(ctx.dir.join(MANIFESTS).join("many.yaml")).unwrap());
            file.write_all(b"kind: ConfigMap\nmetadata: {name: many}\n").unwrap();
            for _ in 0..n_documents {
                file.write_all(b"---\n").unwrap();
            }
            file.flush().unwrap();
            refused(
                "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/many.yaml`: it has more than 100000 YAML documents (the `documents` limit); line 100002 starts one more\n",
            )
        },
    },
    Case {
        name: "document_limit_from_catalog_toml",
        input: "three documents with `[limits] documents = 2`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            limits(ctx.dir, "documents = 2");
            write(
                &ctx.dir.join(MANIFESTS).join("three.yaml"),
                "---\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: b}\n---\nkind: ConfigMap\nmetadata: {name: c}\n",
            );
            refused(
                "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/three.yaml`: it has more than 2 YAML documents (the `documents` limit); line 7 starts one more\n",
            )
        },
    },
    Case {
        name: "nesting_at_go_yamls_depth_limit",
        input: "a manifest nested exactly at go-yaml's depth limit (kept, as opm keeps it; this overflowed a 2 MiB worker stack)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            write(&ctx.dir.join(MANIFESTS).join("deep.yaml"), nested_block(9_998));
            Expect::Built
        },
    },
    Case {
        name: "nesting_one_past_go_yamls_depth_limit",
        input: "a manifest nested one level past go-yaml's depth limit",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            write(&ctx.dir.join(MANIFESTS).join("deep.yaml"), nested_block(9_999));
            refused(
                "error[yaml]: cannot decode `manifests/fruits-catalog-operator/0.0.1/manifests/deep.yaml`: yaml: line 5: exceeded max depth of 10000\n",
            )
        },
    },
    Case {
        name: "nesting_beyond_go_yamls_depth_limit",
        input: "a manifest nested 200,000 deep",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            write(&ctx.dir.join(MANIFESTS).join("deep.yaml"), nested_flow(200_000));
            refused(
                "error[yaml]: cannot decode `manifests/fruits-catalog-operator/0.0.1/manifests/deep.yaml`: yaml: line 3: exceeded max depth of 10000\n",
            )
        },
    },
    // go-yaml counts flow levels (`[`, `{`) apart from indentation, and
    // allows 10,000 of them (`max_flow_level`); Go's encoding/json allows
    // 10,000 open arrays and objects. saphyr alone stopped at 255.
    Case {
        name: "flow_nesting_at_go_yamls_limit",
        input: "a manifest with 10,000 levels of flow nesting (`{k: [[[…`; kept, as opm keeps it)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            write(&ctx.dir.join(MANIFESTS).join("deep.yaml"), nested_flow(9_999));
            Expect::Built
        },
    },
    Case {
        name: "flow_nesting_one_past_go_yamls_limit",
        input: "a manifest with 10,001 levels of flow nesting",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            write(&ctx.dir.join(MANIFESTS).join("deep.yaml"), nested_flow(10_000));
            refused(
                "error[yaml]: cannot decode `manifests/fruits-catalog-operator/0.0.1/manifests/deep.yaml`: yaml: line 3: exceeded max depth of 10000\n",
            )
        },
    },
    Case {
        name: "fbc_json_nesting_at_gos_limit",
        input: "an FBC JSON blob nested 10,000 deep (`validate DIR`; kept, as opm keeps it)",
        args: VALIDATE_FBC,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            fbc_with(ctx, "deep.json", deep_blob_json(9_999));
            Expect::Built
        },
    },
    Case {
        name: "fbc_json_nesting_one_past_gos_limit",
        input: "an FBC JSON blob nested 10,001 deep",
        args: VALIDATE_FBC,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            fbc_with(ctx, "deep.json", deep_blob_json(10_000));
            // Go's decoder stops at the byte of the 10,001st opening; YAML,
            // tried next, fails too, so the JSON error stands.
            let offset = deep_blob_json(0).find("\"v\":").unwrap() + "\"v\":".len() + 10_000;
            refused(format!(
                "error: fbc/fruits-catalog-operator/deep.json: json: offset {offset}: invalid character '[' exceeded max depth\n"
            ))
        },
    },
    Case {
        name: "fbc_yaml_flow_nesting_at_go_yamls_limit",
        input: "an FBC YAML blob with 10,000 levels of flow nesting (kept, as opm keeps it)",
        args: VALIDATE_FBC,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            fbc_with(ctx, "deep.yaml", deep_blob_yaml(10_000));
            Expect::Built
        },
    },
    Case {
        name: "fbc_yaml_flow_nesting_one_past_go_yamls_limit",
        input: "an FBC YAML blob with 10,001 levels of flow nesting",
        args: VALIDATE_FBC,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            fbc_with(ctx, "deep.yaml", deep_blob_yaml(10_001));
            refused("error: fbc/fruits-catalog-operator/deep.yaml: yaml: line 3: exceeded max depth of 10000\n")
        },
    },
    Case {
        name: "alias_bomb",
        input: "a billion-laughs alias bomb (9^12 nodes)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let mut text = String::from(
                "kind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
            );
            for level in 1..12 {
                let refs = vec![format!("*a{}", level - 1); 9].join(",");
                text.push_str(&format!("  a{level}: &a{level} [{refs}]\n"));
            }
            write(&ctx.dir.join(MANIFESTS).join("bomb.yaml"), text);
            refused(
                "error[yaml]: cannot decode `manifests/fruits-catalog-operator/0.0.1/manifests/bomb.yaml`: yaml: document contains excessive aliasing\n",
            )
        },
    },
    Case {
        name: "deeply_nested_catalog_toml",
        input: "catalog.toml with a value nested 100,000 deep",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            edit(&ctx.dir.join("catalog.toml"), |text| {
                text.replacen(
                    "[vars]\n",
                    &format!("[vars]\ndeep = {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
                    1,
                )
            });
            refused("error[config]: cannot recurse further; max recursion depth met\n  --> catalog.toml:19:88\n")
        },
    },
    // --- links and paths -------------------------------------------------
    Case {
        name: "manifest_linking_out_of_the_project",
        input: "a manifest that is a link to a file outside the project",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let secret = ctx.outside.join("secret.yaml");
            write(&secret, "kind: Secret\nmetadata: {name: stolen}\n");
            symlink(&secret, &ctx.dir.join(MANIFESTS).join("secret.yaml"));
            refused(format!(
                "error[bundle]: `manifests/fruits-catalog-operator/0.0.1/manifests/secret.yaml` leads to `{}`, outside the project\n",
                resolved(&secret)
            ))
        },
    },
    Case {
        name: "manifest_linking_up_with_dot_dot",
        input: "a manifest that is a relative `../../..` link out of the project",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let up = "../".repeat(MANIFESTS.split('/').count() + 1);
            let name = ctx.outside.file_name().unwrap().to_str().unwrap();
            let secret = ctx.outside.join("secret.yaml");
            write(&secret, "kind: Secret\nmetadata: {name: stolen}\n");
            symlink(format!("{up}{name}/secret.yaml"), &ctx.dir.join(MANIFESTS).join("secret.yaml"));
            refused(format!(
                "error[bundle]: `manifests/fruits-catalog-operator/0.0.1/manifests/secret.yaml` leads to `{}`, outside the project\n",
                resolved(&secret)
            ))
        },
    },
    Case {
        name: "manifests_directory_linking_out",
        input: "a bundle's `manifests/` a link to a directory outside the project",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let manifests = ctx.dir.join(MANIFESTS);
            let moved = ctx.outside.join("manifests");
            common::copy_dir(&manifests, &moved);
            std::fs::remove_dir_all(&manifests).unwrap();
            symlink(&moved, &manifests);
            refused(format!(
                "error[bundle]: `manifests/fruits-catalog-operator/0.0.1/manifests` leads to `{}`, outside the project\n",
                resolved(&moved)
            ))
        },
    },
    Case {
        name: "bundle_directory_linking_out",
        input: "a bundle directory that is a link out of the project",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let elsewhere = ctx.outside.join("0.0.4");
            common::copy_dir(&common::repo().join("manifests/fruits-catalog-operator/0.0.1"), &elsewhere);
            symlink(&elsewhere, &ctx.dir.join("manifests/fruits-catalog-operator/0.0.4"));
            refused(format!(
                "error[bundle]: `manifests/fruits-catalog-operator/0.0.4` leads to `{}`, outside the project\n",
                resolved(&elsewhere)
            ))
        },
    },
    Case {
        name: "symlink_loop_among_the_manifests",
        input: "two manifests linking to each other",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let manifests = ctx.dir.join(MANIFESTS);
            symlink("b.yaml", &manifests.join("a.yaml"));
            symlink("a.yaml", &manifests.join("b.yaml"));
            refused(
                "error[bundle]: cannot read `manifests/fruits-catalog-operator/0.0.1/manifests/a.yaml`: Too many levels of symbolic links (os error 40)\n",
            )
        },
    },
    Case {
        name: "absolute_icon_outside_the_project",
        input: "an absolute `icon` path outside the project",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let icon = ctx.outside.join("icon.svg");
            write(&icon, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
            package_icon(ctx.dir, &icon.display().to_string());
            refused(format!(
                "error[config]: icon file `{}` (the `icon` of package `fruits-catalog-operator`) leads to `{}`, outside the project\n",
                icon.display(),
                resolved(&icon)
            ))
        },
    },
    Case {
        name: "dot_dot_icon_outside_the_project",
        input: "an `icon = \"../x.svg\"` outside the project",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let icon = ctx
                .dir
                .parent()
                .unwrap()
                .join(format!("{}.svg", ctx.outside.file_name().unwrap().to_str().unwrap()));
            write(&icon, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
            package_icon(ctx.dir, &format!("../{}", icon.file_name().unwrap().to_str().unwrap()));
            refused(format!(
                "error[config]: icon file `../{}` (the `icon` of package `fruits-catalog-operator`) leads to `{}`, outside the project\n",
                icon.file_name().unwrap().to_str().unwrap(),
                resolved(&icon)
            ))
        },
    },
    Case {
        name: "icon_that_is_not_an_image",
        input: "an `icon` that is a text file",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            write(&ctx.dir.join("icon.png"), "password=hunter2\n");
            package_icon(ctx.dir, "icon.png");
            refused(
                "error[config]: icon file `icon.png` (the `icon` of package `fruits-catalog-operator`) is not a PNG, JPEG, GIF or SVG image\n  --> catalog.toml:26:8\n",
            )
        },
    },
    // --- templates -----------------------------------------------------
    Case {
        name: "template_loop_that_does_not_end",
        input: "a `.j2` manifest looping 10^10 times",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let text = "kind: ConfigMap\nmetadata: {name: loop}\ndata:\n{% for i in range(100000) %}{% for j in range(100000) %}  k{{i}}x{{j}}: v\n{% endfor %}{% endfor %}\n";
            write(&ctx.dir.join(TEMPLATED).join("loop.yaml.j2"), text);
            refused(
                "error[template]: template error: invalid operation: it took more than 20000000 steps (a loop that does not end?)\n  --> manifests/fruits-catalog-operator/0.0.3/manifests/loop.yaml.j2\n",
            )
        },
    },
    Case {
        name: "template_writing_ten_gigabytes",
        input: "a `.j2` manifest writing 10 GB",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: 400,
        damage: |ctx| {
            let text =
                "kind: ConfigMap\nmetadata: {name: big}\ndata:\n{% for i in range(100) %}  k{{i}}: {{ \"x\" * 100000000 }}\n{% endfor %}\n";
            write(&ctx.dir.join(TEMPLATED).join("big.yaml.j2"), text);
            refused(
                "error[template]: template error: invalid operation: the output is larger than the 64 MiB a template may write\n  --> manifests/fruits-catalog-operator/0.0.3/manifests/big.yaml.j2\n",
            )
        },
    },
    Case {
        name: "template_steps_from_catalog_toml",
        input: "a 100×100 template loop with `[limits] template-steps = 1000`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            limits(ctx.dir, "template-steps = 1000");
            let text = "kind: ConfigMap\nmetadata: {name: loop}\ndata:\n{% for i in range(100) %}{% for j in range(100) %}  k{{i}}x{{j}}: v\n{% endfor %}{% endfor %}\n";
            write(&ctx.dir.join(TEMPLATED).join("loop.yaml.j2"), text);
            refused(
                "error[template]: template error: invalid operation: it took more than 1000 steps (a loop that does not end?)\n  --> manifests/fruits-catalog-operator/0.0.3/manifests/loop.yaml.j2\n",
            )
        },
    },
    Case {
        name: "template_output_from_catalog_toml",
        input: "a 5,000-byte template output with `[limits] template-output = 1000`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            limits(ctx.dir, "template-output = 1000");
            let text = "kind: ConfigMap\nmetadata: {name: big}\ndata:\n  k: {{ \"x\" * 5000 }}\n";
            write(&ctx.dir.join(TEMPLATED).join("big.yaml.j2"), text);
            refused(
                "error[template]: template error: invalid operation: the output is larger than the 1000 bytes a template may write\n  --> manifests/fruits-catalog-operator/0.0.3/manifests/big.yaml.j2\n",
            )
        },
    },
    Case {
        name: "template_reading_a_file",
        input: "a `.j2` manifest including `/etc/passwd`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            write(
                &ctx.dir.join(TEMPLATED).join("steal.yaml.j2"),
                "kind: ConfigMap\nmetadata: {name: x}\ndata: {p: \"{% include '/etc/passwd' %}\"}\n",
            );
            refused(
                "error[template]: template error: template not found\n --> manifests/fruits-catalog-operator/0.0.3/manifests/steal.yaml.j2:3:15\n",
            )
        },
    },
    Case {
        name: "template_reading_the_environment",
        input: "a `.j2` manifest asking for `env.HOME`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            write(
                &ctx.dir.join(TEMPLATED).join("env.yaml.j2"),
                "kind: ConfigMap\nmetadata: {name: x}\ndata: {home: \"{{ env.HOME }}\"}\n",
            );
            refused(
                "error[template]: undefined template variable\n --> manifests/fruits-catalog-operator/0.0.3/manifests/env.yaml.j2:3:18\n",
            )
        },
    },
    // --- encodings -----------------------------------------------------
    Case {
        name: "non_utf8_csv",
        input: "a CSV with a byte that is not UTF-8",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let mut bytes = std::fs::read(ctx.dir.join(CSV)).unwrap();
            bytes.extend_from_slice(b"# \xff\xfe\n");
            write(&ctx.dir.join(CSV), bytes);
            refused(format!("error[yaml]: manifest is not UTF-8 text\n  --> {CSV}\n"))
        },
    },
    Case {
        name: "nul_byte_in_the_csv",
        input: "a CSV with a NUL byte",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            edit(&ctx.dir.join(CSV), |text| text.replacen("kind:", "kind:\0", 1));
            refused(format!(
                "error[yaml]: cannot decode manifest: yaml: control characters are not allowed\n --> {CSV}:2:1\n"
            ))
        },
    },
    Case {
        name: "bom_before_the_csv",
        input: "a UTF-8 byte-order mark before the CSV (taken, as go-yaml takes it)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            edit(&ctx.dir.join(CSV), |text| format!("\u{feff}{text}"));
            Expect::SameOutput
        },
    },
    Case {
        name: "crlf_line_ends_in_the_csv",
        input: "CRLF line ends in the CSV (taken, as go-yaml takes them)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            edit(&ctx.dir.join(CSV), |text| text.replace('\n', "\r\n"));
            Expect::SameOutput
        },
    },
    Case {
        name: "crlf_line_ends_in_catalog_toml",
        input: "CRLF line ends in catalog.toml (taken)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            edit(&ctx.dir.join("catalog.toml"), |text| text.replace('\n', "\r\n"));
            Expect::SameOutput
        },
    },
    Case {
        name: "bom_before_catalog_toml",
        input: "a byte-order mark before catalog.toml (taken)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            edit(&ctx.dir.join("catalog.toml"), |text| format!("\u{feff}{text}"));
            Expect::SameOutput
        },
    },
    Case {
        name: "non_utf8_catalog_toml",
        input: "catalog.toml with a byte that is not UTF-8",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let mut bytes = std::fs::read(ctx.dir.join("catalog.toml")).unwrap();
            let offset = bytes.len() + 2;
            let line = bytes.iter().filter(|&&byte| byte == b'\n').count() + 1;
            bytes.extend_from_slice(b"# \xff\n");
            write(&ctx.dir.join("catalog.toml"), bytes);
            refused(format!(
                "error[config]: `{}` is not UTF-8 text (byte {offset}, line {line})\n",
                resolved(&ctx.dir.join("catalog.toml"))
            ))
        },
    },
    Case {
        name: "nul_byte_in_catalog_toml",
        input: "catalog.toml with a NUL byte",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            edit(&ctx.dir.join("catalog.toml"), |text| {
                text.replacen("version = 1", "version = 1\0", 1)
            });
            refused("error[config]: string values must be quoted, expected literal string\n --> catalog.toml:4:11\n")
        },
    },
    Case {
        name: "duplicate_keys_in_the_csv",
        input: "a CSV mapping with a key twice (taken, the last wins, as opm's decoder does)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            edit(&ctx.dir.join(CSV), |text| {
                text.replacen(
                    "kind: ClusterServiceVersion\n",
                    "kind: ClusterServiceVersion\nkind: ClusterServiceVersion\n",
                    1,
                )
            });
            // As opm's decoder (sigs.k8s.io/yaml, not strict): the last wins.
            Expect::SameOutput
        },
    },
    Case {
        name: "duplicate_keys_in_catalog_toml",
        input: "catalog.toml with a key twice",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            edit(&ctx.dir.join("catalog.toml"), |text| {
                text.replacen("version = 1\n", "version = 1\nversion = 1\n", 1)
            });
            refused("error[config]: duplicate key\n --> catalog.toml:5:1\n")
        },
    },
    // --- limits themselves and the report ------------------------------
    Case {
        name: "limit_of_zero",
        input: "`[limits] documents = 0`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let line = limits(ctx.dir, "documents = 0");
            refused(format!(
                "error[config]: `documents` must be a positive integer\n  --> catalog.toml:{line}:13\n"
            ))
        },
    },
    Case {
        name: "unknown_limit",
        input: "`[limits] line-lenght = 10` (a typo)",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: RSS_MIB,
        damage: |ctx| {
            let line = limits(ctx.dir, "line-lenght = 10");
            refused(format!(
                "error[config]: unknown field `line-lenght`, expected one of `file-size`, `line-length`, `documents`, `template-steps`, `template-output`, `diagnostics`, `pulled-file-size`, `pulled-layer-size`, `pulled-image-size`, `pulled-ratio`, `pulled-files`\n  --> catalog.toml:{line}:1\n"
            ))
        },
    },
    Case {
        name: "diagnostics_beyond_the_cap",
        input: "5,000 broken bundles (500 under `cargo test`) with `[limits] diagnostics = 3`",
        args: BUILD,
        max_seconds: SECONDS,
        max_rss_mib: 400,
        damage: |ctx| {
            limits(ctx.dir, "diagnostics = 3");
            let n_bundles = if ctx.scale == Scale::Full { 5_000 } else { 500 };
            let bundles = ctx.dir.join("manifests/fruits-catalog-operator");
            for idx in 0..n_bundles {
                let bundle = bundles.join(format!("9.{idx}.0"));
                std::fs::create_dir_all(bundle.join("manifests")).unwrap();
                std::fs::create_dir_all(bundle.join("metadata")).unwrap();
                write(&bundle.join("metadata/annotations.yaml"), "annotations: [\n");
            }
            // Sorted by path: 9.0.0, 9.1.0, 9.10.0 come first.
            let shown: String = ["9.0.0", "9.1.0", "9.10.0"]
                .iter()
                .map(|version| {
                    let dir = format!("manifests/fruits-catalog-operator/{version}/manifests");
                    format!("error[bundle]: no bundle objects found (in {dir})\n  --> {dir}\n\n")
                })
                .collect();
            refused(format!(
                "{shown}note: {} more diagnostics are not shown (the first 3 are; raise `diagnostics` under [limits] in catalog.toml to see more)\nerror: found {n_bundles} problems; nothing was written\n",
                n_bundles - 3
            ))
        },
    },
];

fn main() {
    // One full-size case in a process of its own (for `write_report`), so
    // that no earlier case's memory counts in this one's peak.
    if let Ok(name) = std::env::var("CATBUILD_HOSTILE_ONE") {
        let case = CASES.iter().find(|case| case.name == name).expect("a case of that name");
        match run_case(case, Scale::Full) {
            Ok(outcome) => println!(
                "ok\t{}\t{}\t{}\t{}",
                outcome.code.map_or(-1, |code| code),
                outcome.seconds,
                outcome.peak_rss_kib,
                outcome.headline
            ),
            Err(message) => println!("FAILED\t{}", message.replace('\n', " ")),
        }
        return;
    }
    let report = std::env::var_os("CATBUILD_RELIABILITY_REPORT").map(PathBuf::from);
    if let Some(path) = report {
        write_report(&path);
        return;
    }
    let arguments = libtest_mimic::Arguments::from_args();
    let mut trials: Vec<libtest_mimic::Trial> = CASES
        .iter()
        .map(|case| libtest_mimic::Trial::test(case.name, move || run_case(case, Scale::Test).map(|_| ()).map_err(Into::into)))
        .collect();
    trials.push(libtest_mimic::Trial::test("allocation_failure_is_a_clear_error", || {
        allocation_failure_is_a_clear_error();
        Ok(())
    }));
    trials.push(libtest_mimic::Trial::test(
        "external_paths_allows_what_it_lists_and_nothing_else",
        || {
            external_paths_allows_what_it_lists_and_nothing_else();
            Ok(())
        },
    ));
    libtest_mimic::run(&arguments, trials).exit();
}

/// What one run of a case came to.
struct Outcome {
    code: Option<i32>,
    /// The report's first line.
    headline: String,
    seconds: f64,
    peak_rss_kib: u64,
}

fn run_case(case: &Case, scale: Scale) -> Result<Outcome, String> {
    let project = example_project();
    let dir = project.path();
    let outside = tempfile::tempdir().unwrap();
    let good = run_bounded(dir, BUILD);
    if good.code != Some(0) {
        return Err(format!("the good build failed: {}", good.stderr));
    }
    let before = tree(&dir.join("build"));
    let expect = (case.damage)(&Ctx {
        dir,
        outside: outside.path(),
        scale,
    });
    let project_before = listing(dir);
    let outside_before = listing(outside.path());
    let run = run_bounded(dir, case.args);
    let outcome = Outcome {
        code: run.code,
        headline: run.stderr.lines().next().unwrap_or_default().to_string(),
        seconds: run.seconds,
        peak_rss_kib: run.peak_rss_kib,
    };
    match &expect {
        Expect::Refused(expected) => {
            if run.code != Some(1) {
                return Err(format!("exit {:?}, not 1:\n{}", run.code, run.stderr));
            }
            if !run.stderr.starts_with(expected.as_str()) {
                return Err(format!("expected a report starting with\n{expected}\ngot\n{}", run.stderr));
            }
            if run.stderr.len() >= 8192 {
                return Err(format!("a {}-byte report", run.stderr.len()));
            }
        }
        Expect::SameOutput | Expect::Built => {
            if run.code != Some(0) {
                return Err(format!("exit {:?}, not 0:\n{}", run.code, run.stderr));
            }
        }
    }
    if run.seconds > case.max_seconds {
        return Err(format!("took {:.1} s, more than {} s", run.seconds, case.max_seconds));
    }
    if run.peak_rss_kib > case.max_rss_mib << 10 {
        return Err(format!(
            "peaked at {} MiB, more than {} MiB",
            run.peak_rss_kib >> 10,
            case.max_rss_mib
        ));
    }
    if !matches!(expect, Expect::Built) && tree(&dir.join("build")) != before {
        return Err("the previous build's output changed".to_string());
    }
    if listing(dir) != project_before {
        return Err("files outside the build directory changed".to_string());
    }
    if listing(outside.path()) != outside_before {
        return Err("files outside the project changed".to_string());
    }
    Ok(outcome)
}

/// Every path below `dir` but `build/`, with its type, size and mtime
/// (links not followed, nothing read: some cases leave huge files).
fn listing(dir: &Path) -> BTreeMap<PathBuf, (String, u64, std::time::SystemTime)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(dir).unwrap().to_path_buf();
            if relative == Path::new("build") {
                continue;
            }
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            if metadata.is_dir() {
                stack.push(path);
            }
            found.insert(
                relative,
                (format!("{:?}", metadata.file_type()), metadata.len(), metadata.modified().unwrap()),
            );
        }
    }
    found
}

struct Run {
    code: Option<i32>,
    stderr: String,
    seconds: f64,
    peak_rss_kib: u64,
}

/// Runs catbuild in `dir`, killed at [`DEADLINE`], reaped by `wait4` for
/// its peak resident memory.
#[allow(clippy::zombie_processes, reason = "reaped by wait4, which std's Child does not know")]
fn run_bounded(dir: &Path, args: &[&str]) -> Run {
    let stderr_file = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_catbuild"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("CATBUILD_NO_PROGRESS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr_file.reopen().unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: plain out-parameters; the child is ours and not reaped
        // elsewhere (std's `Child` is never waited on below).
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break (status, usage);
        }
        assert!(reaped == 0, "wait4: {}", std::io::Error::last_os_error());
        if started.elapsed() > DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("catbuild {args:?} still ran after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        code,
        stderr: String::from_utf8_lossy(&std::fs::read(stderr_file.path()).unwrap()).into_owned(),
        seconds: started.elapsed().as_secs_f64(),
        // Linux reports kibibytes.
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    }
}

fn external_paths_allows_what_it_lists_and_nothing_else() {
    let project = example_project();
    let dir = project.path();
    let shared = tempfile::tempdir().unwrap();
    let crd = dir.join(MANIFESTS).join("fruitscatalogs.fruits.example.com.crd.yaml");
    let moved = shared.path().join("crd.yaml");
    std::fs::copy(&crd, &moved).unwrap();
    std::fs::remove_file(&crd).unwrap();
    symlink(&moved, &crd);
    let run = run_bounded(dir, BUILD);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("outside the project"), "{}", run.stderr);
    catalog_key(
        dir,
        &format!("external-paths = [{}]", toml_string(&shared.path().display().to_string())),
    );
    let run = run_bounded(dir, BUILD);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

/// Issue 22: running out of memory on user input is a clear one-line error
/// and exit 2, not Rust's "memory allocation of N bytes failed" and an
/// abort. catbuild runs under a 1 GiB address-space limit (`ulimit -v`,
/// one rayon thread so the 256 MiB thread stacks fit) on a manifest of 25
/// million one-item lines (150 MB, within every default limit), which
/// needs GiBs to decode.
fn allocation_failure_is_a_clear_error() {
    let project = example_project();
    let dir = project.path();
    let good = run_bounded(dir, BUILD);
    assert_eq!(good.code, Some(0), "{}", good.stderr);
    let before = tree(&dir.join("build"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.join(MANIFESTS).join("big.yaml")).unwrap());
    file.write_all(b"kind: ConfigMap\nmetadata: {name: big}\ndata:\n  items:\n")
        .unwrap();
    let chunk = "  - a\n".repeat(100_000);
    for _ in 0..250 {
        file.write_all(chunk.as_bytes()).unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let started = Instant::now();
    let output = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_catbuild"))
        .arg("build")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("CATBUILD_NO_PROGRESS", "1")
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: out of memory: catbuild could not allocate "), "{stderr}");
    assert!(
        stderr.contains(" bytes while loading bundle `manifests/fruits-catalog-operator/0.0.1` of package `fruits-catalog-operator`; lower `file-size` or `line-length` under [limits] in catalog.toml to refuse such input sooner, build with fewer threads (`-j 1`), or give catbuild more memory\n"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(tree(&dir.join("build")), before, "the previous build's output changed");
}

/// `make reliability`: every case full size, one after the other, and the
/// table of outcomes (with the fuzz targets' last figures) at `path`.
fn write_report(path: &Path) {
    let mut rows = Vec::new();
    let mut n_failed = 0;
    for case in CASES {
        eprintln!("reliability: {}", case.name);
        let output = Command::new(std::env::current_exe().unwrap())
            .env("CATBUILD_HOSTILE_ONE", case.name)
            .env_remove("CATBUILD_RELIABILITY_REPORT")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        let fields: Vec<&str> = said.trim_end_matches('\n').splitn(5, '\t').collect();
        let (verdict, outcome) = match fields.as_slice() {
            ["ok", code, seconds, rss, headline] => (
                "ok",
                Some(Outcome {
                    code: code.parse().ok().filter(|&code: &i32| code >= 0),
                    headline: headline.to_string(),
                    seconds: seconds.parse().unwrap_or(0.0),
                    peak_rss_kib: rss.parse().unwrap_or(0),
                }),
            ),
            _ => {
                eprintln!(
                    "reliability: {} FAILED: {said}{}",
                    case.name,
                    String::from_utf8_lossy(&output.stderr)
                );
                n_failed += 1;
                ("FAILED", None)
            }
        };
        rows.push((case, verdict, outcome));
    }
    let mut text = String::from(
        "# Reliability: hostile input\n\n\
         Generated by `make reliability` from the cases in `tests/hostile.rs`\n\
         (which `make test` runs with smaller inputs); do not edit by hand.\n\
         Each case builds the example project, breaks one thing, and builds\n\
         again. Every case checks: the exact error and exit code (1 for bad\n\
         input; 0 where catbuild must take the input as opm does, with the\n\
         output byte for byte unchanged), a report under 8 KiB, the time and\n\
         peak-memory bounds, that nothing changed in the project outside\n\
         `build/` or outside the project, and that the previous build's output\n\
         is intact. Peak RSS is the child's `ru_maxrss` from `wait4`, each case\n\
         in a test process of its own (Linux counts the spawning process's\n\
         peak in it, so the figure is an upper bound).\n\n\
         | case | hostile input | outcome | exit | time (s) | peak RSS (MiB) | checks |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for (case, verdict, outcome) in &rows {
        let (headline, code, seconds, rss) = match outcome {
            Some(outcome) => (
                if outcome.headline.is_empty() && case.args.first() == Some(&"validate") {
                    "valid, nothing written".to_string()
                } else if outcome.headline.is_empty() {
                    "built, output unchanged".to_string()
                } else {
                    outcome.headline.clone()
                },
                outcome.code.map_or("killed".to_string(), |code| code.to_string()),
                format!("{:.2}", outcome.seconds),
                format!("{}", outcome.peak_rss_kib >> 10),
            ),
            None => ("see the test".to_string(), "-".to_string(), "-".to_string(), "-".to_string()),
        };
        let headline = if headline.chars().count() > 160 {
            format!("{}…", headline.chars().take(160).collect::<String>())
        } else {
            headline
        };
        text.push_str(&format!(
            "| `{}` | {} | {} | {} | {} (≤ {}) | {} (≤ {}) | {} |\n",
            case.name,
            case.input,
            headline.replace('|', "\\|").replace('`', "'"),
            code,
            seconds,
            case.max_seconds,
            rss,
            case.max_rss_mib,
            verdict
        ));
    }
    text.push_str(
        "\nRunning out of memory (`allocation_failure_is_a_clear_error`, run by\n\
         `make test`): a build under `ulimit -v 1048576` (1 GiB of address space)\n\
         of a 150 MB manifest of 25 million one-item lines, within every default\n\
         limit, ends with exit 2 and one line (\"error: out of memory: catbuild\n\
         could not allocate N bytes while loading bundle … of package …; lower\n\
         …\"), and the previous build's output intact (src/memory).\n",
    );
    text.push_str(&fuzz_section());
    std::fs::write(path, text).unwrap();
    assert!(n_failed == 0, "{n_failed} case(s) failed; see above");
}

/// The fuzz targets' figures from `fuzz/last-run.tsv` (`make fuzz`).
fn fuzz_section() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = String::from(
        "\n## Fuzzing\n\n\
         `make fuzz` (fuzz/run.sh) runs each libFuzzer target for `FUZZ_SECONDS`;\n\
         its last run's figures, from `fuzz/last-run.tsv`. Every crash found is fixed and\n\
         kept in `fuzz/regressions/<target>/`, which `tests/fuzz_regressions.rs`\n\
         replays on stable with every `make test`.\n\n",
    );
    let Ok(tsv) = std::fs::read_to_string(root.join("fuzz/last-run.tsv")) else {
        text.push_str("No run recorded (`fuzz/last-run.tsv` is missing).\n");
        return text;
    };
    let mut lines = tsv.lines();
    let Some(header) = lines.next() else {
        return text;
    };
    let columns: Vec<&str> = header.split('\t').collect();
    text.push_str(&format!("| {} | saved regressions |\n", columns.join(" | ")));
    text.push_str(&format!("|{}\n", " --- |".repeat(columns.len() + 1)));
    for line in lines {
        let target = line.split('\t').next().unwrap_or_default();
        let n_saved = std::fs::read_dir(root.join("fuzz/regressions").join(target))
            .map(|entries| {
                entries
                    .filter(|entry| entry.as_ref().is_ok_and(|entry| entry.file_name() != ".gitkeep"))
                    .count()
            })
            .unwrap_or(0);
        text.push_str(&format!("| {} | {n_saved} |\n", line.replace('\t', " | ")));
    }
    text.push_str(&fuzz_totals(root));
    text
}

/// Each target's time, executions and crashes summed over every recorded
/// run (`fuzz/history.tsv`), since the issue counts fuzzing time in total.
fn fuzz_totals(root: &Path) -> String {
    let Ok(tsv) = std::fs::read_to_string(root.join("fuzz/history.tsv")) else {
        return String::new();
    };
    // date, commit, target, seconds, executions, ..., crashes (last).
    let mut totals: Vec<(String, u64, u64, u64, usize)> = Vec::new();
    for line in tsv.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (Some(target), Some(seconds), Some(executions), Some(crashes)) = (fields.get(2), fields.get(3), fields.get(4), fields.last())
        else {
            continue;
        };
        let number = |text: &str| text.parse::<u64>().unwrap_or(0);
        let index = match totals.iter().position(|total| total.0 == *target) {
            Some(index) => index,
            None => {
                totals.push((target.to_string(), 0, 0, 0, 0));
                totals.len() - 1
            }
        };
        let total = &mut totals[index];
        total.1 += number(seconds);
        total.2 += number(executions);
        total.3 += number(crashes);
        total.4 += 1;
    }
    let mut text = String::from(
        "\nIn total, over every run in `fuzz/history.tsv` (each with its date and the\n\
         commit fuzzed):\n\n\
         | target | runs | seconds | executions | crashes |\n| --- | --- | --- | --- | --- |\n",
    );
    for (target, seconds, executions, crashes, runs) in totals {
        text.push_str(&format!("| {target} | {runs} | {seconds} | {executions} | {crashes} |\n"));
    }
    text
}
