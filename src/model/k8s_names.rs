//! Kubernetes' name rules (`k8s.io/apimachinery` `validation`), written
//! once: opm checks package names with `IsDNS1123Label` and its messages,
//! and catalog.toml's names must be valid object names on a cluster.

/// k8s `validation.IsDNS1123Label`: the list of messages, empty if valid.
pub fn dns1123_label_errors(name: &str) -> Vec<String> {
    const LABEL_MAX_LENGTH: usize = 63;
    const LABEL_FORMAT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
    let mut errors = Vec::new();
    if name.len() > LABEL_MAX_LENGTH {
        errors.push(format!("must be no more than {LABEL_MAX_LENGTH} characters"));
    }
    if !is_dns1123_label(name) {
        if name.split('.').all(is_dns1123_label) {
            errors.push("must not contain dots".to_string());
        } else {
            errors.push(format!(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an \
                 alphanumeric character (e.g. 'my-name' or '123-abc', regex used for validation is '{LABEL_FORMAT}')"
            ));
        }
    }
    errors
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$` (no length limit in the pattern).
pub fn is_dns1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let is_alnum = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    !bytes.is_empty()
        && is_alnum(&bytes[0])
        && is_alnum(&bytes[bytes.len() - 1])
        && bytes.iter().all(|byte| is_alnum(byte) || *byte == b'-')
}

/// `validation.IsDNS1123Subdomain`: at most 253 characters, dot-separated
/// DNS-1123 labels.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(is_dns1123_label)
}
