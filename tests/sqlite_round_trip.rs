//! FBC → `index.db` → FBC over every published catalog of
//! `../shared/corpus/expected` (both flavours): catbuild's writer stores
//! the package, its reader (as an `index-db` source reads it) gives it back,
//! and every package, channel, channel entry with its upgrade edges,
//! bundle, property and related image comes back: equal sets.
//!
//! What opm's index cannot hold is left out of the comparison, each with
//! its reason ([`NOT_IN_AN_INDEX`]); the other way round, anything else
//! that differs fails the test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use catbuild::encoding::json::{self, Value};
use catbuild::fbc::{self, DeclarativeConfig};

/// Parts of an FBC that opm's SQLite schema has no place for (the reader
/// cannot give back what was never stored).
const NOT_IN_AN_INDEX: &[(&str, &str)] = &[
    (
        "package description",
        "no column holds it; opm's conversion leaves it empty (spec D.7)",
    ),
    (
        "package icon",
        "no column holds it; the reader takes the icon of the default channel head's CSV, as opm does",
    ),
    (
        "olm.csv.metadata",
        "a bundle without olm.bundle.objects has no CSV for the `csv`/`bundle` columns, and catbuild's writer does not store olm.csv.metadata as a property row; only the csv-metadata flavour has such bundles",
    ),
    (
        "relatedImages names",
        "`related_image` keeps images only: names come back from the CSV's spec.relatedImages, so a bundle without its CSV gets `name: \"\"`",
    ),
];

/// Published catalogs that opm's index cannot hold at all, and the error
/// catbuild's writer gives, as opm's loader would (spec D.5).
const NOT_AN_INDEX: &[(&str, &str)] = &[(
    "fbc/rabbitmq-messaging-topology-operator",
    "rows: invalid bundle rabbitmq-messaging-topology-operator.v1.12.1, replaces nonexistent bundle rabbitmq-messaging-topology-operator.v1.12.0",
)];

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/expected")
}

#[test]
fn every_published_package_survives_fbc_to_index_db_and_back() {
    eprintln!("left out of the comparison:");
    for (what, why) in NOT_IN_AN_INDEX {
        eprintln!("  {what}: {why}");
    }
    let mut n_packages = 0;
    let mut problems = Vec::new();
    for flavour in ["fbc-bundle-object", "fbc"] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus().join(flavour))
            .expect("../shared/corpus/expected is readable")
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            n_packages += 1;
            let name = format!("{flavour}/{}", dir.file_name().unwrap().to_string_lossy());
            let refused = NOT_AN_INDEX.iter().find(|(refused, _)| *refused == name);
            match (round_trip(&dir), refused) {
                (Ok(()), None) => {}
                (Err(problem), Some((_, error))) if problem == *error => {}
                (Err(problem), _) => problems.push(format!("{name}: {problem}")),
                (Ok(()), Some(_)) => problems.push(format!("{name} round-trips now: remove it from NOT_AN_INDEX")),
            }
        }
    }
    assert!(n_packages >= 28, "expected the 28 published catalogs, found {n_packages}");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn round_trip(dir: &Path) -> Result<(), String> {
    let original = fbc::load::load_dir(dir).map_err(|error| format!("load: {error}"))?;
    let model = catbuild::model::convert_to_model(&original).map_err(|error| format!("model: {error}"))?;
    let rows = catbuild::sqlite::package_rows(
        &original,
        &model,
        &catbuild::sqlite::SourceOrder::default(),
        catbuild::sqlite::Loader::Image,
        catbuild::sqlite::ChannelWriter::ReplacesChain,
    )
    .map_err(|error| format!("rows: {error}"))?;
    let bytes = catbuild::sqlite::write_index(rows).map_err(|error| format!("write: {error}"))?;
    let scratch = tempfile::tempdir().unwrap();
    let db = scratch.path().join("index.db");
    std::fs::write(&db, bytes).unwrap();
    let back = catbuild::sqlite::read_index(&db, catbuild::sqlite::Dependencies::Keep).map_err(|error| format!("read: {error}"))?;
    let has_objects = original.bundles.iter().any(|bundle| {
        bundle
            .properties
            .iter()
            .any(|property| property.type_ == fbc::PROPERTY_BUNDLE_OBJECT)
    });
    let mut problems = Vec::new();
    compare("packages", &packages(&original), &packages(&back), &mut problems);
    compare("channels", &channels(&original), &channels(&back), &mut problems);
    compare_entries(&original, &back, &mut problems);
    compare("bundles", &bundles(&original), &bundles(&back), &mut problems);
    compare(
        "properties",
        &properties(&original, has_objects),
        &properties(&back, has_objects),
        &mut problems,
    );
    compare(
        "relatedImages",
        &related_images(&original, has_objects),
        &related_images(&back, has_objects),
        &mut problems,
    );
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

fn compare(what: &str, original: &BTreeSet<String>, back: &BTreeSet<String>, problems: &mut Vec<String>) {
    if original == back {
        return;
    }
    let lost: Vec<&String> = original.difference(back).take(5).collect();
    let gained: Vec<&String> = back.difference(original).take(5).collect();
    problems.push(format!("{what} differ:\n  lost:   {lost:?}\n  gained: {gained:?}"));
}

/// Channel entries come back with their edges. The one change is opm's:
/// in an index a channel holds whatever its head's replaces chain reaches
/// (spec D.4), so a channel whose tail replaces a bundle of another
/// channel gains that bundle and the chain below it. Gained entries must be
/// such bundles, and nothing may be lost.
fn compare_entries(original: &DeclarativeConfig, back: &DeclarativeConfig, problems: &mut Vec<String>) {
    let before = entries(original);
    let after = entries(back);
    let lost: Vec<&String> = before.difference(&after).take(5).collect();
    let in_channel = |key: &str| before.iter().any(|entry| entry.starts_with(key));
    let wrongly_gained: Vec<&String> = after
        .difference(&before)
        .filter(|entry| {
            let key: String = entry.split(" replaces=").next().unwrap_or_default().to_string() + " ";
            in_channel(&key)
        })
        .take(5)
        .collect();
    if !lost.is_empty() || !wrongly_gained.is_empty() {
        problems.push(format!("entries differ:\n  lost:   {lost:?}\n  changed: {wrongly_gained:?}"));
    }
}

fn packages(config: &DeclarativeConfig) -> BTreeSet<String> {
    config
        .packages
        .iter()
        .map(|package| format!("{} default={}", package.name, package.default_channel))
        .collect()
}

fn channels(config: &DeclarativeConfig) -> BTreeSet<String> {
    config
        .channels
        .iter()
        .map(|channel| format!("{}/{}", channel.package, channel.name))
        .collect()
}

/// Every entry with its edges: replaces, skips (as a set), skipRange.
fn entries(config: &DeclarativeConfig) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for channel in &config.channels {
        for entry in channel.entries.iter().flatten() {
            let skips: BTreeSet<&String> = entry.skips.iter().collect();
            out.insert(format!(
                "{}/{} {} replaces={:?} skips={skips:?} skipRange={:?}",
                channel.package, channel.name, entry.name, entry.replaces, entry.skip_range
            ));
        }
    }
    out
}

fn bundles(config: &DeclarativeConfig) -> BTreeSet<String> {
    config
        .bundles
        .iter()
        .map(|bundle| format!("{}/{} image={}", bundle.package, bundle.name, bundle.image))
        .collect()
}

/// Every property as (bundle, type, value) with the value's keys sorted
/// and HTML escapes resolved, so that equal JSON compares equal;
/// `olm.bundle.object` by its decoded manifest. Without bundle objects,
/// `olm.csv.metadata` is left out (see [`NOT_IN_AN_INDEX`]).
fn properties(config: &DeclarativeConfig, has_objects: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for bundle in &config.bundles {
        for property in &bundle.properties {
            if !has_objects && property.type_ == fbc::PROPERTY_CSV_METADATA {
                continue;
            }
            let mut value = json::parse(&property.value).unwrap_or(Value::Null);
            if property.type_ == fbc::PROPERTY_BUNDLE_OBJECT {
                let data = value.get("data").and_then(Value::as_str).unwrap_or_default().to_string();
                let decoded = base64_decode(&data);
                value = json::parse(&decoded).unwrap_or(Value::String(decoded));
            }
            out.insert(format!(
                "{} {} {}",
                bundle.name,
                property.type_,
                json::to_compact(&value.sort_keys(), false)
            ));
        }
    }
    out
}

fn related_images(config: &DeclarativeConfig, has_objects: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for bundle in &config.bundles {
        for related in &bundle.related_images {
            let name = if has_objects { related.name.as_str() } else { "" };
            out.insert(format!("{} {name:?} {}", bundle.name, related.image));
        }
    }
    out
}

fn base64_decode(data: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}
