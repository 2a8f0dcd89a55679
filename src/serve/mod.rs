//! `catbuild serve`: a catalog served the way a cluster reads one. OLM's
//! registry gRPC API (`api.Registry`, spec E.6, what a CatalogSource pod's
//! `opm serve` answers) with the standard health and reflection services,
//! and catalogd's HTTP API (`/catalogs/<name>/api/v1/all` and `/metas`,
//! olm-v1.md C) for OLM v1 clients and `curl`.
//!
//! The catalog is read and linked once into an [`index::Index`]: no cache
//! on disk, so nothing can go stale (trap 11). [`Catalog`] holds the index
//! being served; a call takes its own `Arc` of it, so a swapped-in index
//! never changes an answer half-way. Health says SERVING only once an index
//! is there.

mod csv;
pub mod http;
pub mod index;
pub mod registry;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

pub use index::{Index, MetaScope};

/// The generated `api` package of `proto/registry.proto` (see `build.rs`).
#[allow(clippy::all, clippy::pedantic)]
pub mod api {
    tonic::include_proto!("api");

    /// The encoded descriptor set of `registry.proto` and its imports, for
    /// server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/registry_descriptor.bin"));
}

/// The index being served, if loaded. Readers clone the `Arc`, so
/// replacing it lets calls in flight finish on the old one.
#[derive(Default)]
pub struct Catalog {
    current: RwLock<Option<Arc<Index>>>,
}

impl Catalog {
    pub fn get(&self) -> Option<Arc<Index>> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn set(&self, index: Arc<Index>) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(index);
    }
}

/// Where to listen, and the catalog name of the HTTP API's paths.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub grpc_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    pub catalog_name: String,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Load(String),
    #[error("server failed: {0}")]
    Server(String),
}

/// The addresses actually bound (a port of 0 picks a free one).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub grpc: SocketAddr,
    pub http: Option<SocketAddr>,
}

/// Binds both listeners, answers NOT_SERVING while `load` runs (on a
/// blocking thread: it is CPU work), then serves `catalog` (which `load`'s
/// index is put into) until `shutdown` completes. `on_ready` is told the
/// bound addresses once the index is in. The caller keeps `catalog` to swap
/// in later indexes ([`Catalog::set`]).
pub async fn run<L, S>(
    options: ServeOptions,
    catalog: Arc<Catalog>,
    load: L,
    on_ready: impl FnOnce(Bound, &Index),
    shutdown: S,
) -> Result<(), ServeError>
where
    L: FnOnce() -> Result<Index, String> + Send + 'static,
    S: std::future::Future<Output = ()> + Send + 'static,
{
    // Listening for the stop signal from the start: a signal that came
    // between "ready" and the first poll of `shutdown` was lost.
    let shutdown = tokio::spawn(shutdown);
    let grpc_listener = bind(options.grpc_addr).await?;
    let http_listener = match options.http_addr {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let bound = Bound {
        grpc: grpc_listener.local_addr().map_err(|source| ServeError::Bind {
            addr: options.grpc_addr,
            source,
        })?,
        http: http_listener.as_ref().and_then(|listener| listener.local_addr().ok()),
    };

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // Until the index is in: opm answers only once its cache is loaded.
    health_reporter
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    health_reporter
        .set_not_serving::<api::registry_server::RegistryServer<registry::RegistryService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|error| ServeError::Server(error.to_string()))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|error| ServeError::Server(error.to_string()))?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let grpc = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(api::registry_server::RegistryServer::new(registry::RegistryService::new(
            catalog.clone(),
        )))
        .add_service(api::experimental_registry_server::ExperimentalRegistryServer::new(
            registry::ExperimentalService::new(catalog.clone()),
        ))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
            wait_for_stop(stop_rx.clone()),
        );
    let grpc = tokio::spawn(grpc);
    let http = http_listener.map(|listener| {
        let router = http::router(catalog.clone(), options.catalog_name.clone());
        tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(wait_for_stop(stop_rx)).await })
    });

    let loaded = tokio::task::spawn_blocking(load)
        .await
        .map_err(|error| ServeError::Server(error.to_string()))
        .and_then(|result| result.map_err(ServeError::Load));
    match loaded {
        Ok(index) => {
            let index = Arc::new(index);
            catalog.set(index.clone());
            health_reporter.set_service_status("", tonic_health::ServingStatus::Serving).await;
            health_reporter
                .set_serving::<api::registry_server::RegistryServer<registry::RegistryService>>()
                .await;
            on_ready(bound, &index);
            let _ = shutdown.await;
            stop_tx.send_replace(true);
        }
        Err(error) => {
            stop_tx.send_replace(true);
            let _ = grpc.await;
            return Err(error);
        }
    }
    let grpc_result = grpc.await.map_err(|error| ServeError::Server(error.to_string()))?;
    grpc_result.map_err(|error| ServeError::Server(error.to_string()))?;
    if let Some(http) = http {
        http.await
            .map_err(|error| ServeError::Server(error.to_string()))?
            .map_err(|error| ServeError::Server(error.to_string()))?;
    }
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

async fn wait_for_stop(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
