//! `catbuild graph`: upgrade graphs. `mermaid` (the default) is byte for
//! byte `opm alpha render-graph` of an FBC directory, with opm's flags and
//! error texts; `dot`, `svg` and `html` are catbuild's own pictures
//! (`crate::draw`). The catalog is an FBC path, or a project target's last
//! build (the first target unless `--target` says).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::{CommandResult, Failure, GlobalArgs, display_path, print_stdout};
use crate::fbc::{self, DeclarativeConfig};

#[derive(Debug, Args)]
pub(super) struct GraphArgs {
    /// An FBC directory or file, or a package of the project (default: every package of the target)
    #[arg(value_name = "CATALOG|PACKAGE")]
    source: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
    /// Only this package
    #[arg(short = 'p', long, value_name = "PACKAGE")]
    package_name: Option<String>,
    /// Only this channel (dot, svg, html)
    #[arg(long, value_name = "CHANNEL")]
    channel: Option<String>,
    /// The project target whose last build is drawn (default: the first)
    #[arg(long, value_name = "TARGET")]
    target: Option<String>,
    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Style deprecated and skipped bundles the way OLM v0 resolves them (mermaid)
    #[arg(long)]
    draw_v0_semantics: bool,
    /// Drop edges below this bundle (mermaid)
    #[arg(long, value_name = "BUNDLE")]
    minimum_edge: Option<String>,
}

/// `graph --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    /// A mermaid flowchart, as `opm alpha render-graph` writes it
    Mermaid,
    /// Graphviz DOT
    Dot,
    /// An SVG picture, every selected channel one under another
    Svg,
    /// One self-contained HTML page: channel selector, pan, zoom, hover
    Html,
}

pub(super) fn run(global: &GlobalArgs, args: &GraphArgs) -> CommandResult {
    let (config, title, package) = load(global, args)?;
    let text = match args.format {
        GraphFormat::Mermaid => {
            if args.channel.is_some() {
                return Err(Failure::InputMessage("--channel is for --format dot, svg or html".to_string()));
            }
            let options = crate::graph::mermaid::MermaidOptions {
                minimum_edge: args.minimum_edge.clone(),
                package_name: package,
                draw_v0_semantics: args.draw_v0_semantics,
            };
            crate::graph::mermaid::write_mermaid(&config, &options).map_err(Failure::InputMessage)?
        }
        format => {
            if args.minimum_edge.is_some() || args.draw_v0_semantics {
                return Err(Failure::InputMessage(
                    "--minimum-edge and --draw-v0-semantics are for --format mermaid".to_string(),
                ));
            }
            let selection = crate::draw::Selection {
                package,
                channel: args.channel.clone(),
            };
            let graphs = crate::draw::channel_graphs(&config, &selection).map_err(Failure::InputMessage)?;
            match format {
                GraphFormat::Dot => crate::draw::to_dot(&graphs),
                GraphFormat::Svg => crate::draw::to_svg(&graphs),
                _ => crate::draw::to_html(&graphs, &title),
            }
        }
    };
    match &args.output {
        None => print_stdout(&text),
        Some(path) => fs_err::write(path, text).map_err(|error| Failure::Other(error.to_string())),
    }
}

/// The catalog, a title for it, and the package to draw.
fn load(global: &GlobalArgs, args: &GraphArgs) -> Result<(DeclarativeConfig, String, Option<String>), Failure> {
    let fbc_path = args.source.as_deref().map(Path::new).filter(|path| path.exists());
    if let Some(path) = fbc_path {
        let loaded = if path.is_dir() {
            fbc::load::load_dir(path)
        } else {
            fbc::load::load_file(path)
        };
        let config = loaded.map_err(|error| Failure::InputMessage(format!("{}: {}", error.path.display(), error.message)))?;
        return Ok((config, display_path(path).display().to_string(), args.package_name.clone()));
    }
    let package = match (&args.source, &args.package_name) {
        (Some(source), Some(named)) if source != named => {
            return Err(Failure::InputMessage(format!(
                "`{source}` is not an FBC path, and `--package-name {named}` names another package"
            )));
        }
        (Some(source), _) => Some(source.clone()),
        (None, named) => named.clone(),
    };
    let Some((target, dir)) = super::built_catalog(global, args.target.as_deref())? else {
        return Err(Failure::InputMessage(match (&args.target, &args.source) {
            (Some(target), _) => format!("no target `{target}` in catalog.toml"),
            (None, Some(source)) => format!("`{source}` is not a file or directory, and there is no catalog.toml to find a package in"),
            (None, None) => "give an FBC directory, or run in a project (catalog.toml)".to_string(),
        }));
    };
    let config = fbc::load::load_dir(&dir).map_err(|error| Failure::Other(format!("{}: {}", error.path.display(), error.message)))?;
    Ok((config, format!("target {target}"), package))
}
