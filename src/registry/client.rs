//! A small blocking client for the OCI distribution API: the calls a push
//! needs (ping, HEAD blob, mount, upload, PUT manifest) and a pull needs
//! (GET manifest, GET blob as a stream), basic and bearer auth, and TLS
//! that verifies by default. Plain HTTP is tried only for a loopback
//! registry or with `insecure`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use ureq::http;

use super::auth::{self, Credentials};

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct ClientSettings {
    /// Plain HTTP and unverified TLS for any registry, not only loopback.
    pub insecure: bool,
    /// PEM CA certificates trusted besides the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// Every network timeout of a call (connect, answer, body); `None`
    /// keeps the defaults below. A stalled registry then fails the call
    /// in this time, and the call is retried.
    pub timeout: Option<Duration>,
}

/// A call that failed: `retry` when another attempt may succeed (a
/// dropped connection, a timeout, a 5xx or 429), after at least
/// `retry_after` when the registry said so (`Retry-After`).
#[derive(Debug, Default)]
pub(crate) struct CallError {
    pub message: String,
    pub retry: bool,
    pub retry_after: Option<Duration>,
}

/// The longest `Retry-After` honoured: a registry asking for an hour
/// gets this, then the attempt's usual limit applies.
pub(crate) const RETRY_AFTER_CAP: Duration = Duration::from_secs(10);

/// What a call asks a bearer token for: `pull`, or `pull,push`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Pull,
    Push,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        }
    }
}

/// What a call sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body<'a> {
    Bytes(&'a [u8]),
    /// A file's bytes, streamed from disk (opened again for each attempt):
    /// a layer can be hundreds of megabytes, and a push holds none.
    File(&'a std::path::Path),
}

impl<'a> From<&'a [u8]> for Body<'a> {
    fn from(bytes: &'a [u8]) -> Body<'a> {
        Body::Bytes(bytes)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Body<'a> {
    fn from(bytes: &'a [u8; N]) -> Body<'a> {
        Body::Bytes(bytes)
    }
}

impl<'a> From<&'a Vec<u8>> for Body<'a> {
    fn from(bytes: &'a Vec<u8>) -> Body<'a> {
        Body::Bytes(bytes)
    }
}

pub(crate) struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

enum Challenge {
    None,
    Basic,
    Bearer { realm: String, service: Option<String> },
}

/// One registry host.
pub(crate) struct Client {
    pub host: String,
    base_url: String,
    agent: ureq::Agent,
    credentials: Option<auth::Found>,
    /// Where catbuild looked for credentials, for a failed login.
    auth_notes: Vec<String>,
    challenge: Challenge,
    /// Bearer tokens by scope.
    tokens: Mutex<BTreeMap<String, String>>,
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(
        host,
        |(name, port)| if port.chars().all(|c| c.is_ascii_digit()) { name } else { host },
    );
    matches!(name, "localhost" | "[::1]") || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

fn agent(verify: bool, settings: &ClientSettings) -> Result<ureq::Agent, String> {
    let mut tls = ureq::tls::TlsConfig::builder().disable_verification(!verify);
    if let Some(ca_file) = &settings.ca_file {
        let pem = fs_err::read(ca_file).map_err(|error| error.to_string())?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
                certs.push(cert);
            }
        }
        if certs.is_empty() {
            return Err(format!("`{}` holds no PEM certificate", ca_file.display()));
        }
        // The extra CA is trusted besides the system's, not instead.
        if let Ok(system) = fs_err::read("/etc/ssl/certs/ca-certificates.crt") {
            for item in ureq::tls::parse_pem(&system) {
                if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
                    certs.push(cert.to_owned());
                }
            }
        }
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    let timeout = |default: u64| Some(settings.timeout.unwrap_or(Duration::from_secs(default)));
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(5)
        .timeout_connect(timeout(10))
        .timeout_recv_response(timeout(60))
        .timeout_send_body(timeout(120))
        .timeout_recv_body(timeout(120))
        .tls_config(tls.build())
        .build()
        .new_agent())
}

impl Client {
    /// Finds how to talk to `host` (`GET /v2/`) and what auth it wants.
    pub fn connect(host: &str, settings: &ClientSettings) -> Result<Client, String> {
        let plain_allowed = settings.insecure || is_loopback(host);
        let verified = agent(true, settings)?;
        let mut attempts: Vec<(String, ureq::Agent)> = vec![(format!("https://{host}"), verified)];
        if settings.insecure {
            attempts.push((format!("https://{host}"), agent(false, settings)?));
        }
        if plain_allowed {
            attempts.push((format!("http://{host}"), agent(true, settings)?));
        }
        let mut failures = Vec::new();
        for (base_url, agent) in attempts {
            let request = http::Request::get(format!("{base_url}/v2/"))
                .body(())
                .map_err(|error| error.to_string())?;
            match agent.run(request) {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let challenge = match response.headers().get("www-authenticate").and_then(|value| value.to_str().ok()) {
                        Some(text) if status == 401 => parse_challenge(text),
                        _ => Challenge::None,
                    };
                    if status != 200 && status != 401 {
                        return Err(format!("`GET {base_url}/v2/` answered {status}: not an OCI registry API"));
                    }
                    let mut auth_notes = Vec::new();
                    let credentials = match challenge {
                        Challenge::None => None,
                        _ => auth::lookup(host, &mut auth_notes),
                    };
                    return Ok(Client {
                        host: host.to_string(),
                        base_url,
                        agent,
                        credentials,
                        auth_notes,
                        challenge,
                        tokens: Mutex::new(BTreeMap::new()),
                    });
                }
                Err(error) => failures.push(format!("{base_url}: {error}")),
            }
        }
        let mut message = format!("cannot reach the registry ({})", failures.join("; "));
        if !plain_allowed {
            message.push_str(
                "; plain HTTP is used only for loopback registries or with `[images] insecure = true`, and an extra CA is `[images] ca-file`",
            );
        }
        Err(message)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// One push call, authorized for `repositories` (`repository:NAME:pull,push`
    /// scopes for bearer tokens), its body read as text (at most 1 MiB).
    /// `url` may be absolute (an upload `Location`) or a path.
    pub fn call<'a>(
        &self,
        method: &str,
        url: &str,
        repositories: &[&str],
        content_type: Option<&str>,
        body: impl Into<Body<'a>>,
    ) -> Result<Response, CallError> {
        let headers: Vec<(&str, &str)> = content_type.map(|value| ("Content-Type", value)).into_iter().collect();
        let mut response = self.send(method, url, repositories, Access::Push, &headers, body)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let text = if method == "HEAD" {
            String::new()
        } else {
            response
                .body_mut()
                .with_config()
                .limit(1 << 20)
                .read_to_string()
                .unwrap_or_default()
        };
        Ok(Response {
            status,
            location,
            body: text,
        })
    }

    /// One call with `headers`, its response unread (a blob is streamed
    /// from it). A 401 with a bearer challenge gets a fresh token once;
    /// 401 and 403 are then refusals, 5xx, 408 and 429 worth another try,
    /// as is a call that could not be made (a refused or cut connection).
    pub fn send<'a>(
        &self,
        method: &str,
        url: &str,
        repositories: &[&str],
        access: Access,
        headers: &[(&str, &str)],
        body: impl Into<Body<'a>>,
    ) -> Result<http::Response<ureq::Body>, CallError> {
        let body = body.into();
        let url = self.absolute(url);
        let mut fresh_token = false;
        loop {
            let authorization = self.authorization(repositories, access, fresh_token)?;
            let mut builder = http::Request::builder().method(method).uri(&url);
            if let Some(value) = &authorization {
                builder = builder.header("Authorization", value);
            }
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            let result = match body {
                _ if method == "HEAD" || method == "GET" => builder.body(()).map(|request| self.agent.run(request)),
                Body::Bytes(bytes) => builder.body(bytes).map(|request| self.agent.run(request)),
                Body::File(path) => {
                    let file = std::fs::File::open(path).map_err(|error| CallError {
                        message: format!("cannot read `{}`: {error}", path.display()),
                        retry: false,
                        retry_after: None,
                    })?;
                    builder.body(&file).map(|request| self.agent.run(request))
                }
            };
            let response = match result {
                Ok(Ok(response)) => response,
                Ok(Err(error)) => {
                    return Err(CallError {
                        message: format!("{method} {}: {error}", strip_query(&url)),
                        retry: true,
                        retry_after: None,
                    });
                }
                Err(error) => {
                    return Err(CallError {
                        message: format!("{method} {}: {error}", strip_query(&url)),
                        retry: false,
                        retry_after: None,
                    });
                }
            };
            let status = response.status().as_u16();
            if status == 401 && matches!(self.challenge, Challenge::Bearer { .. }) && !fresh_token {
                fresh_token = true;
                continue;
            }
            if status == 401 || status == 403 {
                return Err(CallError {
                    message: self.denied(status),
                    retry: false,
                    retry_after: None,
                });
            }
            if status >= 500 || status == 429 || status == 408 {
                return Err(CallError {
                    message: format!("{method} {} answered {status}", strip_query(&url)),
                    retry: true,
                    retry_after: response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok())
                        .and_then(parse_retry_after),
                });
            }
            return Ok(response);
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_string()
        } else {
            self.url(url)
        }
    }

    fn denied(&self, status: u16) -> String {
        let mut message = match &self.credentials {
            Some(found) => format!(
                "the registry refused the credentials of user `{}` from {} ({status})",
                found.credentials.username, found.source
            ),
            None => format!(
                "the registry wants credentials ({status}) and none were found: set CATBUILD_REGISTRY_USERNAME and \
                 CATBUILD_REGISTRY_PASSWORD, or log in with `podman login` / `docker login`"
            ),
        };
        for note in &self.auth_notes {
            message.push_str(&format!("; {note}"));
        }
        message
    }

    fn authorization(&self, repositories: &[&str], access: Access, refresh: bool) -> Result<Option<String>, CallError> {
        match &self.challenge {
            Challenge::None => Ok(None),
            Challenge::Basic => Ok(self.credentials.as_ref().map(|found| found.credentials.basic())),
            Challenge::Bearer { realm, service } => {
                let scope = repositories
                    .iter()
                    .map(|repository| format!("repository:{repository}:{}", access.actions()))
                    .collect::<Vec<_>>()
                    .join(" ");
                if !refresh && let Some(token) = self.tokens.lock().ok().and_then(|tokens| tokens.get(&scope).cloned()) {
                    return Ok(Some(format!("Bearer {token}")));
                }
                let token = self.fetch_token(realm, service.as_deref(), &scope)?;
                if let Ok(mut tokens) = self.tokens.lock() {
                    tokens.insert(scope, token.clone());
                }
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    fn fetch_token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String, CallError> {
        let mut url = format!("{realm}?scope={}", encode(scope));
        if let Some(service) = service {
            url.push_str(&format!("&service={}", encode(service)));
        }
        let mut builder = http::Request::get(&url);
        if let Some(found) = &self.credentials {
            builder = builder.header("Authorization", found.credentials.basic());
        }
        let request = builder.body(()).map_err(|error| CallError {
            message: error.to_string(),
            retry: false,
            retry_after: None,
        })?;
        let mut response = self.agent.run(request).map_err(|error| CallError {
            message: format!("GET {realm}: {error}"),
            retry: true,
            retry_after: None,
        })?;
        let status = response.status().as_u16();
        if status == 401 || status == 403 {
            return Err(CallError {
                message: self.denied(status),
                retry: false,
                retry_after: None,
            });
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .unwrap_or_default();
        let body: serde_json::Value = serde_json::from_str(&text).map_err(|error| CallError {
            message: format!("GET {realm} answered {status} without a token: {error}"),
            retry: status >= 500,
            retry_after: None,
        })?;
        body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .map(str::to_string)
            .ok_or_else(|| CallError {
                message: format!("GET {realm} answered {status} without a token"),
                retry: false,
                retry_after: None,
            })
    }

    /// Whether requests carry credentials of ours (for messages).
    #[allow(dead_code, reason = "kept for the push summary's wording")]
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref().map(|found| &found.credentials)
    }
}

/// Runs `call` up to `attempts` times while it fails with a retryable
/// error, sleeping `backoff` (doubled each time, at most 10 s) between
/// attempts and calling `on_retry` before each new one. Push and pull share it.
pub(crate) fn with_retries<T>(
    attempts: u32,
    backoff: Duration,
    on_retry: &dyn Fn(),
    mut call: impl FnMut() -> Result<T, CallError>,
) -> Result<T, String> {
    let mut delay = backoff;
    let mut attempt = 1;
    loop {
        match call() {
            Ok(value) => return Ok(value),
            Err(error) if error.retry && attempt < attempts => {
                on_retry();
                let asked = error.retry_after.map_or(Duration::ZERO, |asked| asked.min(RETRY_AFTER_CAP));
                std::thread::sleep(delay.max(asked));
                delay = delay.saturating_mul(2).min(Duration::from_secs(10));
                attempt += 1;
            }
            Err(error) if error.retry => return Err(format!("{} (gave up after {attempt} attempts)", error.message)),
            Err(error) => return Err(error.message),
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from registries
/// and is left to the usual backoff).
fn parse_retry_after(text: &str) -> Option<Duration> {
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn parse_challenge(text: &str) -> Challenge {
    let (scheme, params) = text.split_once(' ').unwrap_or((text, ""));
    let mut values = BTreeMap::new();
    for part in params.split(',') {
        if let Some((key, value)) = part.trim().split_once('=') {
            values.insert(key.trim().to_ascii_lowercase(), value.trim().trim_matches('"').to_string());
        }
    }
    if scheme.eq_ignore_ascii_case("bearer")
        && let Some(realm) = values.remove("realm")
    {
        return Challenge::Bearer {
            realm,
            service: values.remove("service"),
        };
    }
    Challenge::Basic
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An upload URL's query can carry state tokens; messages show the path.
fn strip_query(url: &str) -> &str {
    url.split_once('?').map_or(url, |(path, _)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_known() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("quay.io"));
        assert!(!is_loopback("127.example.com:80"));
    }

    #[test]
    fn retry_after_is_seconds_and_waits_at_most_the_cap() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        let started = std::time::Instant::now();
        let mut calls = 0;
        let result = with_retries(2, Duration::from_millis(1), &|| {}, || {
            calls += 1;
            Err::<(), _>(CallError {
                message: "503".into(),
                retry: true,
                retry_after: Some(Duration::from_millis(300)),
            })
        });
        assert!(result.unwrap_err().contains("gave up after 2 attempts"));
        assert_eq!(calls, 2);
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    }

    #[test]
    fn challenges_parse() {
        assert!(matches!(parse_challenge("Basic realm=\"x\""), Challenge::Basic));
        match parse_challenge("Bearer realm=\"https://auth.example/token\",service=\"registry.example\"") {
            Challenge::Bearer { realm, service } => {
                assert_eq!(realm, "https://auth.example/token");
                assert_eq!(service.as_deref(), Some("registry.example"));
            }
            _ => panic!("bearer"),
        }
    }
}
