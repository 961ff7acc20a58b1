//! Swagger UI at `/swagger-ui/`, over `/api-docs/openapi.json`: the files vendored in
//! `assets/swagger-ui/`, gzipped and hashed by `build.rs` and embedded in the binary.
//!
//! Each file has a strong `ETag` (its content hash, `-gzip` appended for the gzipped
//! representation). The page names every file with `?v=<hash>`; such a request is cached
//! for a year (`immutable`), anything else is revalidated. The page's
//! `Content-Security-Policy` allows scripts, styles and requests from this origin only: the
//! initialiser is a file, not an inline script.

use std::sync::OnceLock;

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

use crate::http::{ApiError, Body, empty};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    /// The first 128 bits of the SHA-256 of the file as served, in hex.
    hash: &'static str,
    /// `body` is gzipped.
    gzip: bool,
    /// The length once decompressed.
    len: usize,
    body: &'static [u8],
    /// The decompressed bytes, made once for the first client that does not take gzip.
    plain: OnceLock<Bytes>,
}

include!(concat!(env!("OUT_DIR"), "/swagger_assets.rs"));

/// The page's policy: its own origin only, no inline script, no framing, no plugins.
/// `data:` images are Swagger UI's own icons, in its stylesheet.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const YEAR: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Answers `GET /swagger-ui`, `/swagger-ui/` (`file` is `None`) and `/swagger-ui/<file>`.
pub fn serve(
    file: Option<&str>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response<Body>, ApiError> {
    let name = file.unwrap_or("index.html");
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no file {name:?} in /swagger-ui/")))?;
    let gzip = asset.gzip && accepts_gzip(headers);
    let etag = if gzip {
        format!("\"{}-gzip\"", asset.hash)
    } else {
        format!("\"{}\"", asset.hash)
    };
    // The page itself is always revalidated; a file named with its current hash never is.
    let versioned = file.is_some() && query_value(query, "v") == Some(asset.hash);
    let mut resp = if if_none_match(headers, asset.hash) {
        empty(StatusCode::NOT_MODIFIED)
    } else if gzip || !asset.gzip {
        let mut r = Response::new(Body::full(Bytes::from_static(asset.body)));
        if gzip {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    } else {
        Response::new(Body::full(plain(asset)?))
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if versioned { YEAR } else { REVALIDATE }),
    );
    if asset.gzip {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    Ok(resp)
}

/// The decompressed file, made on first use and kept.
fn plain(asset: &Asset) -> Result<Bytes, ApiError> {
    if let Some(b) = asset.plain.get() {
        return Ok(b.clone());
    }
    let mut out = Vec::with_capacity(asset.len);
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(asset.body), &mut out)
        .map_err(|e| ApiError::Internal(format!("embedded {} is corrupt: {e}", asset.name)))?;
    Ok(asset.plain.get_or_init(|| Bytes::from(out)).clone())
}

/// Whether `Accept-Encoding` takes gzip (named, or `*`, with a non-zero weight).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let weight_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(!weight_zero);
            } else if coding == "*" {
                any = Some(!weight_zero);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Whether `If-None-Match` names this file as it is now (either representation).
fn if_none_match(headers: &HeaderMap, hash: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',').any(|tag| {
                let tag = tag.trim();
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                tag == "*"
                    || tag
                        .strip_prefix('"')
                        .and_then(|t| t.strip_suffix('"'))
                        .is_some_and(|t| t == hash || t.strip_suffix("-gzip") == Some(hash))
            })
        })
    })
}

fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    async fn bytes(resp: Response<Body>) -> Bytes {
        resp.into_body().collect().await.expect("body").to_bytes()
    }

    #[test]
    fn gzip_is_taken_only_when_offered() {
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "gzip, deflate, br"
        )])));
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br;q=1, *;q=0.1"
        )])));
        assert!(!accepts_gzip(&headers(&[(
            "accept-encoding",
            "gzip;q=0, *"
        )])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "identity")])));
        assert!(!accepts_gzip(&headers(&[])));
    }

    #[tokio::test]
    async fn both_representations_are_the_same_file() {
        let gz = serve(
            Some("swagger-ui.css"),
            None,
            &headers(&[("accept-encoding", "gzip")]),
        )
        .expect("gzip");
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let etag_gz = gz.headers()[header::ETAG].clone();
        let zipped = bytes(gz).await;
        let plain = serve(Some("swagger-ui.css"), None, &HeaderMap::new()).expect("plain");
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_ne!(plain.headers()[header::ETAG], etag_gz);
        let plain = bytes(plain).await;
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&zipped[..]),
            &mut unzipped,
        )
        .expect("gunzip");
        assert_eq!(unzipped, plain);
        assert!(plain.starts_with(b".swagger-ui") || plain.len() > 100_000);
    }

    #[test]
    fn a_current_etag_gets_304_and_a_hashed_reference_a_year() {
        let asset = ASSETS
            .iter()
            .find(|a| a.name == "swagger-ui-bundle.js")
            .expect("bundle");
        let query = format!("v={}", asset.hash);
        let resp = serve(Some(asset.name), Some(&query), &HeaderMap::new()).expect("ok");
        assert_eq!(resp.headers()[header::CACHE_CONTROL], YEAR);
        let etag = resp.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        let again = serve(Some(asset.name), None, &h).expect("304");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::CACHE_CONTROL], REVALIDATE);
        let stale = serve(
            Some(asset.name),
            Some("v=0"),
            &headers(&[("if-none-match", "\"0123\"")]),
        )
        .expect("200");
        assert_eq!(stale.status(), StatusCode::OK);
        assert_eq!(stale.headers()[header::CACHE_CONTROL], REVALIDATE);
    }

    #[tokio::test]
    async fn the_page_names_every_file_by_its_hash() {
        let page = bytes(serve(None, None, &HeaderMap::new()).expect("page")).await;
        let page = String::from_utf8(page.to_vec()).expect("utf-8");
        assert!(!page.contains("<script>"), "no inline script");
        for a in ASSETS.iter().filter(|a| a.name != "index.html") {
            assert!(
                page.contains(&format!("/swagger-ui/{}?v={}", a.name, a.hash)),
                "{} is named with its hash",
                a.name
            );
        }
        assert!(serve(Some("LICENSE"), None, &HeaderMap::new()).is_err());
    }
}
