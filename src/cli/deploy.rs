//! `catbuild deploy` (a target's deployment YAML on stdout, for
//! `| kubectl apply -f -`) and `catbuild templates list|show` (the
//! built-in deploy templates, to copy into a project's override dir).

use clap::{Args, Subcommand};

use super::{CommandResult, Failure, GlobalArgs, print_diagnostics, print_stdout};
use crate::pipeline::{self, BuildOptions};

#[derive(Debug, Args)]
pub(super) struct DeployArgs {
    /// Only this target (repeatable, or comma-separated; default: every target with `olm`)
    #[arg(long = "target", value_name = "TARGET", value_delimiter = ',')]
    targets: Vec<String>,
}

pub(super) fn run(global: &GlobalArgs, args: &DeployArgs) -> CommandResult {
    let config = super::build::load_config(global)?;
    let options = BuildOptions {
        targets: args.targets.clone(),
        ..BuildOptions::default()
    };
    let targets = pipeline::deploy_files(&config, &options, &pipeline::Silent).map_err(Failure::from)?;
    let mut out = String::new();
    let mut n_files = 0;
    for (target, files) in &targets {
        for file in files {
            // kubectl reads objects; the kustomization is for `apply -k`.
            if file.path.file_name().is_some_and(|name| name == "kustomization.yaml") {
                continue;
            }
            if n_files > 0 {
                out.push_str("---\n");
            }
            n_files += 1;
            out.push_str(&format!("# Source: {target}/{}\n", file.path.display()));
            out.push_str(&String::from_utf8_lossy(&file.bytes));
        }
    }
    if n_files == 0 {
        let names: Vec<&str> = targets.iter().map(|(name, _)| name.as_str()).collect();
        return Err(Failure::InputMessage(format!(
            "no deployment objects: target(s) {} set no `olm` in `{}` (add `olm = \"v0\"`, `\"v1\"` or `\"both\"` to a `[[target]]`)",
            names.join(", "),
            super::display_path(&config.path).display()
        )));
    }
    if !global.quiet && targets.iter().any(|(_, files)| files.is_empty()) {
        let skipped: Vec<&str> = targets
            .iter()
            .filter(|(_, files)| files.is_empty())
            .map(|(name, _)| name.as_str())
            .collect();
        print_diagnostics(&[crate::diag::Diagnostic::warning(
            "deploy",
            format!("target(s) {} write no deployment objects (no `olm`)", skipped.join(", ")),
        )]);
    }
    print_stdout(&out)
}

#[derive(Debug, Args)]
pub(super) struct TemplatesArgs {
    #[command(subcommand)]
    command: TemplatesCommand,
}

#[derive(Debug, Subcommand)]
enum TemplatesCommand {
    /// List the built-in deploy templates
    List,
    /// Print a built-in deploy template
    Show {
        /// Template name, as `templates list` prints it (`.yaml.j2` may be left out)
        name: String,
    },
}

pub(super) fn templates(args: &TemplatesArgs) -> CommandResult {
    use crate::deploy::templates::{BUILTIN, builtin};
    match &args.command {
        TemplatesCommand::List => {
            let mut out = String::new();
            for (name, _) in BUILTIN {
                out.push_str(name);
                out.push('\n');
            }
            print_stdout(&out)
        }
        TemplatesCommand::Show { name } => {
            let full = if name.ends_with(".j2") {
                name.clone()
            } else {
                format!("{}.yaml.j2", name.trim_end_matches(".yaml"))
            };
            match builtin(&full) {
                Some(text) => print_stdout(text),
                None => {
                    let names: Vec<&str> = BUILTIN.iter().map(|(name, _)| *name).collect();
                    let hint = crate::config::closest(&full, &names).map_or_else(
                        || format!("templates: {}", names.join(", ")),
                        |best| format!("did you mean `{best}`?"),
                    );
                    Err(Failure::InputMessage(format!("no built-in deploy template `{name}`; {hint}")))
                }
            }
        }
    }
}
