//! `api.Registry` over an [`Index`], with opm's semantics (spec E.6; o-r
//! `pkg/cache` at HEAD): `GetBundle` and the calls built on it trim
//! `replaces` and `skips`; `ListBundles` sends every (bundle, channel) pair
//! whole but without `csvJson` and `object` when the bundle has an image.
//! opm returns its store errors as plain Go errors, which gRPC sends as
//! status `Unknown` with the text: so does this service, word for word.
//! `api.ExperimentalRegistry` (HEAD) lists objects of other schemas.

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::Catalog;
use super::api;
use super::index::{ChannelIndex, EntryIndex, Index, PackageIndex};
use crate::go::go_quote;

pub use super::csv::synthesized_csv;

pub struct RegistryService {
    catalog: Arc<Catalog>,
}

impl RegistryService {
    pub fn new(catalog: Arc<Catalog>) -> RegistryService {
        RegistryService { catalog }
    }

    fn index(&self) -> Result<Arc<Index>, Status> {
        // Health says NOT_SERVING until then; a client that calls anyway
        // is told to retry.
        self.catalog
            .get()
            .ok_or_else(|| Status::unavailable("the catalog is still loading"))
    }
}

/// How many `ListBundles` answers are made ahead of the client.
const LIST_BUNDLES_AHEAD: usize = 4;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn stream_of<T: Send + 'static>(items: Vec<T>) -> BoxStream<T> {
    Box::pin(tokio_stream::iter(items.into_iter().map(Ok)))
}

fn store_error(message: String) -> Status {
    Status::unknown(message)
}

/// A bundle's objects could not be read again (its file changed).
fn blob_error(message: String) -> Status {
    Status::failed_precondition(message)
}

/// opm's `getTrimmedBundle`.
fn trimmed(package: &PackageIndex, channel: &ChannelIndex, entry: &EntryIndex) -> Result<api::Bundle, Status> {
    let mut bundle = package.bundle(channel, entry, true).map_err(blob_error)?;
    bundle.replaces = String::new();
    bundle.skips = Vec::new();
    Ok(bundle)
}

fn channel_entry(package: &str, channel: &str, bundle: &str, replaces: &str) -> api::ChannelEntry {
    api::ChannelEntry {
        package_name: package.to_string(),
        channel_name: channel.to_string(),
        bundle_name: bundle.to_string(),
        replaces: replaces.to_string(),
    }
}

/// opm's `channelEntriesForBundle`: the entry with the bundle's replaces,
/// then one per skip that is not its replaces (and, unless
/// `ignore_channel`, is in the channel).
fn entries_for_bundle(package: &str, channel: &ChannelIndex, entry: &EntryIndex, ignore_channel: bool) -> Vec<api::ChannelEntry> {
    let mut entries = vec![channel_entry(package, &channel.name, &entry.name, &entry.replaces)];
    for skip in &entry.skips {
        if *skip != entry.replaces && (ignore_channel || channel.entries.contains_key(skip)) {
            entries.push(channel_entry(package, &channel.name, &entry.name, skip));
        }
    }
    entries
}

fn gvk_text(group: &str, version: &str, kind: &str) -> String {
    format!("group:{} version:{} kind:{}", go_quote(group), go_quote(version), go_quote(kind))
}

impl Index {
    fn package(&self, name: &str) -> Result<&PackageIndex, Status> {
        self.packages
            .get(name)
            .ok_or_else(|| store_error(format!("package {} not found", go_quote(name))))
    }

    fn channel<'a>(&'a self, package: &'a PackageIndex, name: &str) -> Result<&'a ChannelIndex, Status> {
        package
            .channels
            .get(name)
            .ok_or_else(|| store_error(format!("package {}, channel {} not found", go_quote(&package.name), go_quote(name))))
    }

    /// `GetLatestChannelEntriesThatProvide`: each channel head that
    /// provides the GVK.
    fn latest_providers(&self, group: &str, version: &str, kind: &str) -> Result<Vec<api::ChannelEntry>, Status> {
        let mut entries = Vec::new();
        for package in self.packages.values() {
            for channel in package.channels.values() {
                if package.provides(&channel.head, group, version, kind) {
                    entries.extend(entries_for_bundle(&package.name, channel, &channel.entries[&channel.head], false));
                }
            }
        }
        if entries.is_empty() {
            return Err(store_error(format!(
                "no channel entries found that provide {}",
                gvk_text(group, version, kind)
            )));
        }
        Ok(entries)
    }
}

#[tonic::async_trait]
impl api::registry_server::Registry for RegistryService {
    type ListPackagesStream = BoxStream<api::PackageName>;
    type GetChannelEntriesThatReplaceStream = BoxStream<api::ChannelEntry>;
    type GetChannelEntriesThatProvideStream = BoxStream<api::ChannelEntry>;
    type GetLatestChannelEntriesThatProvideStream = BoxStream<api::ChannelEntry>;
    type ListBundlesStream = BoxStream<api::Bundle>;

    async fn list_packages(&self, _request: Request<api::ListPackageRequest>) -> Result<Response<Self::ListPackagesStream>, Status> {
        let index = self.index()?;
        let names = index.packages.keys().map(|name| api::PackageName { name: name.clone() }).collect();
        Ok(Response::new(stream_of(names)))
    }

    async fn get_package(&self, request: Request<api::GetPackageRequest>) -> Result<Response<api::Package>, Status> {
        let index = self.index()?;
        let package = index.package(&request.get_ref().name)?;
        // Channels by name, as opm sorts them.
        let channels = package
            .channels
            .values()
            .map(|channel| api::Channel {
                name: channel.name.clone(),
                csv_name: channel.head.clone(),
                deprecation: channel.deprecation.clone().map(|message| api::Deprecation { message }),
            })
            .collect();
        Ok(Response::new(api::Package {
            name: package.name.clone(),
            channels,
            default_channel_name: package.default_channel.clone(),
            deprecation: package.deprecation.clone().map(|message| api::Deprecation { message }),
        }))
    }

    async fn get_bundle(&self, request: Request<api::GetBundleRequest>) -> Result<Response<api::Bundle>, Status> {
        let index = self.index()?;
        let request = request.get_ref();
        let package = index.package(&request.pkg_name)?;
        let channel = index.channel(package, &request.channel_name)?;
        let entry = channel.entries.get(&request.csv_name).ok_or_else(|| {
            store_error(format!(
                "package {}, channel {}, bundle {} not found",
                go_quote(&package.name),
                go_quote(&channel.name),
                go_quote(&request.csv_name)
            ))
        })?;
        Ok(Response::new(trimmed(package, channel, entry)?))
    }

    async fn get_bundle_for_channel(&self, request: Request<api::GetBundleInChannelRequest>) -> Result<Response<api::Bundle>, Status> {
        let index = self.index()?;
        let request = request.get_ref();
        let package = index.package(&request.pkg_name)?;
        let channel = index.channel(package, &request.channel_name)?;
        Ok(Response::new(trimmed(package, channel, &channel.entries[&channel.head])?))
    }

    async fn get_channel_entries_that_replace(
        &self,
        request: Request<api::GetAllReplacementsRequest>,
    ) -> Result<Response<Self::GetChannelEntriesThatReplaceStream>, Status> {
        let index = self.index()?;
        let name = &request.get_ref().csv_name;
        let mut entries = Vec::new();
        for package in index.packages.values() {
            for channel in package.channels.values() {
                for entry in channel.entries.values() {
                    // One entry for the replaces edge, and one more (the
                    // same) for each skip of the name that is not it.
                    if entry.replaces == *name {
                        entries.push(channel_entry(&package.name, &channel.name, &entry.name, &entry.replaces));
                    }
                    for skip in &entry.skips {
                        if skip == name && *skip != entry.replaces {
                            entries.push(channel_entry(&package.name, &channel.name, &entry.name, &entry.replaces));
                        }
                    }
                }
            }
        }
        if entries.is_empty() {
            return Err(store_error(format!("no channel entries found that replace {name}")));
        }
        Ok(Response::new(stream_of(entries)))
    }

    async fn get_bundle_that_replaces(&self, request: Request<api::GetReplacementRequest>) -> Result<Response<api::Bundle>, Status> {
        let index = self.index()?;
        let request = request.get_ref();
        // opm's text here has no quotes around the package name.
        let package = index
            .packages
            .get(&request.pkg_name)
            .ok_or_else(|| store_error(format!("package {} not found", request.pkg_name)))?;
        let channel = index.channel(package, &request.channel_name)?;
        let replacing = channel
            .entries
            .values()
            .find(|entry| entry.replaces == request.csv_name || entry.skips.contains(&request.csv_name));
        match replacing {
            Some(entry) => Ok(Response::new(trimmed(package, channel, entry)?)),
            None => Err(store_error(format!(
                "no entry found for package {}, channel {}",
                go_quote(&request.pkg_name),
                go_quote(&request.channel_name)
            ))),
        }
    }

    async fn get_channel_entries_that_provide(
        &self,
        request: Request<api::GetAllProvidersRequest>,
    ) -> Result<Response<Self::GetChannelEntriesThatProvideStream>, Status> {
        let index = self.index()?;
        let api::GetAllProvidersRequest { group, version, kind, .. } = request.get_ref();
        let mut entries = Vec::new();
        for package in index.packages.values() {
            for channel in package.channels.values() {
                for entry in channel.entries.values() {
                    if package.provides(&entry.name, group, version, kind) {
                        entries.extend(entries_for_bundle(&package.name, channel, entry, true));
                    }
                }
            }
        }
        if entries.is_empty() {
            return Err(store_error(format!(
                "no channel entries found that provide {}",
                gvk_text(group, version, kind)
            )));
        }
        Ok(Response::new(stream_of(entries)))
    }

    async fn get_latest_channel_entries_that_provide(
        &self,
        request: Request<api::GetLatestProvidersRequest>,
    ) -> Result<Response<Self::GetLatestChannelEntriesThatProvideStream>, Status> {
        let index = self.index()?;
        let api::GetLatestProvidersRequest { group, version, kind, .. } = request.get_ref();
        Ok(Response::new(stream_of(index.latest_providers(group, version, kind)?)))
    }

    async fn get_default_bundle_that_provides(
        &self,
        request: Request<api::GetDefaultProviderRequest>,
    ) -> Result<Response<api::Bundle>, Status> {
        let index = self.index()?;
        let api::GetDefaultProviderRequest { group, version, kind, .. } = request.get_ref();
        // opm: the latest entries (failing as that call fails), by package
        // name; the first in its package's default channel.
        let mut latest = index.latest_providers(group, version, kind)?;
        latest.sort_by(|left, right| left.package_name.cmp(&right.package_name));
        for entry in &latest {
            let package = &index.packages[&entry.package_name];
            if entry.channel_name == package.default_channel {
                let channel = &package.channels[&entry.channel_name];
                return Ok(Response::new(trimmed(package, channel, &channel.entries[&entry.bundle_name])?));
            }
        }
        Err(store_error(format!(
            "no entry found that provides {}",
            gvk_text(group, version, kind)
        )))
    }

    async fn list_bundles(&self, _request: Request<api::ListBundlesRequest>) -> Result<Response<Self::ListBundlesStream>, Status> {
        let index = self.index()?;
        // Built one at a time on a blocking thread (reading and decoding a
        // bundle's document is CPU work) as the client reads: a few wait
        // in the channel, and a catalog's bundles are never all in memory.
        let keys: Vec<(String, String, String)> = index
            .packages
            .values()
            .flat_map(|package| {
                package.channels.values().flat_map(move |channel| {
                    channel
                        .entries
                        .keys()
                        .map(move |name| (package.name.clone(), channel.name.clone(), name.clone()))
                })
            })
            .collect();
        let (sender, receiver) = tokio::sync::mpsc::channel(LIST_BUNDLES_AHEAD);
        tokio::task::spawn_blocking(move || {
            for (package, channel, name) in keys {
                let package = &index.packages[&package];
                let channel = &package.channels[&channel];
                let entry = &channel.entries[&name];
                let with_blobs = package.bundles[&name].bundle.bundle_path.is_empty();
                let bundle = package.bundle(channel, entry, with_blobs).map_err(blob_error);
                let failed = bundle.is_err();
                // The client went away, or the stream ends at an error.
                if sender.blocking_send(bundle).is_err() || failed {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))))
    }
}

/// `api.ExperimentalRegistry` (o-r HEAD): objects of schemas opm does not
/// model, by schema and package, as `google.protobuf.Struct`s. Answers
/// only a request carrying `x-acknowledge-experimental: true`.
pub struct ExperimentalService {
    catalog: Arc<Catalog>,
}

impl ExperimentalService {
    pub fn new(catalog: Arc<Catalog>) -> ExperimentalService {
        ExperimentalService { catalog }
    }
}

/// opm's meta-key rule for a schema or package name.
fn check_meta_key(what: &str, value: &str) -> Result<(), Status> {
    let mut chars = value.chars();
    let valid = chars.next().is_some_and(|first| first.is_ascii_alphanumeric())
        && chars.all(|rest| rest.is_ascii_alphanumeric() || matches!(rest, '.' | '_' | '-'));
    if value.is_empty() {
        return Err(Status::invalid_argument(format!(
            "invalid custom schema query: invalid {what}: must not be empty"
        )));
    }
    if !valid {
        return Err(Status::invalid_argument(format!(
            "invalid custom schema query: invalid {what} {}: must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$",
            go_quote(value)
        )));
    }
    Ok(())
}

fn to_struct_value(value: crate::encoding::json::Value) -> prost_types::Value {
    use crate::encoding::json::Value;
    use prost_types::value::Kind;
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(flag) => Kind::BoolValue(flag),
        Value::Number(number) => Kind::NumberValue(number.as_f64()),
        Value::String(text) => Kind::StringValue(text),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(to_struct_value).collect(),
        }),
        Value::Object(entries) => Kind::StructValue(prost_types::Struct {
            fields: entries.into_iter().map(|(key, value)| (key, to_struct_value(value))).collect(),
        }),
        raw @ Value::Raw(_) => return to_struct_value(raw.resolve_raw()),
    };
    prost_types::Value { kind: Some(kind) }
}

#[tonic::async_trait]
impl api::experimental_registry_server::ExperimentalRegistry for ExperimentalService {
    type ExperimentalListPackageCustomSchemasStream = BoxStream<prost_types::Struct>;

    async fn experimental_list_package_custom_schemas(
        &self,
        request: Request<api::ExperimentalListPackageCustomSchemasRequest>,
    ) -> Result<Response<Self::ExperimentalListPackageCustomSchemasStream>, Status> {
        let acknowledged = request
            .metadata()
            .get("x-acknowledge-experimental")
            .is_some_and(|value| value.as_bytes() == b"true");
        if !acknowledged {
            return Ok(Response::new(stream_of(Vec::new())));
        }
        let api::ExperimentalListPackageCustomSchemasRequest { schema, package_name } = request.get_ref();
        if schema.is_empty() {
            return Err(Status::invalid_argument("schema is required"));
        }
        check_meta_key("schema", schema)?;
        if !package_name.is_empty() {
            check_meta_key("packageName", package_name)?;
        }
        let index = self
            .catalog
            .get()
            .ok_or_else(|| Status::unavailable("the catalog is still loading"))?;
        // opm keys these by (schema, package) exactly: no package asks for
        // the objects that have none.
        let core = [
            crate::fbc::SCHEMA_PACKAGE,
            crate::fbc::SCHEMA_CHANNEL,
            crate::fbc::SCHEMA_BUNDLE,
            crate::fbc::SCHEMA_DEPRECATIONS,
        ];
        let mut found = Vec::new();
        for object in &index.metas.objects {
            if object.schema == *schema && object.package == *package_name && !core.contains(&object.schema.as_str()) {
                let line = String::from_utf8_lossy(&index.metas.jsonl[object.start..object.end]);
                let value = crate::encoding::json::parse(line.trim_end()).map_err(|error| Status::internal(error.to_string()))?;
                if let prost_types::Value {
                    kind: Some(prost_types::value::Kind::StructValue(blob)),
                } = to_struct_value(value)
                {
                    found.push(blob);
                }
            }
        }
        Ok(Response::new(stream_of(found)))
    }
}
