//! catalogd's HTTP API (olm-v1.md C): `GET|HEAD
//! /catalogs/<name>/api/v1/all` (the whole catalog as JSON Lines, with
//! `http.ServeContent`'s conditional requests and single byte ranges) and
//! `/api/v1/metas?schema=&package=&name=` (exact-match filters, AND-ed).
//! Error bodies and codes as catalogd's `httpError` writes them.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use super::Catalog;
use super::index::Index;

const JSONL: &str = "application/jsonl";

#[derive(Clone)]
struct AppState {
    catalog: Arc<Catalog>,
    name: String,
}

pub fn router(catalog: Arc<Catalog>, name: String) -> Router {
    Router::new()
        .route("/catalogs/{catalog}/api/v1/all", axum::routing::any(all))
        .route("/catalogs/{catalog}/api/v1/metas", axum::routing::any(metas))
        .fallback(|| async { text_error(StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(AppState { catalog, name })
}

/// Go's `http.Error`: the text and a newline, as plain text.
fn text_error(status: StatusCode, message: &str) -> Response {
    let mut response = Response::new(Body::from(format!("{message}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

fn status_text(status: StatusCode) -> String {
    format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or_default())
}

/// The checks both endpoints make before reading: method, catalog name,
/// and that this catalog is the one served (and loaded).
fn lookup(state: &AppState, method: &Method, catalog: &str) -> Result<Arc<Index>, Response> {
    if method != Method::GET && method != Method::HEAD {
        return Err(text_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"));
    }
    let errors = dns1123_subdomain_errors(catalog);
    if !errors.is_empty() {
        return Err(text_error(
            StatusCode::BAD_REQUEST,
            &format!("invalid catalog name: {}", errors.join("; ")),
        ));
    }
    match state.catalog.get() {
        Some(index) if catalog == state.name => Ok(index),
        // catalogd's non-leader replicas, with nothing unpacked, say 404 too.
        _ => Err(text_error(StatusCode::NOT_FOUND, &status_text(StatusCode::NOT_FOUND))),
    }
}

/// k8s `IsDNS1123Subdomain`'s messages: the length and the pattern are
/// checked apart.
fn dns1123_subdomain_errors(name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if name.len() > 253 {
        errors.push("must be no more than 253 characters".to_string());
    }
    if name.is_empty() || !name.split('.').all(crate::model::k8s_names::is_dns1123_label) {
        errors.push(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end \
             with an alphanumeric character (e.g. 'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                .to_string(),
        );
    }
    errors
}

/// The index's time as `Last-Modified` has it: whole seconds.
fn modified_seconds(index: &Index) -> SystemTime {
    let seconds = index.modified.duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// net/http's `checkIfUnmodifiedSince` and `checkIfModifiedSince` (no
/// ETag is ever set, so the `If-Match`/`If-None-Match` arms never decide):
/// `Some` response when the request is answered without a body.
fn preconditions(method: &Method, headers: &HeaderMap, modified: SystemTime) -> Option<StatusCode> {
    let date = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| httpdate::parse_http_date(text).ok())
    };
    if headers.get(header::IF_MATCH).is_none()
        && let Some(since) = date(header::IF_UNMODIFIED_SINCE)
        && modified > since
    {
        return Some(StatusCode::PRECONDITION_FAILED);
    }
    if (method == Method::GET || method == Method::HEAD)
        && headers.get(header::IF_NONE_MATCH).is_none()
        && let Some(since) = date(header::IF_MODIFIED_SINCE)
        && modified <= since
    {
        return Some(StatusCode::NOT_MODIFIED);
    }
    None
}

fn bodiless(status: StatusCode, last_modified: &HeaderValue) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    if status == StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(header::LAST_MODIFIED, last_modified.clone());
    } else {
        return text_error(status, &status_text(status));
    }
    response
}

async fn all(State(state): State<AppState>, method: Method, Path(catalog): Path<String>, headers: HeaderMap) -> Response {
    let index = match lookup(&state, &method, &catalog) {
        Ok(index) => index,
        Err(response) => return response,
    };
    let modified = modified_seconds(&index);
    let last_modified = HeaderValue::from_str(&httpdate::fmt_http_date(modified)).expect("an HTTP date is a header value");
    if let Some(status) = preconditions(&method, &headers, modified) {
        return bodiless(status, &last_modified);
    }
    let size = index.metas.jsonl.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok())
        .filter(|_| if_range_allows(&headers, modified));
    let (status, start, end) = match range.map(|text| single_range(text, size)) {
        None | Some(RangeAnswer::Ignore) => (StatusCode::OK, 0, size),
        Some(RangeAnswer::Range(start, end)) => (StatusCode::PARTIAL_CONTENT, start, end),
        Some(RangeAnswer::Unsatisfiable) => {
            let mut response = text_error(StatusCode::RANGE_NOT_SATISFIABLE, "invalid range: failed to overlap");
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
            );
            return response;
        }
    };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        // The index is shared: the body holds it, not a copy of 100 MB.
        Body::from(bytes_of(index.clone(), start, end))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSONL));
    response_headers.insert(header::LAST_MODIFIED, last_modified);
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT {
        response_headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1)).expect("ascii"),
        );
    }
    response
}

/// `jsonl[start..end]` as body bytes that keep the index alive.
fn bytes_of(index: Arc<Index>, start: usize, end: usize) -> axum::body::Bytes {
    struct Slice(Arc<Index>, usize, usize);
    impl AsRef<[u8]> for Slice {
        fn as_ref(&self) -> &[u8] {
            &self.0.metas.jsonl[self.1..self.2]
        }
    }
    axum::body::Bytes::from_owner(Slice(index, start, end))
}

/// `If-Range` with a date: the range counts only if nothing changed since.
fn if_range_allows(headers: &HeaderMap, modified: SystemTime) -> bool {
    match headers.get(header::IF_RANGE).and_then(|value| value.to_str().ok()) {
        None => true,
        Some(text) => httpdate::parse_http_date(text).is_ok_and(|date| date == modified),
    }
}

enum RangeAnswer {
    Ignore,
    Range(usize, usize),
    Unsatisfiable,
}

/// One `bytes=` range (`a-b`, `a-`, `-n`); several ranges or a malformed
/// header are answered with the whole body (multipart is not offered).
fn single_range(text: &str, size: usize) -> RangeAnswer {
    let Some(spec) = text.strip_prefix("bytes=") else {
        return RangeAnswer::Ignore;
    };
    if spec.contains(',') {
        return RangeAnswer::Ignore;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Ignore;
    };
    let parse = |text: &str| text.trim().parse::<usize>().ok();
    match (first.trim().is_empty(), parse(first), parse(last)) {
        (true, _, Some(suffix)) if suffix > 0 => RangeAnswer::Range(size.saturating_sub(suffix), size),
        (true, _, _) => RangeAnswer::Unsatisfiable,
        (false, Some(start), _) if start >= size => RangeAnswer::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => RangeAnswer::Range(start, size),
        (false, Some(start), Some(end)) if end >= start => RangeAnswer::Range(start, (end + 1).min(size)),
        _ => RangeAnswer::Ignore,
    }
}

async fn metas(
    State(state): State<AppState>,
    method: Method,
    Path(catalog): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let index = match lookup(&state, &method, &catalog) {
        Ok(index) => index,
        Err(response) => return response,
    };
    let (mut schema, mut package, mut name) = (String::new(), String::new(), String::new());
    // Go's `URL.Query().Get`: the first value of each key.
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in form_pairs(query.as_deref().unwrap_or_default()) {
        let slot = match key.as_str() {
            "schema" => &mut schema,
            "package" => &mut package,
            "name" => &mut name,
            _ => return text_error(StatusCode::BAD_REQUEST, &status_text(StatusCode::BAD_REQUEST)),
        };
        if seen.insert(key) {
            *slot = value;
        }
    }
    let modified = modified_seconds(&index);
    let last_modified = HeaderValue::from_str(&httpdate::fmt_http_date(modified)).expect("an HTTP date is a header value");
    if let Some(status) = preconditions(&method, &headers, modified) {
        return bodiless(status, &last_modified);
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else if schema.is_empty() && package.is_empty() && name.is_empty() {
        Body::from(bytes_of(index.clone(), 0, index.metas.jsonl.len()))
    } else {
        Body::from(index.metas.select(&schema, &package, &name))
    };
    let mut response = Response::new(body);
    let response_headers = response.headers_mut();
    response_headers.insert(header::LAST_MODIFIED, last_modified);
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSONL));
    response
}

/// `application/x-www-form-urlencoded` pairs, decoded as Go's
/// `url.ParseQuery` does (`+` is a space, `%XX` a byte).
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |byte: u8| (byte as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        match bytes[idx] {
            b'+' => out.push(b' '),
            b'%' if idx + 2 < bytes.len() && hex(bytes[idx + 1]).is_some() && hex(bytes[idx + 2]).is_some() => {
                let high = hex(bytes[idx + 1]).unwrap_or_default();
                let low = hex(bytes[idx + 2]).unwrap_or_default();
                out.push(u8::try_from(high * 16 + low).unwrap_or_default());
                idx += 2;
            }
            byte => out.push(byte),
        }
        idx += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str, size: usize) -> Option<(usize, usize)> {
        match single_range(text, size) {
            RangeAnswer::Range(start, end) => Some((start, end)),
            RangeAnswer::Ignore => None,
            RangeAnswer::Unsatisfiable => Some((usize::MAX, usize::MAX)),
        }
    }

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        // RFC 9110 14.1.2's examples, on a 10,000-byte body.
        assert_eq!(range("bytes=0-499", 10_000), Some((0, 500)));
        assert_eq!(range("bytes=500-999", 10_000), Some((500, 1000)));
        assert_eq!(range("bytes=-500", 10_000), Some((9500, 10_000)));
        assert_eq!(range("bytes=9500-", 10_000), Some((9500, 10_000)));
        // A last position past the end is cut to it; a first one past it fails.
        assert_eq!(range("bytes=9000-20000", 10_000), Some((9000, 10_000)));
        assert_eq!(range("bytes=10000-", 10_000), Some((usize::MAX, usize::MAX)));
        // Not a byte range, or several: the whole body.
        assert_eq!(range("items=0-1", 10_000), None);
        assert_eq!(range("bytes=0-1,5-6", 10_000), None);
    }

    #[test]
    fn query_pairs_decode_as_go_does() {
        assert_eq!(
            form_pairs("schema=olm.bundle&name=a%2Bb+c&&package="),
            vec![
                ("schema".to_string(), "olm.bundle".to_string()),
                ("name".to_string(), "a+b c".to_string()),
                ("package".to_string(), String::new()),
            ]
        );
        // A broken escape stays as written, and never splits a character.
        assert_eq!(percent_decode("%zz%é"), "%zz%é");
    }

    #[test]
    fn catalog_names_get_kubernetes_messages() {
        assert!(dns1123_subdomain_errors("ocp-4.16").is_empty());
        let errors = dns1123_subdomain_errors("Bad_Name");
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("a lowercase RFC 1123 subdomain must consist of"),
            "{errors:?}"
        );
        assert_eq!(
            dns1123_subdomain_errors(&"a".repeat(254)),
            vec!["must be no more than 253 characters".to_string()]
        );
    }
}
