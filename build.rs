//! Build script: records the git commit catbuild is built from, for
//! `catbuild --version`. Outside a git checkout (a source tarball, a
//! vendored crate) or without `git`, the version says `unknown commit`
//! instead of failing the build.
//!
//! With the `serve` feature it also compiles `proto/registry.proto` (OLM's
//! registry gRPC API) into Rust with protox, a protobuf compiler written in
//! Rust, so building catbuild never needs a `protoc` binary; the encoded
//! descriptor set is kept for server reflection.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "serve")]
    compile_registry_proto();
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown commit".to_string());
    println!("cargo:rustc-env=CATBUILD_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself names the branch, the branch's
    // ref file (or packed-refs) holds the commit. Only existing files are
    // watched; cargo would rerun this script every time for a missing one.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

/// The trimmed stdout of a successful `git` command, if any.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// `proto/registry.proto` → `$OUT_DIR/api.rs` (messages and the server side
/// of `api.Registry`) and `$OUT_DIR/registry_descriptor.bin` (the descriptor
/// set, imports included, that reflection serves).
#[cfg(feature = "serve")]
fn compile_registry_proto() {
    println!("cargo:rerun-if-changed=proto/registry.proto");
    let out_dir = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut compiler = protox::Compiler::new(["proto"]).unwrap_or_else(|error| panic!("proto/: {error}"));
    compiler.include_imports(true).include_source_info(false);
    if let Err(error) = compiler.open_file("registry.proto") {
        panic!("proto/registry.proto: {error}");
    }
    std::fs::write(out_dir.join("registry_descriptor.bin"), compiler.encode_file_descriptor_set())
        .expect("write the registry descriptor set");
    tonic_prost_build::configure()
        .build_client(false)
        .build_transport(false)
        .compile_fds(compiler.file_descriptor_set())
        .expect("generate the registry gRPC code");
}
