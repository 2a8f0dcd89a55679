//! Image pull-spec checking as opm does it before building the model:
//! `reference.ParseNormalizedNamed` from `go.podman.io/image/v5/docker/reference`
//! (the docker/distribution grammar), with digests checked by
//! `opencontainers/go-digest` v1.0.0. Only acceptance and the error text
//! matter here; the normalized name is not needed.
//!
//! Grammar (from that package's docs):
//! `reference := name [":" tag] ["@" digest]`,
//! `name := [domain "/"] path-component ["/" path-component]*`,
//! `domain := domain-component ["." domain-component]* [":" port]`,
//! `path-component := [a-z0-9]+ (separator [a-z0-9]+)*` with separator
//! `.`, `_`, `__` or one or more `-`, `tag := [\w][\w.-]{0,127}`,
//! `digest := algorithm ":" hex{32,}`.

const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// `reference.ParseNormalizedNamed(text)`, returning its error text.
pub(crate) fn parse_normalized_named(text: &str) -> Result<(), String> {
    if is_identifier(text) {
        return Err(format!(
            "invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    let (domain, remainder) = split_docker_domain(text);
    let remote_name = remainder.split_once(':').map_or(remainder.as_str(), |(name, _)| name);
    if remote_name.to_lowercase() != remote_name {
        return Err("invalid reference format: repository name must be lowercase".to_string());
    }
    parse(&format!("{domain}/{remainder}"))
}

/// `reference.Parse`: match the whole grammar, then check the name length
/// and the digest.
fn parse(text: &str) -> Result<(), String> {
    let Some(parts) = match_reference(text) else {
        if text.is_empty() {
            return Err("repository name must have at least one component".to_string());
        }
        if match_reference(&text.to_lowercase()).is_some() {
            return Err("repository name must be lowercase".to_string());
        }
        return Err("invalid reference format".to_string());
    };
    if parts.name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(format!("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"));
    }
    if let Some(digest) = parts.digest {
        validate_digest(digest)?;
    }
    Ok(())
}

/// `splitDockerDomain`: a first component with `.` or `:`, or `localhost`,
/// is a registry; otherwise `docker.io` (and `library/` for one-component
/// names) is assumed.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first.to_string(), rest.to_string()),
        _ => ("docker.io".to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = "docker.io".to_string();
    }
    if domain == "docker.io" && !remainder.contains('/') {
        remainder = format!("library/{remainder}");
    }
    (domain, remainder)
}

struct ReferenceParts<'a> {
    name: &'a str,
    digest: Option<&'a str>,
}

/// The anchored `ReferenceRegexp`. Neither name nor tag may hold `@`, and a
/// `:` after the last `/` can only start the tag, so the match is decided
/// by splitting at those characters.
fn match_reference(text: &str) -> Option<ReferenceParts<'_>> {
    let (before_digest, digest) = match text.split_once('@') {
        Some((before, digest)) => (before, Some(digest)),
        None => (text, None),
    };
    if let Some(digest) = digest
        && !is_digest_pattern(digest)
    {
        return None;
    }
    let last_slash = before_digest.rfind('/');
    let (name, tag) = match before_digest.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => (&before_digest[..colon], Some(&before_digest[colon + 1..])),
        _ => (before_digest, None),
    };
    if let Some(tag) = tag
        && !is_tag(tag)
    {
        return None;
    }
    is_name(name).then_some(ReferenceParts { name, digest })
}

fn is_name(name: &str) -> bool {
    let components: Vec<&str> = name.split('/').collect();
    let all_paths = |items: &[&str]| items.iter().all(|item| is_path_component(item));
    if all_paths(&components) {
        return true;
    }
    components.len() >= 2 && is_domain(components[0]) && all_paths(&components[1..])
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let is_alnum = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut idx = 0;
    while idx < bytes.len() {
        if is_alnum(bytes[idx]) {
            idx += 1;
            continue;
        }
        let start = idx;
        while idx < bytes.len() && !is_alnum(bytes[idx]) {
            idx += 1;
        }
        let separator = &component[start..idx];
        let valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|byte| byte == b'-');
        if !valid {
            return false;
        }
    }
    true
}

/// `domain-component ("." domain-component)* (":" [0-9]+)?`
fn is_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|byte| byte.is_ascii_digit()))
    {
        return false;
    }
    host.split('.').all(|label| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    })
}

/// `[\w][\w.-]{0,127}`
fn is_tag(tag: &str) -> bool {
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && is_word(bytes[0])
        && bytes[1..].iter().all(|&byte| is_word(byte) || byte == b'.' || byte == b'-')
}

/// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
fn is_digest_pattern(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|part| {
        let bytes = part.as_bytes();
        !bytes.is_empty() && bytes[0].is_ascii_alphabetic() && bytes.iter().all(u8::is_ascii_alphanumeric)
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// go-digest v1.0.0 `Digest.Validate` for a digest that already matched
/// the reference grammar.
fn validate_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Err("invalid checksum digest format".to_string());
    };
    let expected_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            // Unknown algorithm: a format error unless it matches go-digest's
            // own (lowercase) DigestRegexp.
            let lower_algorithm = algorithm
                .split(['.', '+', '_', '-'])
                .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit()));
            let encoded_ok = encoded
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'=' | b'_' | b'-'));
            return Err(if lower_algorithm && encoded_ok {
                "unsupported digest algorithm"
            } else {
                "invalid checksum digest format"
            }
            .to_string());
        }
    };
    if encoded.len() != expected_len {
        return Err("invalid checksum digest length".to_string());
    }
    if !encoded.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)) {
        return Err("invalid checksum digest format".to_string());
    }
    Ok(())
}

/// `anchoredIdentifierRegexp`: exactly 64 lowercase hex characters.
fn is_identifier(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::parse_normalized_named;

    #[test]
    fn accepts_usual_pull_specs() {
        for spec in [
            "foo-bundle:v0.1.0",
            "quay.io/operator-framework/foo-bundle:v0.1.0",
            "localhost:5000/foo",
            "registry.example.com:443/a/b/c@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "ubuntu",
            "a__b/c--d/e.f_g:TAG_1.0-x",
        ] {
            assert_eq!(parse_normalized_named(spec), Ok(()), "{spec}");
        }
    }

    #[test]
    fn refuses_with_reference_error_texts() {
        let cases = [
            ("Foo/bar", "invalid reference format: repository name must be lowercase"),
            ("foo:", "invalid reference format"),
            ("foo bar", "invalid reference format"),
            ("foo/bar@sha256:abc", "invalid reference format"),
            ("foo@sha256:0123456789abcdef0123456789abcdef", "invalid checksum digest length"),
            ("foo@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm"),
            (
                "foo@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                "invalid checksum digest format",
            ),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "invalid repository name (0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef), cannot specify 64-byte hexadecimal strings",
            ),
            ("a..b/c", "invalid reference format"),
        ];
        for (spec, expected) in cases {
            assert_eq!(parse_normalized_named(spec).unwrap_err(), expected, "{spec}");
        }
        let long = format!("quay.io/{}", "a".repeat(250));
        assert_eq!(
            parse_normalized_named(&long).unwrap_err(),
            "repository name must not be more than 255 characters"
        );
    }
}
