//! `catbuild serve`: a catalog over OLM's registry gRPC API and catalogd's
//! HTTP API (`crate::serve`), from an FBC directory, an opm `index.db`, or
//! a project target's last build. Runs until Ctrl-C or SIGTERM. For the
//! dev loop it writes a CatalogSource whose `spec.address` points here, so
//! a cluster reads the catalog without an image.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{CommandResult, Failure, GlobalArgs, built_catalog, display_path};
use crate::encoding::json::{self, Value};
use crate::serve::{Bound, Index, ServeError, ServeOptions};

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
    /// The CatalogSource's namespace
    #[arg(long, value_name = "NAMESPACE", default_value = "olm", requires = "catalog_source")]
    namespace: String,
}

enum Source {
    Dir(PathBuf),
    IndexDb(PathBuf),
}

pub(super) fn run(global: &GlobalArgs, args: &ServeArgs) -> CommandResult {
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
    let load = move || match source {
        Source::Dir(dir) => Index::load_dir(&dir).map_err(|error| error.to_string()),
        Source::IndexDb(path) => Index::load_index_db(&path).map_err(|error| error.to_string()),
    };
    let result = runtime.block_on(crate::serve::run(
        options,
        std::sync::Arc::default(),
        load,
        on_ready,
        shutdown_signal(),
    ));
    match result {
        Ok(()) => catalog_source_result,
        Err(ServeError::Load(message)) => Err(Failure::InputMessage(message)),
        Err(error) => Err(Failure::Other(error.to_string())),
    }
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
