#!/usr/bin/env python3
"""A real client of `catbuild serve`, driven by tests/serve.rs.

Calls every method of OLM's `api.Registry` with grpcio (stubs generated
now from proto/registry.proto by grpc_tools.protoc), the standard health
service and server reflection with grpcio's own clients, and catalogd's
HTTP API with http.client, and checks each answer against the FBC
directory read here on its own (PyYAML / json), by the rules of
olm-formats.md E.6 and olm-v1.md C.

usage: serve_client.py --grpc HOST:PORT --http HOST:PORT --name NAME --fbc DIR --proto FILE
Exit 0 when every check passed; otherwise the failed checks on stderr.
"""

import argparse
import atexit
import base64
import collections
import email.utils
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

FAILURES = []
CHECKS = [0]


def check(condition, what):
    CHECKS[0] += 1
    if not condition:
        FAILURES.append(what)
    return condition


def equal(got, want, what):
    return check(got == want, f"{what}: got {got!r}, want {want!r}")


# --- the FBC, read independently ------------------------------------------


class PlainLoader(yaml.SafeLoader):
    """YAML without the timestamp resolver: Go's YAML-to-JSON keeps
    `createdAt: 2021-01-01T00:00:00Z` a string."""


PlainLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def fbc_files(root):
    """Every file under root in lexical walk order (Go's fs.WalkDir)."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name != ".indexignore":
                files.append(os.path.join(dirpath, name))
    # fs.WalkDir visits a directory's entries in name order, files and
    # directories mixed: sort by path components.
    return sorted(files, key=lambda path: os.path.relpath(path, root).split(os.sep))


def read_objects(root):
    objects = []
    for path in fbc_files(root):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if text.lstrip().startswith("{"):
            decoder = json.JSONDecoder()
            idx = 0
            while True:
                while idx < len(text) and text[idx].isspace():
                    idx += 1
                if idx >= len(text):
                    break
                value, idx = decoder.raw_decode(text, idx)
                objects.append(value)
        else:
            objects.extend(doc for doc in yaml.load_all(text, Loader=PlainLoader) if doc is not None)
    return objects


class Catalog:
    def __init__(self, root):
        self.objects = read_objects(root)
        self.packages = {o["name"]: o for o in self.objects if o.get("schema") == "olm.package"}
        self.channels = collections.defaultdict(dict)
        for o in self.objects:
            if o.get("schema") == "olm.channel":
                self.channels[o["package"]][o["name"]] = {e["name"]: e for e in o.get("entries") or []}
        self.bundles = {(o["package"], o["name"]): o for o in self.objects if o.get("schema") == "olm.bundle"}
        self.deprecations = {o["package"]: o for o in self.objects if o.get("schema") == "olm.deprecations"}

    def head(self, package, channel):
        entries = self.channels[package][channel]
        referenced = set()
        for entry in entries.values():
            if entry.get("replaces"):
                referenced.add(entry["replaces"])
            referenced.update(entry.get("skips") or [])
        heads = [name for name in entries if name not in referenced]
        assert len(heads) == 1, (package, channel, heads)
        return heads[0]

    def properties(self, package, bundle):
        return self.bundles[(package, bundle)].get("properties") or []

    def gvks(self, package, bundle, kind):
        return sorted(
            (p["value"]["group"], p["value"]["version"], p["value"]["kind"])
            for p in self.properties(package, bundle)
            if p["type"] == kind
        )

    def objects_of(self, package, bundle):
        return [
            json.loads(base64.b64decode(p["value"]["data"]))
            for p in self.properties(package, bundle)
            if p["type"] == "olm.bundle.object"
        ]

    def csv_metadata(self, package, bundle):
        found = [p["value"] for p in self.properties(package, bundle) if p["type"] == "olm.csv.metadata"]
        return found[0] if found else None

    def version(self, package, bundle):
        return [p["value"]["version"] for p in self.properties(package, bundle) if p["type"] == "olm.package"][0]

    def deprecation(self, package, schema, name):
        for entry in (self.deprecations.get(package) or {}).get("entries") or []:
            reference = entry["reference"]
            if reference["schema"] == schema and reference.get("name", "") == name:
                return entry["message"]
        return None

    def pairs(self):
        """Every (package, channel, entry) of the catalog."""
        for package, channels in sorted(self.channels.items()):
            for channel, entries in sorted(channels.items()):
                for name, entry in sorted(entries.items()):
                    yield package, channel, entry


# --- gRPC -----------------------------------------------------------------


def generate_stubs(proto):
    out = tempfile.mkdtemp(prefix="serve-client-")
    # The generated stubs are only needed until the process ends.
    atexit.register(shutil.rmtree, out, True)
    from grpc_tools import protoc
    import importlib.resources

    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    code = protoc.main(
        [
            "protoc",
            f"-I{os.path.dirname(os.path.abspath(proto))}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            os.path.basename(proto),
        ]
    )
    if code != 0:
        sys.exit(f"grpc_tools.protoc failed on {proto}")
    sys.path.insert(0, out)
    import registry_pb2  # noqa: E402
    import registry_pb2_grpc  # noqa: E402

    return registry_pb2, registry_pb2_grpc


def expect_error(call, message, what):
    import grpc

    try:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "csvName"):
            list(result)
        check(False, f"{what}: no error, want {message!r}")
    except grpc.RpcError as error:
        equal(error.code(), grpc.StatusCode.UNKNOWN, f"{what}: status code")
        equal(error.details(), message, f"{what}: message")


def gvk_tuples(gvks):
    return sorted((g.group, g.version, g.kind) for g in gvks)


def check_bundle_body(pb, catalog, package, channel, entry, bundle, what, trimmed, listed):
    name = entry["name"]
    fbc_bundle = catalog.bundles[(package, name)]
    equal(bundle.csvName, name, f"{what}: csvName")
    equal(bundle.packageName, package, f"{what}: packageName")
    equal(bundle.channelName, channel, f"{what}: channelName")
    equal(bundle.bundlePath, fbc_bundle.get("image", ""), f"{what}: bundlePath")
    equal(bundle.version, catalog.version(package, name), f"{what}: version")
    equal(bundle.skipRange, entry.get("skipRange", ""), f"{what}: skipRange")
    if trimmed:
        equal(bundle.replaces, "", f"{what}: replaces trimmed")
        equal(list(bundle.skips), [], f"{what}: skips trimmed")
    else:
        equal(bundle.replaces, entry.get("replaces", ""), f"{what}: replaces")
        equal(list(bundle.skips), entry.get("skips") or [], f"{what}: skips")
    equal(gvk_tuples(bundle.providedApis), catalog.gvks(package, name, "olm.gvk"), f"{what}: providedApis")
    equal(gvk_tuples(bundle.requiredApis), catalog.gvks(package, name, "olm.gvk.required"), f"{what}: requiredApis")
    for gvk in bundle.providedApis:
        equal(gvk.plural, "", f"{what}: plural")
    # Properties: all but the bundle objects and the CSV metadata, in order.
    want_properties = [
        (p["type"], p["value"])
        for p in catalog.properties(package, name)
        if p["type"] not in ("olm.bundle.object", "olm.csv.metadata")
    ]
    equal([(p.type, json.loads(p.value)) for p in bundle.properties], want_properties, f"{what}: properties")
    want_dependencies = []
    for p in catalog.properties(package, name):
        if p["type"] == "olm.gvk.required":
            want_dependencies.append(("olm.gvk", p["value"]))
        elif p["type"] == "olm.package.required":
            want_dependencies.append(
                ("olm.package", {"packageName": p["value"]["packageName"], "version": p["value"]["versionRange"]})
            )
    equal([(d.type, json.loads(d.value)) for d in bundle.dependencies], want_dependencies, f"{what}: dependencies")
    deprecation = catalog.deprecation(package, "olm.bundle", name)
    equal(bundle.deprecation.message if bundle.HasField("deprecation") else None, deprecation, f"{what}: deprecation")

    objects = catalog.objects_of(package, name)
    if listed and bundle.bundlePath:
        equal(bundle.csvJson, "", f"{what}: csvJson cleared in ListBundles")
        equal(list(bundle.object), [], f"{what}: object cleared in ListBundles")
        return
    if objects:
        csvs = [o for o in objects if o.get("kind") == "ClusterServiceVersion"]
        equal(json.loads(bundle.csvJson) if bundle.csvJson else None, csvs[0] if csvs else None, f"{what}: csvJson")
        equal([json.loads(o) for o in bundle.object], objects, f"{what}: object")
    else:
        metadata = catalog.csv_metadata(package, name)
        if check(metadata is not None, f"{what}: neither objects nor csv metadata in the FBC"):
            check_synthesized_csv(catalog, package, name, metadata, bundle, what)


def check_synthesized_csv(catalog, package, name, metadata, bundle, what):
    """o-r model_to_api.go: a CSV made from olm.csv.metadata."""
    csv = json.loads(bundle.csvJson)
    equal(csv.get("kind"), "ClusterServiceVersion", f"{what}: synthesized kind")
    equal(csv.get("apiVersion"), "operators.coreos.com/v1alpha1", f"{what}: synthesized apiVersion")
    equal(csv["metadata"].get("name"), name, f"{what}: synthesized name")
    equal(csv["metadata"].get("annotations"), metadata.get("annotations") or None, f"{what}: synthesized annotations")
    equal(csv["metadata"].get("labels"), metadata.get("labels") or None, f"{what}: synthesized labels")
    spec = csv["spec"]
    equal(spec["install"]["strategy"], "deployment", f"{what}: synthesized install strategy")
    equal(spec.get("displayName"), metadata.get("displayName", ""), f"{what}: synthesized displayName")
    description = metadata.get("description") or catalog.packages[package].get("description") or None
    equal(spec.get("description"), description, f"{what}: synthesized description")
    equal(spec.get("installModes"), metadata.get("installModes") or None, f"{what}: synthesized installModes")
    equal(
        spec.get("customresourcedefinitions"), metadata.get("crdDescriptions") or {}, f"{what}: synthesized CRD descriptions"
    )
    related = catalog.bundles[(package, name)].get("relatedImages") or None
    equal(spec.get("relatedImages"), related, f"{what}: synthesized relatedImages")
    icon = catalog.packages[package].get("icon")
    equal(spec.get("icon"), [icon] if icon else None, f"{what}: synthesized icon")
    # Version: the bundle's semver (olm.package version).
    equal(spec.get("version"), catalog.version(package, name), f"{what}: synthesized version")
    equal([json.loads(o) for o in bundle.object], [csv], f"{what}: object is [csvJson]")


def run_grpc(address, catalog, proto):
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
    from google.protobuf import descriptor_pool

    pb, pb_grpc = generate_stubs(proto)
    connection = grpc.insecure_channel(address)
    grpc.channel_ready_future(connection).result(timeout=30)
    stub = pb_grpc.RegistryStub(connection)

    # Health: the whole server and the registry service.
    health = health_pb2_grpc.HealthStub(connection)
    for service in ("", "api.Registry"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service))
        equal(answer.status, health_pb2.HealthCheckResponse.SERVING, f"health of {service!r}")

    # Reflection: the services, and api.Registry's methods from its descriptor.
    database = ProtoReflectionDescriptorDatabase(connection)
    services = set(database.get_services())
    for service in ("api.Registry", "grpc.health.v1.Health"):
        check(service in services, f"reflection lists {service} (got {sorted(services)})")
    pool = descriptor_pool.DescriptorPool(database)
    registry = pool.FindServiceByName("api.Registry")
    equal(
        sorted(method.name for method in registry.methods),
        sorted(pb.DESCRIPTOR.services_by_name["Registry"].methods_by_name),
        "reflected api.Registry methods",
    )
    bundle_fields = {field.name: field.number for field in pool.FindMessageTypeByName("api.Bundle").fields}
    equal(
        bundle_fields,
        {field.name: field.number for field in pb.Bundle.DESCRIPTOR.fields},
        "reflected api.Bundle fields",
    )

    # ListPackages.
    equal(sorted(p.name for p in stub.ListPackages(pb.ListPackageRequest())), sorted(catalog.packages), "ListPackages")

    # GetPackage: default channel, channels by name with heads.
    for name, fbc_package in catalog.packages.items():
        package = stub.GetPackage(pb.GetPackageRequest(name=name))
        equal(package.name, name, f"GetPackage({name}).name")
        equal(package.defaultChannelName, fbc_package.get("defaultChannel", ""), f"GetPackage({name}).defaultChannelName")
        want_channels = [(ch, catalog.head(name, ch)) for ch in sorted(catalog.channels[name])]
        equal([(c.name, c.csvName) for c in package.channels], want_channels, f"GetPackage({name}).channels")
        for c in package.channels:
            want = catalog.deprecation(name, "olm.channel", c.name)
            equal(c.deprecation.message if c.HasField("deprecation") else None, want, f"GetPackage({name}) {c.name} deprecation")
        want = catalog.deprecation(name, "olm.package", "")
        equal(package.deprecation.message if package.HasField("deprecation") else None, want, f"GetPackage({name}).deprecation")

    # GetBundle for every (package, channel, bundle); GetBundleForChannel.
    for package, channel, entry in catalog.pairs():
        what = f"GetBundle({package}, {channel}, {entry['name']})"
        bundle = stub.GetBundle(pb.GetBundleRequest(pkgName=package, channelName=channel, csvName=entry["name"]))
        check_bundle_body(pb, catalog, package, channel, entry, bundle, what, trimmed=True, listed=False)
    for package, channels in catalog.channels.items():
        for channel in channels:
            head = catalog.head(package, channel)
            bundle = stub.GetBundleForChannel(pb.GetBundleInChannelRequest(pkgName=package, channelName=channel))
            what = f"GetBundleForChannel({package}, {channel})"
            check_bundle_body(pb, catalog, package, channel, channels[channel][head], bundle, what, trimmed=True, listed=False)

    # ListBundles: every (bundle, channel) pair, untrimmed.
    listed = list(stub.ListBundles(pb.ListBundlesRequest()))
    want_keys = sorted((p, c, e["name"]) for p, c, e in catalog.pairs())
    equal(sorted((b.packageName, b.channelName, b.csvName) for b in listed), want_keys, "ListBundles pairs")
    for bundle in listed:
        entry = catalog.channels[bundle.packageName][bundle.channelName][bundle.csvName]
        what = f"ListBundles {bundle.packageName}/{bundle.channelName}/{bundle.csvName}"
        check_bundle_body(pb, catalog, bundle.packageName, bundle.channelName, entry, bundle, what, trimmed=False, listed=True)

    # GetChannelEntriesThatReplace, for every name that is replaced or skipped.
    targets = set()
    for _, _, entry in catalog.pairs():
        if entry.get("replaces"):
            targets.add(entry["replaces"])
        targets.update(entry.get("skips") or [])
    for target in sorted(targets):
        want = []
        for package, channel, entry in catalog.pairs():
            replaces = entry.get("replaces", "")
            if replaces == target:
                want.append((package, channel, entry["name"], replaces))
            for skip in entry.get("skips") or []:
                if skip == target and skip != replaces:
                    want.append((package, channel, entry["name"], replaces))
        got = stub.GetChannelEntriesThatReplace(pb.GetAllReplacementsRequest(csvName=target))
        equal(
            sorted((e.packageName, e.channelName, e.bundleName, e.replaces) for e in got),
            sorted(want),
            f"GetChannelEntriesThatReplace({target})",
        )
        # GetBundleThatReplaces in each channel holding a replacement.
        for package, channel in sorted({(p, c) for p, c, _, _ in want}):
            bundle = stub.GetBundleThatReplaces(pb.GetReplacementRequest(csvName=target, pkgName=package, channelName=channel))
            entry = catalog.channels[package][channel][bundle.csvName]
            check(
                entry.get("replaces") == target or target in (entry.get("skips") or []),
                f"GetBundleThatReplaces({target}, {package}, {channel}) gave {bundle.csvName}, which does not replace it",
            )
            check_bundle_body(
                pb, catalog, package, channel, entry, bundle, f"GetBundleThatReplaces({target})", trimmed=True, listed=False
            )

    # The provider calls, for every GVK some bundle provides.
    provided = sorted({gvk for (p, b) in catalog.bundles for gvk in catalog.gvks(p, b, "olm.gvk")})
    for group, version, kind in provided:
        gvk = dict(group=group, version=version, kind=kind)
        want_all, want_latest = [], []
        for package, channel, entry in catalog.pairs():
            if (group, version, kind) not in catalog.gvks(package, entry["name"], "olm.gvk"):
                continue
            replaces = entry.get("replaces", "")
            rows = [(package, channel, entry["name"], replaces)]
            latest_rows = list(rows)
            for skip in entry.get("skips") or []:
                if skip != replaces:
                    rows.append((package, channel, entry["name"], skip))
                    if skip in catalog.channels[package][channel]:
                        latest_rows.append((package, channel, entry["name"], skip))
            want_all.extend(rows)
            if entry["name"] == catalog.head(package, channel):
                want_latest.extend(latest_rows)
        got = stub.GetChannelEntriesThatProvide(pb.GetAllProvidersRequest(**gvk))
        equal(
            sorted((e.packageName, e.channelName, e.bundleName, e.replaces) for e in got),
            sorted(want_all),
            f"GetChannelEntriesThatProvide({gvk})",
        )
        what = f"GetLatestChannelEntriesThatProvide({gvk})"
        if want_latest:
            got = stub.GetLatestChannelEntriesThatProvide(pb.GetLatestProvidersRequest(**gvk))
            equal(sorted((e.packageName, e.channelName, e.bundleName, e.replaces) for e in got), sorted(want_latest), what)
        else:
            message = f'no channel entries found that provide group:"{group}" version:"{version}" kind:"{kind}"'
            expect_error(lambda: stub.GetLatestChannelEntriesThatProvide(pb.GetLatestProvidersRequest(**gvk)), message, what)
        # Default: the first package (by name) whose head in its default channel provides it.
        defaults = sorted(
            (p, c, b)
            for p, c, b, _ in want_latest
            if c == catalog.packages[p].get("defaultChannel")
        )
        what = f"GetDefaultBundleThatProvides({gvk})"
        if defaults:
            package, channel, name = defaults[0]
            bundle = stub.GetDefaultBundleThatProvides(pb.GetDefaultProviderRequest(**gvk))
            equal((bundle.packageName, bundle.channelName, bundle.csvName), defaults[0], what)
            check_bundle_body(
                pb, catalog, package, channel, catalog.channels[package][channel][name], bundle, what, trimmed=True, listed=False
            )
        elif want_latest:
            message = f'no entry found that provides group:"{group}" version:"{version}" kind:"{kind}"'
            expect_error(lambda: stub.GetDefaultBundleThatProvides(pb.GetDefaultProviderRequest(**gvk)), message, what)

    # ExperimentalRegistry: other schemas by (schema, package), only when
    # acknowledged.
    from google.protobuf.json_format import MessageToDict

    experimental = pb_grpc.ExperimentalRegistryStub(connection)
    acknowledge = [("x-acknowledge-experimental", "true")]
    core = {"olm.package", "olm.channel", "olm.bundle", "olm.deprecations"}
    custom = collections.defaultdict(list)
    for o in catalog.objects:
        if o.get("schema") not in core:
            custom[(o["schema"], o.get("package", ""))].append(o)
    for (schema, package), want in sorted(custom.items()):
        request = pb.ExperimentalListPackageCustomSchemasRequest(schema=schema, packageName=package)
        got = [MessageToDict(s) for s in experimental.ExperimentalListPackageCustomSchemas(request, metadata=acknowledge)]
        equal(got, want, f"ExperimentalListPackageCustomSchemas({schema}, {package})")
        equal(list(experimental.ExperimentalListPackageCustomSchemas(request)), [], f"unacknowledged ({schema}, {package})")
    request = pb.ExperimentalListPackageCustomSchemasRequest(schema="acme.none")
    equal(list(experimental.ExperimentalListPackageCustomSchemas(request, metadata=acknowledge)), [], "no such schema")
    try:
        request = pb.ExperimentalListPackageCustomSchemasRequest(schema="")
        list(experimental.ExperimentalListPackageCustomSchemas(request, metadata=acknowledge))
        check(False, "empty schema: no error")
    except grpc.RpcError as error:
        equal((error.code(), error.details()), (grpc.StatusCode.INVALID_ARGUMENT, "schema is required"), "empty schema")
    print(f"custom schema objects checked: {sum(len(v) for v in custom.values())}")

    # Error texts (opm's, status Unknown).
    package = sorted(catalog.packages)[0]
    channel = sorted(catalog.channels[package])[0]
    expect_error(lambda: stub.GetPackage(pb.GetPackageRequest(name="no-such")), 'package "no-such" not found', "GetPackage(unknown)")
    expect_error(
        lambda: stub.GetBundle(pb.GetBundleRequest(pkgName="no-such", channelName=channel, csvName="x")),
        'package "no-such" not found',
        "GetBundle(unknown package)",
    )
    expect_error(
        lambda: stub.GetBundle(pb.GetBundleRequest(pkgName=package, channelName="no-such", csvName="x")),
        f'package "{package}", channel "no-such" not found',
        "GetBundle(unknown channel)",
    )
    expect_error(
        lambda: stub.GetBundle(pb.GetBundleRequest(pkgName=package, channelName=channel, csvName="no-such")),
        f'package "{package}", channel "{channel}", bundle "no-such" not found',
        "GetBundle(unknown bundle)",
    )
    expect_error(
        lambda: stub.GetBundleForChannel(pb.GetBundleInChannelRequest(pkgName=package, channelName="no-such")),
        f'package "{package}", channel "no-such" not found',
        "GetBundleForChannel(unknown channel)",
    )
    expect_error(
        lambda: stub.GetChannelEntriesThatReplace(pb.GetAllReplacementsRequest(csvName="no-such")),
        "no channel entries found that replace no-such",
        "GetChannelEntriesThatReplace(unknown)",
    )
    expect_error(
        lambda: stub.GetBundleThatReplaces(pb.GetReplacementRequest(csvName="no-such", pkgName="nope", channelName=channel)),
        "package nope not found",
        "GetBundleThatReplaces(unknown package)",
    )
    expect_error(
        lambda: stub.GetBundleThatReplaces(pb.GetReplacementRequest(csvName="no-such", pkgName=package, channelName=channel)),
        f'no entry found for package "{package}", channel "{channel}"',
        "GetBundleThatReplaces(nothing replaces)",
    )
    unknown = dict(group="no.such", version="v1", kind="Nothing")
    message = 'no channel entries found that provide group:"no.such" version:"v1" kind:"Nothing"'
    expect_error(lambda: stub.GetChannelEntriesThatProvide(pb.GetAllProvidersRequest(**unknown)), message, "GetChannelEntriesThatProvide(unknown)")
    expect_error(
        lambda: stub.GetLatestChannelEntriesThatProvide(pb.GetLatestProvidersRequest(**unknown)),
        message,
        "GetLatestChannelEntriesThatProvide(unknown)",
    )
    # opm's GetDefaultBundleThatProvides returns the latest-entries error first.
    expect_error(lambda: stub.GetDefaultBundleThatProvides(pb.GetDefaultProviderRequest(**unknown)), message, "GetDefaultBundleThatProvides(unknown)")
    connection.close()


# --- HTTP -----------------------------------------------------------------


def request(address, method, path, headers=None):
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def lines_of(body):
    text = body.decode("utf-8")
    check(text == "" or text.endswith("\n"), "JSON Lines end with a newline")
    return [json.loads(line) for line in text.splitlines()]


def run_http(address, name, catalog):
    base = f"/catalogs/{name}/api/v1"
    response, body = request(address, "GET", f"{base}/all")
    equal(response.status, 200, "/all status")
    equal(response.getheader("Content-Type"), "application/jsonl", "/all Content-Type")
    equal(response.getheader("Content-Length"), str(len(body)), "/all Content-Length")
    equal(response.getheader("Accept-Ranges"), "bytes", "/all Accept-Ranges")
    last_modified = response.getheader("Last-Modified")
    check(last_modified and email.utils.parsedate_to_datetime(last_modified), "/all Last-Modified is an HTTP date")
    # Every object, in the catalog's file order; lines are Go maps re-encoded
    # (keys sorted, compact, HTML characters unescaped).
    equal(lines_of(body), catalog.objects, "/all objects")
    for line in body.decode("utf-8").splitlines():
        value = json.loads(line)
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if not check(line == canonical or _floats_differ(value), f"/all line is not compact with sorted keys: {line[:120]}"):
            break

    # Conditional requests.
    response, body = request(address, "GET", f"{base}/all", {"If-Modified-Since": last_modified})
    equal(response.status, 304, "/all If-Modified-Since: Last-Modified")
    equal(body, b"", "/all 304 body")
    response, _ = request(address, "GET", f"{base}/all", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    equal(response.status, 200, "/all If-Modified-Since: long ago")
    response, _ = request(address, "GET", f"{base}/all", {"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    equal(response.status, 412, "/all If-Unmodified-Since: long ago")
    response, body = request(address, "GET", f"{base}/all", {"Range": "bytes=0-9"})
    equal(response.status, 206, "/all Range status")
    equal(len(body), 10, "/all Range length")
    response, body = request(address, "HEAD", f"{base}/all")
    equal((response.status, body), (200, b""), "/all HEAD")

    # /metas: no filter is the whole catalog; filters AND-ed, exact match.
    response, body = request(address, "GET", f"{base}/metas")
    equal(response.status, 200, "/metas status")
    equal(response.getheader("Content-Type"), "application/jsonl", "/metas Content-Type")
    equal(lines_of(body), catalog.objects, "/metas objects")
    package = sorted(catalog.packages)[-1]
    bundle = sorted(b for p, b in catalog.bundles if p == package)[0]
    queries = {
        "schema=olm.package": lambda o: o.get("schema") == "olm.package",
        f"package={package}": lambda o: o.get("package") == package,
        f"schema=olm.bundle&package={package}": lambda o: o.get("schema") == "olm.bundle" and o.get("package") == package,
        f"schema=olm.bundle&name={bundle}": lambda o: o.get("schema") == "olm.bundle" and o.get("name") == bundle,
        f"name={package}": lambda o: o.get("name") == package,
        "schema=no.such": lambda o: False,
    }
    for query, keep in queries.items():
        response, body = request(address, "GET", f"{base}/metas?{query}")
        equal(response.status, 200, f"/metas?{query} status")
        want = [o for o in catalog.objects if keep(o)]
        equal(lines_of(body), want, f"/metas?{query}")
        check(query == "schema=no.such" or want, f"/metas?{query} matches something in this catalog")
    response, _ = request(address, "GET", f"{base}/metas?schema=olm.package", {"If-Modified-Since": last_modified})
    equal(response.status, 304, "/metas If-Modified-Since")
    response, body = request(address, "GET", f"{base}/metas?color=red")
    equal((response.status, body), (400, b"400 Bad Request\n"), "/metas unknown parameter")

    # catalogd's errors.
    response, body = request(address, "GET", "/catalogs/not-served/api/v1/all")
    equal((response.status, body), (404, b"404 Not Found\n"), "unknown catalog")
    response, body = request(address, "GET", "/catalogs/Bad_Name/api/v1/all")
    equal(response.status, 400, "invalid catalog name status")
    check(body.startswith(b"invalid catalog name: a lowercase RFC 1123 subdomain"), f"invalid catalog name body: {body!r}")
    response, body = request(address, "POST", f"{base}/all")
    equal((response.status, body), (405, b"Method Not Allowed\n"), "POST /all")


def _floats_differ(value):
    """Python and Go print some floats differently; such a line is judged by
    value only."""
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_floats_differ(v) for v in value.values())
    if isinstance(value, list):
        return any(_floats_differ(v) for v in value)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc", required=True)
    parser.add_argument("--http", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--fbc", required=True)
    parser.add_argument("--proto", required=True)
    args = parser.parse_args()
    catalog = Catalog(args.fbc)
    if not catalog.packages:
        sys.exit(f"no packages in {args.fbc}")
    run_grpc(args.grpc, catalog, args.proto)
    run_http(args.http, args.name, catalog)
    if FAILURES:
        for failure in FAILURES[:50]:
            print(f"FAIL {failure}", file=sys.stderr)
        print(f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {len(catalog.packages)} packages, {len(catalog.bundles)} bundles, {CHECKS[0]} checks")


if __name__ == "__main__":
    main()
