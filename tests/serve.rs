//! `catbuild serve` (issue 20) end to end: the real binary on free ports,
//! checked by real clients. `tests/serve_client.py` calls every method of
//! OLM's `api.Registry` with grpcio (stubs generated from
//! `proto/registry.proto` at test time), the health service and server
//! reflection with grpcio's own clients, and catalogd's HTTP API with
//! `http.client`, and compares every answer with the FBC it reads itself.
//! Catalogs: the example project's last build, and two FBC roots of
//! `../shared/corpus` published by opm (bundle objects; CSV metadata only,
//! where the server makes the CSV up).

#![cfg(feature = "serve")]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{catbuild, example_project, repo, stderr};

/// A running `catbuild serve` and the addresses it printed.
struct Server {
    child: Child,
    grpc: String,
    http: String,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `catbuild serve ARGS` in `dir` on free ports and waits for its
    /// ready lines.
    fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_catbuild"))
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("catbuild runs");
        let (lines_tx, lines_rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut grpc, mut http) = (None, None);
        let mut seen = String::new();
        while grpc.is_none() || http.is_none() {
            let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(120)) else {
                let _ = child.kill();
                panic!("catbuild serve did not get ready; stderr:\n{seen}");
            };
            seen.push_str(&line);
            seen.push('\n');
            if let Some(addr) = line.strip_prefix("  gRPC  ") {
                grpc = Some(addr.to_string());
            }
            if let Some(url) = line.strip_prefix("  HTTP  http://") {
                http = Some(url.split('/').next().unwrap().to_string());
            }
        }
        Server {
            child,
            grpc: grpc.unwrap(),
            http: http.unwrap(),
            stderr: lines_rx,
        }
    }

    /// Runs the Python client against this server and `fbc`.
    fn check_with_client(&self, name: &str, fbc: &Path) {
        let output = Command::new("python3")
            .arg(repo().join("tests/serve_client.py"))
            .args(["--grpc", &self.grpc, "--http", &self.http, "--name", name])
            .arg("--fbc")
            .arg(fbc)
            .arg("--proto")
            .arg(repo().join("proto/registry.proto"))
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "serve_client.py failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Ctrl-C: the server stops and exits 0.
    fn interrupt(mut self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let status = self.child.wait().unwrap();
        let rest: Vec<String> = self.stderr.try_iter().collect();
        assert!(status.success(), "catbuild serve exited with {status} after Ctrl-C: {rest:?}");
    }
}

#[test]
fn serves_the_example_projects_last_build_to_grpc_and_http_clients() {
    let project = example_project();
    let build = catbuild(project.path(), &["build"]);
    assert!(build.status.success(), "{}", stderr(&build));
    // No DIR: the first target's last build, named after the target.
    let server = Server::start(project.path(), &["--catalog-source", "catalogsource.yaml"]);
    server.check_with_client("ocp-4.16", &project.path().join("build/ocp-4.16/catalog"));
    // The dev loop's CatalogSource points at the server, and is a valid object.
    let text = std::fs::read_to_string(project.path().join("catalogsource.yaml")).unwrap();
    assert!(text.contains(&format!("address: \"{}\"", server.grpc)), "{text}");
    let tool = repo().join("../shared/tools/validate-k8s");
    let output = Command::new(&tool).arg(project.path().join("catalogsource.yaml")).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    server.interrupt();
}

#[test]
fn serves_a_corpus_catalog_with_bundle_objects() {
    let fbc = repo().join("../shared/corpus/expected/fbc-bundle-object");
    let server = Server::start(&repo(), &[fbc.to_str().unwrap(), "--name", "corpus"]);
    server.check_with_client("corpus", &fbc);
    server.interrupt();
}

#[test]
fn serves_a_csv_metadata_catalog_with_made_up_csvs() {
    let fbc = repo().join("../shared/corpus/expected/fbc");
    let server = Server::start(&repo(), &[fbc.to_str().unwrap(), "--name", "corpus-csv-metadata"]);
    server.check_with_client("corpus-csv-metadata", &fbc);
    server.interrupt();
}

#[test]
fn a_broken_catalog_is_an_input_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.yaml"),
        "schema: olm.package\nname: demo\n---\nschema: olm.channel\npackage: demo\nname: [\n",
    )
    .unwrap();
    let output = catbuild(dir.path(), &["serve", ".", "--addr", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("catalog.yaml:"), "{}", stderr(&output));

    // Linked but invalid: opm's model error, still exit 1.
    std::fs::write(dir.path().join("catalog.yaml"), "schema: olm.package\nname: demo\n").unwrap();
    let output = catbuild(dir.path(), &["serve", ".", "--addr", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("demo"), "{}", stderr(&output));
}

#[test]
fn serves_a_catalog_whose_package_spans_files_at_the_root() {
    // Not opm's directory-per-package layout: the channels sit in another
    // file than their package, so the catalog is read whole.
    let project = example_project();
    let build = catbuild(project.path(), &["build"]);
    assert!(build.status.success(), "{}", stderr(&build));
    let built = project.path().join("build/ocp-4.16/catalog/fruits-catalog-operator/catalog.json");
    let text = std::fs::read_to_string(built).unwrap();
    let fbc = project.path().join("split");
    std::fs::create_dir(&fbc).unwrap();
    let (mut channels, mut rest) = (String::new(), String::new());
    let stream = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    for object in stream {
        let object = object.unwrap();
        let target = if object["schema"] == "olm.channel" {
            &mut channels
        } else {
            &mut rest
        };
        target.push_str(&serde_json::to_string_pretty(&object).unwrap());
        target.push('\n');
    }
    assert!(!channels.is_empty() && !rest.is_empty());
    std::fs::write(fbc.join("a-package.json"), rest).unwrap();
    std::fs::write(fbc.join("b-channels.json"), channels).unwrap();
    // Objects of a schema opm does not model: /all carries them, and so
    // does the experimental gRPC service.
    std::fs::write(
        fbc.join("c-notes.yaml"),
        "schema: acme.note\npackage: fruits-catalog-operator\nname: first\ntext: \"<b>&</b>\"\nsize: 3\n---\nschema: acme.note\nname: global\nitems: [1, 2.5, true, null]\n",
    )
    .unwrap();
    let server = Server::start(project.path(), &["split"]);
    server.check_with_client("split", &fbc);
    server.interrupt();
}

#[test]
fn serve_watch_swaps_each_good_build_in_while_a_client_keeps_calling() {
    // The example project, never built: `--watch` builds it, serves it,
    // and serves each later good build without a restart.
    let project = example_project();
    let csv = project
        .path()
        .join("manifests/fruits-catalog-operator/0.0.3/manifests/fruits-catalog-operator.clusterserviceversion.yaml.j2");
    let original = std::fs::read_to_string(&csv).unwrap();
    let (first, want) = (">=0.0.1 <0.0.3", ">=0.0.0 <0.0.3");
    assert!(original.contains(&format!("olm.skipRange: '{first}'")));
    let server = Server::start(project.path(), &["--watch", "--target", "ocp-4.16"]);

    let mut client = Command::new("python3")
        .arg(repo().join("tests/serve_watch_client.py"))
        .args([
            "--grpc",
            &server.grpc,
            "--package",
            "fruits-catalog-operator",
            "--channel",
            "stable",
        ])
        .args(["--first", first, "--want", want])
        .arg("--proto")
        .arg(repo().join("proto/registry.proto"))
        .env("PYTHONPATH", repo().join("tests"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut client_lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let line = client_lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(line, "calling", "the client got no first answer");

    // A broken edit: the build fails, the last good catalog stays served.
    std::fs::write(&csv, original.replace(first, "not a range")).unwrap();
    wait_for_line(&server, "Still serving the last good build");
    // A good edit: the new head's skipRange is served.
    std::fs::write(&csv, original.replace(first, want)).unwrap();
    wait_for_line(&server, "Serving the new build");
    let output = client.wait_with_output().unwrap();
    let rest: Vec<String> = client_lines.map_while(Result::ok).collect();
    assert!(
        output.status.success(),
        "the client failed: {rest:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(rest.last().map(String::as_str), Some(format!("seen {want}").as_str()), "{rest:?}");
    server.interrupt();
}

/// Waits (up to two minutes) for a stderr line of the server that starts with `prefix`.
fn wait_for_line(server: &Server, prefix: &str) {
    let mut seen = Vec::new();
    while let Ok(line) = server.stderr.recv_timeout(Duration::from_secs(120)) {
        if line.starts_with(prefix) {
            return;
        }
        seen.push(line);
    }
    panic!("no `{prefix}` line from the server; it said: {seen:#?}");
}

/// The head of `package`'s default channel with its blobs, as
/// `serve_blob_client.py` prints it (`ok ...` or `error CODE details`).
fn head_with_blobs(server: &Server, package: &str) -> String {
    let output = Command::new("python3")
        .arg(repo().join("tests/serve_blob_client.py"))
        .args(["--grpc", &server.grpc, "--package", package])
        .arg("--proto")
        .arg(repo().join("proto/registry.proto"))
        .env("PYTHONPATH", repo().join("tests"))
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn bundle_objects_come_from_the_file_as_loaded_or_not_at_all() {
    // The server keeps where each bundle's objects are in its file, not
    // the objects: a file replaced by rename (as a rebuild does) is still
    // read as loaded; a file changed in place is refused by name.
    let dir = tempfile::tempdir().unwrap();
    let package = "kube-green";
    let source = repo().join("../shared/corpus/expected/fbc-bundle-object").join(package);
    std::fs::create_dir(dir.path().join(package)).unwrap();
    let file = dir.path().join(package).join("catalog.yaml");
    let original = std::fs::read_to_string(source.join("catalog.yaml")).unwrap();
    std::fs::write(&file, &original).unwrap();

    let server = Server::start(dir.path(), &["."]);
    let first = head_with_blobs(&server, package);
    assert!(first.starts_with("ok ") && !first.starts_with("ok 0 "), "{first}");
    // Every object dropped from the new file, renamed over the old one.
    let stripped: String = original
        .lines()
        .filter(|line| !line.contains("olm.bundle.object") && !line.trim_start().starts_with("data:"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(stripped, original);
    std::fs::write(dir.path().join("next.yaml"), &stripped).unwrap();
    std::fs::rename(dir.path().join("next.yaml"), &file).unwrap();
    assert_eq!(head_with_blobs(&server, package), first);
    server.interrupt();

    // In place: the size changes under the server.
    std::fs::write(&file, &original).unwrap();
    let server = Server::start(dir.path(), &["."]);
    assert_eq!(head_with_blobs(&server, package), first);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .and_then(|mut handle| std::io::Write::write_all(&mut handle, b"\n"))
        .unwrap();
    let refused = head_with_blobs(&server, package);
    assert!(
        refused.starts_with("error FAILED_PRECONDITION ") && refused.contains("catalog.yaml changed since `catbuild serve` read it"),
        "{refused}"
    );
    server.interrupt();
}
