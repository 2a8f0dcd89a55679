//! `catbuild matrix`: which OpenShift version's catalog holds which bundle,
//! and why (annotation value, explicit channel, `exclude`), so a reviewer
//! sees the effect of a change before building. A table of bundles ×
//! versions on stdout, or JSON with `--json`.

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs, print_diagnostics, print_stdout};
use crate::encoding::json::{self, Value};
use crate::openshift::matrix::Matrix;

#[derive(Debug, Args)]
pub(super) struct MatrixArgs {
    /// Only these targets' versions (repeatable, or comma-separated)
    #[arg(long = "target", value_name = "TARGET", value_delimiter = ',')]
    targets: Vec<String>,
    /// JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub(super) fn run(global: &GlobalArgs, args: &MatrixArgs) -> CommandResult {
    let config = super::build::load_config(global)?;
    let (matrix, diagnostics) = crate::pipeline::matrix(&config, &args.targets)?;
    // The annotations' own problems are the build's errors too; the table
    // still shows what each value means.
    if diagnostics.iter().any(crate::diag::Diagnostic::is_error) {
        print_diagnostics(&diagnostics);
        print_stdout(&render(&matrix, args.json))?;
        return Err(Failure::Input(Vec::new()));
    }
    if !diagnostics.is_empty() && !global.quiet {
        print_diagnostics(&diagnostics);
    }
    print_stdout(&render(&matrix, args.json))
}

fn render(matrix: &Matrix, as_json: bool) -> String {
    if as_json { to_json(matrix) } else { to_text(matrix) }
}

/// Aligned columns: package, bundle, one `yes` or `-` per version, why.
pub(super) fn to_text(matrix: &Matrix) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["PACKAGE".to_string(), "BUNDLE".to_string()];
    header.extend(matrix.versions.iter().map(ToString::to_string));
    header.push("WHY".to_string());
    rows.push(header);
    for row in &matrix.rows {
        let mut cells = vec![row.package.clone(), row.bundle.clone()];
        cells.extend(row.cells.iter().map(|cell| if cell.held { "yes" } else { "-" }.to_string()));
        cells.push(row.rule.describe());
        rows.push(cells);
    }
    let n_columns = rows[0].len();
    let mut widths = vec![0; n_columns];
    for row in &rows {
        for (idx, cell) in row.iter().enumerate() {
            widths[idx] = widths[idx].max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let mut line = String::new();
        for (idx, cell) in row.iter().enumerate() {
            if idx + 1 == n_columns {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[idx]));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `{"versions": [...], "bundles": [{"package", "bundle", "why", "catalogs":
/// {"v4.12": {"held", "why"}}}]}`.
pub(super) fn to_json(matrix: &Matrix) -> String {
    let string = |text: &str| Value::String(text.to_string());
    let object = |fields: Vec<(String, Value)>| Value::Object(fields);
    let bundles = matrix
        .rows
        .iter()
        .map(|row| {
            let catalogs = matrix
                .versions
                .iter()
                .zip(&row.cells)
                .map(|(version, cell)| {
                    (
                        version.to_string(),
                        object(vec![
                            ("held".to_string(), Value::Bool(cell.held)),
                            ("why".to_string(), string(&cell.why)),
                        ]),
                    )
                })
                .collect();
            object(vec![
                ("package".to_string(), string(&row.package)),
                ("bundle".to_string(), string(&row.bundle)),
                ("why".to_string(), string(&row.rule.describe())),
                ("catalogs".to_string(), Value::Object(catalogs)),
            ])
        })
        .collect();
    let document = object(vec![
        (
            "versions".to_string(),
            Value::Array(matrix.versions.iter().map(|version| string(&version.to_string())).collect()),
        ),
        ("bundles".to_string(), Value::Array(bundles)),
    ]);
    let mut text = json::to_indented(&document, "  ");
    text.push('\n');
    text
}
