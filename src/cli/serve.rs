//! `catbuild serve`: a catalog over OLM's registry gRPC API and catalogd's
//! HTTP API (`crate::serve`), from an FBC directory, an opm `index.db`, or
//! a project target's last build. Runs until Ctrl-C or SIGTERM. For the
//! dev loop it writes a CatalogSource whose `spec.address` points here, so
//! a cluster reads the catalog without an image.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::build::BuildArgs;
use super::{CommandResult, Failure, GlobalArgs, built_catalog, display_path, project_catalog};
use crate::encoding::json::{self, Value};
use crate::serve::{Bound, Catalog, Index, MetaScope, ServeError, ServeOptions};

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// An FBC directory or an opm index.db (default: the last build of a project target)
    #[arg(value_name = "DIR")]
    source: Option<PathBuf>,
    /// The project target whose last build is served (default: the first)
    #[arg(long, value_name = "TARGET", conflicts_with = "source")]
    target: Option<String>,
    /// Address of the gRPC server (OLM's registry API, health, reflection)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
    addr: SocketAddr,
    /// Also serve catalogd's HTTP API here (/catalogs/NAME/api/v1/all, /metas)
    #[arg(long, value_name = "HOST:PORT")]
    http_addr: Option<SocketAddr>,
    /// The catalog name in HTTP paths and the CatalogSource (default: the target's name, or DIR's)
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Write a CatalogSource with `spec.address` pointing at this server to FILE (`-`: stdout)
    #[arg(long, value_name = "FILE")]
    catalog_source: Option<PathBuf>,
    /// The address a cluster reaches the gRPC server at, for the CatalogSource (default: the bound address)
    #[arg(long, value_name = "HOST:PORT", requires = "catalog_source")]
    advertise: Option<String>,
    /// Rebuild the project target on every edit and serve each good build (calls in flight finish on the old one)
    #[arg(long, conflicts_with = "source")]
    watch: bool,
    /// The CatalogSource's namespace
    #[arg(long, value_name = "NAMESPACE", default_value = "olm", requires = "catalog_source")]
    namespace: String,
}

enum Source {
    Dir(PathBuf),
    IndexDb(PathBuf),
    /// `--watch`: a project target's catalog, served after each good build.
    Watched {
        target: String,
        dir: PathBuf,
    },
}

pub(super) fn run(global: &GlobalArgs, args: &ServeArgs) -> CommandResult {
    // A server should give back what a big answer needed once it is sent.
    super::memory::purge_freed_memory_at_once();
    let (source, default_name) = source(global, args)?;
    let name = args.name.clone().unwrap_or(default_name);
    if !crate::model::k8s_names::is_dns1123_subdomain(&name) {
        return Err(Failure::InputMessage(format!(
            "catalog name `{name}` is not a DNS-1123 subdomain (lowercase letters, digits, `-` and `.`); pass `--name`"
        )));
    }
    let options = ServeOptions {
        grpc_addr: args.addr,
        http_addr: args.http_addr,
        catalog_name: name.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::Other(format!("cannot start the server runtime: {error}")))?;
    let started = Instant::now();
    let quiet = global.quiet;
    let mut catalog_source_result: CommandResult = Ok(());
    let on_ready = |bound: Bound, index: &Index| {
        if !quiet {
            eprintln!(
                "Serving catalog `{name}` ({} packages, {} bundles), ready in {:.2}s",
                index.packages.len(),
                index.n_bundles(),
                started.elapsed().as_secs_f64()
            );
            eprintln!("  gRPC  {}", bound.grpc);
            if let Some(http) = bound.http {
                eprintln!("  HTTP  http://{http}/catalogs/{name}/api/v1/all");
            }
        }
        if let Some(path) = &args.catalog_source {
            let address = args.advertise.clone().unwrap_or_else(|| bound.grpc.to_string());
            catalog_source_result = write_catalog_source(path, &catalog_source(&name, &args.namespace, &address));
        }
    };
    let scope = if args.http_addr.is_some() {
        MetaScope::All
    } else {
        MetaScope::OtherSchemas
    };
    let catalog: Arc<Catalog> = Arc::default();
    let result = match source {
        Source::Watched { target, dir } => {
            let (first, watch_done) = watch_and_swap(global, target, dir, scope, catalog.clone());
            let load = move || {
                first
                    .recv()
                    .unwrap_or_else(|_| Err("the watch stopped before a build passed".to_string()))
            };
            let shutdown = async move {
                let _ = watch_done.await;
            };
            runtime.block_on(crate::serve::run(options, catalog, load, on_ready, shutdown))
        }
        source => {
            let load = move || match source {
                Source::Dir(dir) | Source::Watched { dir, .. } => Index::load_dir(&dir, scope).map_err(|error| error.to_string()),
                Source::IndexDb(path) => Index::load_index_db(&path).map_err(|error| error.to_string()),
            };
            runtime.block_on(crate::serve::run(options, catalog, load, on_ready, shutdown_signal()))
        }
    };
    match result {
        Ok(()) => catalog_source_result,
        Err(ServeError::Load(message)) => Err(Failure::InputMessage(message)),
        Err(error) => Err(Failure::Other(error.to_string())),
    }
}

/// `--watch`: a thread runs the build watch (which owns Ctrl-C and SIGTERM)
/// and, after each good build, reads the target's catalog into a new index.
/// The first one goes to the server's loader through the returned
/// receiver; later ones are swapped into `catalog` (a call in flight keeps
/// its `Arc` of the old one). A failed build, or a built catalog that
/// cannot be served, leaves the last good one served. The second half
/// completes when the watch ends.
fn watch_and_swap(
    global: &GlobalArgs,
    target: String,
    dir: PathBuf,
    scope: MetaScope,
    catalog: Arc<Catalog>,
) -> (std::sync::mpsc::Receiver<Result<Index, String>>, tokio::sync::oneshot::Receiver<()>) {
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let global = global.clone();
    std::thread::spawn(move || {
        let quiet = global.quiet;
        let mut first = Some(first_tx);
        let mut after_build = |passed: bool| {
            if !passed {
                if first.is_none() && !quiet {
                    eprintln!("Still serving the last good build");
                }
                return;
            }
            match Index::load_dir(&dir, scope) {
                Ok(index) => match first.take() {
                    Some(first) => {
                        let _ = first.send(Ok(index));
                    }
                    None => {
                        let n_bundles = index.n_bundles();
                        catalog.set(Arc::new(index));
                        if !quiet {
                            eprintln!("Serving the new build ({n_bundles} bundles)");
                        }
                    }
                },
                Err(error) => eprintln!("warning: the new build of `{target}` cannot be served; still serving the last good one: {error}"),
            }
        };
        if let Err(failure) = super::watch::run_with(&global, &BuildArgs::serving(Some(&target)), &mut after_build) {
            super::report_failure(&failure);
        }
        let _ = done_tx.send(());
    });
    (first_rx, done_rx)
}

/// What to serve, and the catalog name it gives by default.
fn source(global: &GlobalArgs, args: &ServeArgs) -> Result<(Source, String), Failure> {
    if let Some(path) = &args.source {
        let fallback = path
            .canonicalize()
            .ok()
            .and_then(|full| full.file_stem().map(|stem| stem.to_string_lossy().to_lowercase()))
            .filter(|stem| crate::model::k8s_names::is_dns1123_subdomain(stem))
            .unwrap_or_else(|| "catalog".to_string());
        if path.is_dir() {
            return Ok((Source::Dir(path.clone()), fallback));
        }
        if crate::sqlite::is_sqlite_file(path) {
            return Ok((Source::IndexDb(path.clone()), fallback));
        }
        return Err(Failure::InputMessage(format!(
            "`{}` is neither an FBC directory nor an opm index.db",
            display_path(path).display()
        )));
    }
    if args.watch {
        return match project_catalog(global, args.target.as_deref())? {
            Some((target, dir)) => Ok((
                Source::Watched {
                    target: target.clone(),
                    dir,
                },
                target,
            )),
            None => Err(Failure::InputMessage(match &args.target {
                Some(target) => format!("no target `{target}` in catalog.toml"),
                None => "`--watch` serves a project target: run it in a project with catalog.toml".to_string(),
            })),
        };
    }
    match built_catalog(global, args.target.as_deref())? {
        Some((target, dir)) => Ok((Source::Dir(dir), target)),
        None => Err(Failure::InputMessage(match &args.target {
            Some(target) => format!("no target `{target}` in catalog.toml"),
            None => "nothing to serve: give an FBC directory or index.db, or run in a project with catalog.toml".to_string(),
        })),
    }
}

/// Ctrl-C, or SIGTERM (what `kubectl delete` and process managers send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A CatalogSource (spec G.1) that reads the catalog from `address`
/// instead of an image: OLM then polls nothing and needs no registry.
fn catalog_source(name: &str, namespace: &str, address: &str) -> String {
    let quote = |text: &str| json::to_compact(&Value::str(text), false);
    format!(
        "apiVersion: operators.coreos.com/v1alpha1\nkind: CatalogSource\nmetadata:\n  name: {}\n  namespace: {}\nspec:\n  sourceType: grpc\n  address: {}\n  displayName: {}\n",
        quote(name),
        quote(namespace),
        quote(address),
        quote(&format!("{name} (catbuild serve)")),
    )
}

fn write_catalog_source(path: &std::path::Path, text: &str) -> CommandResult {
    if path.as_os_str() == "-" {
        return super::print_stdout(text);
    }
    fs_err::write(path, text).map_err(|error| Failure::Other(format!("cannot write the CatalogSource: {error}")))
}
