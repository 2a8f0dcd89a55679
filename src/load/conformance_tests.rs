//! Bundle loading against opm's own outputs: every `render-bundle`
//! conformance case, every corpus bundle, and the published catalogs of the
//! corpus packages. Each test runs all its cases and lists every failure at
//! the end, so one run shows the whole picture.

use std::path::{Path, PathBuf};

use super::*;
use crate::encoding::json::{self, Value};
use crate::fbc::{self, write::Format};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared");

fn shared(path: &str) -> PathBuf {
    Path::new(SHARED).join(path)
}

/// What running `catbuild render ARGS` must give for a render-bundle case.
struct Case {
    name: String,
    dir: PathBuf,
    kind: String,
    refs: Vec<String>,
    format: Format,
    migrate: bool,
    image_ref_template: Option<String>,
    images: Vec<(String, PathBuf)>,
    exit: i64,
    stdout: Option<PathBuf>,
    stderr_contains: Vec<String>,
}

fn read_case(dir: &Path) -> Case {
    let text = fs_err::read_to_string(dir.join("case.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let strings = |key: &str| -> Vec<String> {
        table.get(key).and_then(|value| value.as_array()).map_or_else(Vec::new, |items| {
            items.iter().map(|item| item.as_str().unwrap().to_string()).collect()
        })
    };
    let args = strings("args");
    assert_eq!(args.first().map(String::as_str), Some("render"), "{}", dir.display());
    let mut refs = Vec::new();
    let mut format = Format::Json;
    let mut migrate = false;
    let mut image_ref_template = None;
    let mut idx = 1;
    while idx < args.len() {
        match args[idx].as_str() {
            "-o" => {
                format = if args[idx + 1] == "yaml" { Format::Yaml } else { Format::Json };
                idx += 2;
            }
            "--migrate-level" => {
                assert_eq!(args[idx + 1], "bundle-object-to-csv-metadata");
                migrate = true;
                idx += 2;
            }
            "--alpha-image-ref-template" => {
                image_ref_template = Some(args[idx + 1].clone());
                idx += 2;
            }
            other => {
                refs.push(other.to_string());
                idx += 1;
            }
        }
    }
    let images = table
        .get("images")
        .and_then(|value| value.as_table())
        .map(|images| {
            images
                .iter()
                .map(|(image, path)| (image.clone(), dir.join(path.as_str().unwrap())))
                .collect()
        })
        .unwrap_or_default();
    Case {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        dir: dir.to_path_buf(),
        kind: table.get("kind").and_then(|value| value.as_str()).unwrap_or("").to_string(),
        refs,
        format,
        migrate,
        image_ref_template,
        images,
        exit: table.get("exit").and_then(|value| value.as_integer()).unwrap_or(0),
        stdout: table.get("stdout").and_then(|value| value.as_str()).map(|path| dir.join(path)),
        stderr_contains: strings("stderr_contains"),
    }
}

/// The labels of an image built from a bundle dir: one per
/// `metadata/annotations.yaml` entry (what bundle.Dockerfile writes).
fn annotation_labels(dir: &Path) -> Vec<(String, String)> {
    let Ok(bytes) = fs_err::read(dir.join("metadata/annotations.yaml")) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some(Ok(document)) = crate::encoding::yaml_in::decode_stream(&text).into_iter().next() else {
        return Vec::new();
    };
    let mut labels: Vec<(String, String)> = document
        .value
        .get("annotations")
        .and_then(Value::as_object)
        .unwrap_or_default()
        .iter()
        .map(|(key, value)| {
            (
                key.clone(),
                value.as_str().map_or_else(|| json::to_compact(value, false), str::to_string),
            )
        })
        .collect();
    labels.sort();
    labels
}

/// Expands `{{.Package}}`, `{{.Name}}`, `{{.Version}}` (all the template
/// syntax the cases use).
fn expand_template(template: &str, data: &ImageRefTemplateData) -> Result<String, String> {
    Ok(template
        .replace("{{.Package}}", &data.package)
        .replace("{{.Name}}", &data.name)
        .replace("{{.Version}}", &data.version))
}

/// Renders one reference like `opm render`: (bundle, csv), or the error
/// text opm prints (without the log prefix).
fn render_ref(case: &Case, reference: &str) -> Result<(fbc::Bundle, Value), String> {
    let wrap = |message: String| format!("render reference {reference:?}: {message}");
    let loaded = if let Some((_, dir)) = case.images.iter().find(|(image, _)| image == reference) {
        let labels = annotation_labels(dir);
        if !labels
            .iter()
            .any(|(key, _)| key == "operators.operatorframework.io.bundle.package.v1")
        {
            let lines: Vec<String> = labels.iter().map(|(key, value)| format!("  {key}={value}")).collect();
            return Err(wrap(format!(
                "render {reference:?}: image type could not be determined, found labels\n{}",
                lines.join("\n")
            )));
        }
        load_bundle_dir(dir, Some(reference))
    } else if let Some(template) = &case.image_ref_template {
        load_bundle_dir_with_template(&case.dir.join(reference), &|data| expand_template(template, data))
    } else {
        load_bundle_dir(&case.dir.join(reference), None)
    };
    let loaded = loaded.map_err(|error| wrap(error.to_string()))?;
    Ok((loaded.bundle, loaded.csv))
}

enum Outcome {
    Pass,
    Pending(String),
    Fail(String),
}

fn run_case(case: &Case) -> Outcome {
    let mut config = fbc::DeclarativeConfig::default();
    for reference in &case.refs {
        match render_ref(case, reference) {
            Ok((mut bundle, csv)) => {
                if case.migrate
                    && let Err(error) = migrate_to_csv_metadata(&mut bundle, &csv)
                {
                    return Outcome::Fail(format!("unexpected migrate error: {error}"));
                }
                config.bundles.push(bundle);
            }
            Err(message) if case.exit == 1 => {
                let missing: Vec<&String> = case
                    .stderr_contains
                    .iter()
                    .filter(|text| !message.contains(text.as_str()))
                    .collect();
                return if missing.is_empty() {
                    Outcome::Pass
                } else {
                    Outcome::Fail(format!("error text {message:?} lacks {missing:?}"))
                };
            }
            Err(message) => return Outcome::Fail(format!("unexpected error: {message}")),
        }
    }
    if case.exit == 1 {
        return Outcome::Fail("rendered without the expected error".to_string());
    }
    let format = case.format;
    let written = std::panic::catch_unwind(|| fbc::write::write(&config, format));
    let actual = match written {
        Ok(Ok(text)) => text,
        Ok(Err(error)) => return Outcome::Fail(format!("writer error: {error}")),
        Err(_) if format == Format::Yaml => {
            return Outcome::Pending("yaml_out not implemented yet".to_string());
        }
        Err(_) => return Outcome::Fail("writer panicked".to_string()),
    };
    let expected = fs_err::read_to_string(case.stdout.as_ref().unwrap()).unwrap();
    if actual == expected {
        Outcome::Pass
    } else {
        Outcome::Fail(first_difference(&expected, &actual))
    }
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (idx, (want, got)) in expected.lines().zip(actual.lines()).enumerate() {
        if want != got {
            let clip = |text: &str| text.chars().take(300).collect::<String>();
            return format!("line {}: expected {:?}, got {:?}", idx + 1, clip(want), clip(got));
        }
    }
    format!(
        "lengths differ: expected {} lines, got {}",
        expected.lines().count(),
        actual.lines().count()
    )
}

#[test]
fn conformance_render_bundle_cases() {
    let suite = shared("conformance/render-bundle");
    let mut dirs: Vec<PathBuf> = fs_err::read_dir(&suite)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    let mut summary: std::collections::BTreeMap<String, [usize; 3]> = Default::default();
    let mut failures = Vec::new();
    for dir in dirs {
        let case = read_case(&dir);
        let outcome =
            std::panic::catch_unwind(|| run_case(&case)).unwrap_or_else(|panic| Outcome::Fail(format!("panicked: {}", panic_text(&panic))));
        let counts = summary.entry(case.kind.clone()).or_default();
        match outcome {
            Outcome::Pass => counts[0] += 1,
            Outcome::Fail(reason) => {
                counts[1] += 1;
                failures.push(format!("{}: {reason}", case.name));
            }
            Outcome::Pending(reason) => {
                counts[2] += 1;
                eprintln!("pending {}: {reason}", case.name);
            }
        }
    }
    for (kind, [pass, fail, pending]) in &summary {
        eprintln!("render-bundle {kind}: {pass} pass, {fail} fail, {pending} pending");
    }
    assert!(
        failures.is_empty(),
        "{} failing render-bundle cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default()
}

/// Bundle dirs of the corpus: `bundles/<pkg>/<version>`.
fn corpus_bundle_dirs() -> Vec<(String, PathBuf)> {
    let mut dirs = Vec::new();
    let root = shared("corpus/bundles");
    let mut packages: Vec<PathBuf> = fs_err::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    packages.sort();
    for package in packages {
        let mut versions: Vec<PathBuf> = fs_err::read_dir(&package)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_dir() && path.file_name().is_some_and(|name| name != "catalog-templates"))
            .collect();
        versions.sort();
        for version in versions {
            let label = format!(
                "{}/{}",
                package.file_name().unwrap().to_string_lossy(),
                version.file_name().unwrap().to_string_lossy()
            );
            dirs.push((label, version));
        }
    }
    dirs
}

/// Corpus bundles that cannot load as bundle dirs (corpus/README.md):
/// nested under `bundle/` or `certification/`, or no `manifests/` at all.
const CORPUS_UNLOADABLE: &[(&str, &str)] = &[
    ("gitlab-runner-operator/1.22.0", "a bundle is nested at"),
    ("gitlab-runner-operator/1.23.0", "a bundle is nested at"),
    ("gitlab-runner-operator/1.23.1", "a bundle is nested at"),
    ("jupyter-notebook-validator-operator/1.0.7", "no `manifests/` directory"),
    ("rabbitmq-messaging-topology-operator/1.18.3", "a bundle is nested at"),
    ("rabbitmq-messaging-topology-operator/1.19.0", "a bundle is nested at"),
    ("rabbitmq-messaging-topology-operator/1.19.1", "a bundle is nested at"),
];

#[test]
fn corpus_bundles_load_or_fail_clearly() {
    let dirs = corpus_bundle_dirs();
    assert!(dirs.len() > 150, "corpus has {} bundle dirs", dirs.len());
    let results: Vec<(String, Result<LoadedBundle, String>)> = {
        use rayon::prelude::*;
        dirs.par_iter()
            .map(|(label, dir)| {
                let result = std::panic::catch_unwind(|| load_bundle_dir(dir, None))
                    .map_err(|panic| format!("panicked: {}", panic_text(&panic)))
                    .and_then(|result| result.map_err(|error| error.to_string()));
                (label.clone(), result)
            })
            .collect()
    };
    let mut problems = Vec::new();
    for (label, result) in &results {
        let expected = CORPUS_UNLOADABLE.iter().find(|(name, _)| name == label).map(|(_, text)| *text);
        match (result, expected) {
            (Ok(loaded), None) => {
                if loaded.bundle.name != loaded.csv_name || loaded.bundle.package.is_empty() {
                    problems.push(format!(
                        "{label}: odd result name={:?} package={:?}",
                        loaded.bundle.name, loaded.bundle.package
                    ));
                }
            }
            (Ok(_), Some(text)) => problems.push(format!("{label}: loaded, expected an error containing {text:?}")),
            (Err(message), Some(text)) if message.contains(text) => {}
            (Err(message), _) => problems.push(format!("{label}: {message}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} corpus bundles misbehave:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// A value loaded through a Go map (sorted keys) compared with one we
/// built (struct order).
fn canonical(text: &str) -> String {
    json::parse(text)
        .map(|value| json::to_compact(&value.sort_keys(), false))
        .unwrap_or_else(|_| text.to_string())
}

/// Renders every corpus bundle of `package` as an image (the published
/// image reference is unknown, so a placeholder stands in and is dropped
/// from `relatedImages` before comparing).
fn rendered_corpus_package(package_dir: &Path, migrate: bool) -> Vec<fbc::Bundle> {
    let mut bundles = Vec::new();
    let mut versions: Vec<PathBuf> = fs_err::read_dir(package_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    versions.sort();
    for version in versions {
        if let Ok(loaded) = load_bundle_dir(&version, Some("placeholder.invalid/bundle:tag")) {
            let mut bundle = loaded.bundle;
            if migrate {
                migrate_to_csv_metadata(&mut bundle, &loaded.csv).unwrap();
            }
            bundles.push(bundle);
        }
    }
    bundles
}

/// Published bundles whose source dir is not in the corpus although a dir
/// holds a CSV of the same name: `bundles/slurm-operator/0.4.1` carries a
/// CSV still named `slurm-operator.v0.4.0` but with 0.4.1 content (images
/// `:0.4.1`), while the catalog's `slurm-operator.v0.4.0` is the real 0.4.0.
const PUBLISHED_NOT_IN_CORPUS: &[&str] = &["slurm-operator.v0.4.0"];

fn compare_published(flavour: &str, migrate: bool) -> (usize, Vec<String>) {
    let root = shared(&format!("corpus/expected/{flavour}"));
    let mut packages: Vec<PathBuf> = fs_err::read_dir(&root).unwrap().map(|entry| entry.unwrap().path()).collect();
    packages.sort();
    let mut compared = 0;
    let mut problems = Vec::new();
    for package in packages {
        let name = package.file_name().unwrap().to_string_lossy().into_owned();
        let published = fbc::load::load_file(&package.join("catalog.yaml")).unwrap();
        let package_dir = shared(&format!("corpus/bundles/{name}"));
        let package_dir = if package_dir.is_dir() {
            package_dir
        } else {
            shared(&format!("corpus/bundles/{}", name.trim_end_matches("-operator")))
        };
        let ours = rendered_corpus_package(&package_dir, migrate);
        for expected in &published.bundles {
            if PUBLISHED_NOT_IN_CORPUS.contains(&expected.name.as_str()) {
                continue;
            }
            let Some(actual) = ours.iter().find(|bundle| bundle.name == expected.name) else {
                problems.push(format!("{name}: bundle {} not rendered from the corpus", expected.name));
                continue;
            };
            compared += 1;
            let properties = |bundle: &fbc::Bundle| -> Vec<(String, String)> {
                bundle
                    .properties
                    .iter()
                    .map(|property| (property.type_.clone(), canonical(&property.value)))
                    .collect()
            };
            let (want, got) = (properties(expected), properties(actual));
            if want != got {
                let diff: Vec<String> = want
                    .iter()
                    .zip(got.iter().chain(std::iter::repeat(&(String::new(), String::new()))))
                    .filter(|(left, right)| left != right)
                    .take(1)
                    .map(|(left, right)| {
                        let clip = |text: &str| text.chars().take(200).collect::<String>();
                        format!("want {} {} / got {} {}", left.0, clip(&left.1), right.0, clip(&right.1))
                    })
                    .collect();
                problems.push(format!(
                    "{name}/{}: properties differ ({} vs {}): {}",
                    expected.name,
                    want.len(),
                    got.len(),
                    diff.join("; ")
                ));
            }
            let related = |bundle: &fbc::Bundle| -> Vec<fbc::RelatedImage> {
                bundle
                    .related_images
                    .iter()
                    .filter(|image| !(image.name.is_empty() && image.image == bundle.image))
                    .cloned()
                    .collect()
            };
            if related(expected) != related(actual) {
                problems.push(format!(
                    "{name}/{}: relatedImages differ: want {:?}, got {:?}",
                    expected.name,
                    related(expected),
                    related(actual)
                ));
            }
        }
    }
    (compared, problems)
}

#[test]
fn corpus_published_bundle_object_catalogs_match() {
    let (compared, problems) = compare_published("fbc-bundle-object", false);
    eprintln!("fbc-bundle-object: {compared} bundles compared, {} problems", problems.len());
    assert!(compared > 0);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn corpus_published_csv_metadata_catalogs_match() {
    let (compared, problems) = compare_published("fbc", true);
    eprintln!("fbc (csv metadata): {compared} bundles compared, {} problems", problems.len());
    assert!(compared > 0);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn corpus_package_manifests_load() {
    let expected = [
        ("aws-efs-operator", "aws-efs-operator", 8),
        ("ecr-secret-operator", "ecr-secret-operator", 3),
        ("enmasse", "enmasse", 8),
        ("etcd", "etcd", 6),
        ("hawtio-operator", "hawtio-operator", 5),
        ("mariadb-operator-app", "mariadb-operator-app", 4),
        ("multicluster-global-hub-operator", "multicluster-global-hub-operator", 3),
    ];
    let mut problems = Vec::new();
    for (dir, package, n_bundles) in expected {
        match load_package_manifest_dir(&shared(&format!("corpus/package-manifests/{dir}"))) {
            Ok(manifest) => {
                let names: Vec<&str> = manifest.bundles.iter().map(|bundle| bundle.bundle.name.as_str()).collect();
                if manifest.package_name != package || manifest.bundles.len() != n_bundles {
                    problems.push(format!("{dir}: package {:?}, bundles {names:?}", manifest.package_name));
                }
                for bundle in &manifest.bundles {
                    if bundle.bundle.package != package || bundle.channels.is_empty() {
                        problems.push(format!(
                            "{dir}/{}: package {:?}, channels {:?}",
                            bundle.csv_name, bundle.bundle.package, bundle.channels
                        ));
                    }
                }
            }
            Err(error) => problems.push(format!("{dir}: {error}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn package_manifest_channels_follow_replaces_chains() {
    let manifest = load_package_manifest_dir(&shared("corpus/package-manifests/etcd")).unwrap();
    assert_eq!(manifest.default_channel(), Some("singlenamespace-alpha"));
    let channels: Vec<(String, Vec<String>)> = manifest
        .bundles
        .iter()
        .map(|bundle| (bundle.csv_name.clone(), bundle.channels.clone()))
        .collect();
    let expect = |name: &str, channels: &[&str]| {
        (
            name.to_string(),
            channels.iter().map(|channel| channel.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        channels,
        vec![
            expect("etcdoperator.v0.6.1", &["alpha"]),
            expect("etcdoperator.v0.9.0", &["singlenamespace-alpha", "clusterwide-alpha"]),
            expect("etcdoperator.v0.9.2", &["singlenamespace-alpha"]),
            expect("etcdoperator.v0.9.2-clusterwide", &["clusterwide-alpha"]),
            expect("etcdoperator.v0.9.4", &["singlenamespace-alpha"]),
            expect("etcdoperator.v0.9.4-clusterwide", &["clusterwide-alpha"]),
        ]
    );
    let first = &manifest.bundles[0];
    assert_eq!(first.default_channel.as_deref(), Some("singlenamespace-alpha"));
    assert_eq!(first.bundle.image, "");
    assert_eq!(
        first
            .bundle
            .properties
            .iter()
            .find(|property| property.type_ == fbc::PROPERTY_PACKAGE)
            .map(|property| property.value.as_str()),
        Some(r#"{"packageName":"etcd","version":"0.6.1"}"#)
    );
}
