//! `catbuild init old/index.db`: the `catalog.toml` that moves an opm SQLite
//! index to File-Based Catalogs, one `[[package]]` with `index-db` per
//! package of the index. A team then replaces one package's `index-db` with
//! its bundle directories when it is ready, and keeps writing `index.db`
//! for older clusters with the `sqlite` format as long as it needs to.

use std::fmt::Write as _;

use super::write::toml_string;

/// The `catalog.toml` text for the packages of an index; `index_db` is its
/// path relative to the config's directory.
pub fn write_index_db_catalog_toml(catalog_name: &str, index_db: &str, packages: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `catbuild init {index_db}`; every key is described in docs/catalog-toml.md."
    );
    let _ = writeln!(
        out,
        "# Each package is read from the opm index as `opm render` reads it. Replace a\n# package's `index-db` with `bundles = [...]` to build it from bundle directories."
    );
    let _ = writeln!(out, "version = 1\n\n[catalog]\nname = {}\n", toml_string(catalog_name));
    for package in packages {
        let _ = writeln!(
            out,
            "[[package]]\nname = {}\nindex-db = {}\n",
            toml_string(package),
            toml_string(index_db)
        );
    }
    let _ = writeln!(
        out,
        "[[target]]\nname = \"default\"\n# Add \"sqlite\" to keep writing an index.db for clusters that still read one.\nformats = [\"fbc-json\"]"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_package_table_per_package_of_the_index() {
        let text = write_index_db_catalog_toml("moved", "old/index.db", &["bar".to_string(), "foo".to_string()]);
        let config = crate::config::parse(
            &text.replace("old/index.db", "missing.db"),
            std::path::Path::new("/nonexistent/catalog.toml"),
        );
        // The file does not exist, so parsing alone must not read it: only
        // the build does.
        let config = config.expect("the written catalog.toml parses");
        let names: Vec<&str> = config.packages.iter().map(|package| package.name.value.as_str()).collect();
        assert_eq!(names, ["bar", "foo"]);
        assert!(config.packages.iter().all(|package| package.index_db.is_some()));
    }
}
