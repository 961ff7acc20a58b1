//! The OAuth client's own HTTP: one request at a time to a backend's metadata and
//! authorization-server endpoints, bounded in size and time, never following redirects.
//!
//! A backend steers what is fetched here (its challenge and metadata name the URLs), so
//! every URL is checked where it resolves: `https://`, or `http://` to a loopback or
//! private address (for a backend at one);
//! never a link-local, unspecified, multicast or broadcast address (cloud metadata
//! services live there); and a private or loopback address only when the backend itself
//! is reached at one of that kind (a public backend cannot send the gateway inward).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode, Uri, header};

/// Largest metadata document or token response read.
pub const MAX_BODY: usize = 64 << 10;
/// Longest a request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where a backend is reached, which bounds where it may send the gateway.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Zone {
    Public,
    Private,
    Loopback,
}

fn zone_of(ip: IpAddr) -> Result<Zone, String> {
    if let Some(what) = crate::base::metadata::metadata_ip(ip) {
        return Err(format!(
            "{ip} is {what}: not an address the gateway fetches from"
        ));
    }
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_loopback() {
                Ok(Zone::Loopback)
            } else if v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
            {
                Err(format!("{v4} is not an address the gateway fetches from"))
            } else if v4.is_private() || v4.octets()[0] == 100 && v4.octets()[1] & 0xC0 == 64 {
                Ok(Zone::Private)
            } else {
                Ok(Zone::Public)
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Ok(Zone::Loopback)
            } else if v6.is_unspecified() || v6.is_multicast() || first & 0xFFC0 == 0xFE80 {
                Err(format!("{v6} is not an address the gateway fetches from"))
            } else if first & 0xFE00 == 0xFC00 {
                Ok(Zone::Private)
            } else {
                Ok(Zone::Public)
            }
        }
    }
}

/// Resolves `uri`'s host: its address and zone (the least trusted of its addresses).
async fn resolve(uri: &Uri) -> Result<(SocketAddr, Zone), String> {
    let host = uri.host().ok_or("a URL without a host")?;
    if let Some(what) = crate::base::metadata::metadata_host(host) {
        return Err(format!(
            "{host} is {what}: not an address the gateway fetches from"
        ));
    }
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((bare, port)))
            .await
            .map_err(|_| format!("{host} did not resolve in time"))?
            .map_err(|e| format!("{host} does not resolve: {e}"))?
            .collect();
    let mut zone = Zone::Loopback;
    for a in &addrs {
        zone = zone.min(zone_of(a.ip())?);
    }
    let first = addrs
        .first()
        .ok_or_else(|| format!("{host} has no address"))?;
    Ok((*first, zone))
}

/// The zone a backend's own URL is in (where its metadata may point).
pub async fn zone_of_url(url: &str) -> Result<Zone, String> {
    let uri: Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    Ok(resolve(&uri).await?.1)
}

/// An answer: status, `WWW-Authenticate` and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub challenge: Option<String>,
    pub content_type: Option<String>,
    /// `Mcp-Session-Id`, for a probe's second request.
    pub session: Option<String>,
    /// `DPoP-Nonce` (RFC 9449 §8), for a token request's second try.
    pub dpop_nonce: Option<String>,
    pub body: Bytes,
}

/// What may be fetched: the TLS roots and the backend's zone.
#[derive(Clone)]
pub struct Net {
    pub tls: Arc<rustls::ClientConfig>,
    /// The innermost zone URLs may resolve to.
    pub zone: Zone,
}

impl Net {
    /// Checks `url` (scheme, no credentials) and where it resolves.
    async fn admit(&self, url: &str) -> Result<(Uri, SocketAddr), String> {
        let uri: Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
        let authority = uri.authority().ok_or_else(|| format!("{url}: no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("{url}: credentials in a URL are refused"));
        }
        let (addr, zone) = resolve(&uri).await.map_err(|e| format!("{url}: {e}"))?;
        match uri.scheme_str() {
            Some("https") => {}
            // Plain text never crosses the public internet.
            Some("http") if zone != Zone::Public && self.zone != Zone::Public => {}
            _ => {
                return Err(format!(
                    "{url}: only https:// (http:// only to a loopback or private address, \
                     for a backend at one)"
                ));
            }
        }
        if zone > self.zone {
            return Err(format!(
                "{url}: resolves to a {} address, and the backend is not at one",
                if zone == Zone::Loopback {
                    "loopback"
                } else {
                    "private"
                }
            ));
        }
        Ok((uri, addr))
    }

    /// One request; the body read whole up to [`MAX_BODY`].
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(header::HeaderName, String)],
        body: Option<Bytes>,
    ) -> Result<Answer, String> {
        tokio::time::timeout(TIMEOUT, self.send_now(method, url, headers, body, MAX_BODY))
            .await
            .map_err(|_| format!("{url}: no answer within {} s", TIMEOUT.as_secs()))?
    }

    /// A `GET` whose answer may be up to `limit` bytes, within `timeout` (a registry's
    /// page of entries is larger than a metadata document).
    pub async fn get_limited(
        &self,
        url: &str,
        limit: usize,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let accept = [(header::ACCEPT, "application/json".to_string())];
        tokio::time::timeout(
            timeout,
            self.send_now(Method::GET, url, &accept, None, limit),
        )
        .await
        .map_err(|_| format!("{url}: no answer within {} s", timeout.as_secs()))?
    }

    async fn send_now(
        &self,
        method: Method,
        url: &str,
        headers: &[(header::HeaderName, String)],
        body: Option<Bytes>,
        limit: usize,
    ) -> Result<Answer, String> {
        let (uri, addr) = self.admit(url).await?;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let host = uri.host().unwrap_or_default().to_string();
        let mut req = Request::builder()
            .method(method)
            .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(
                header::HOST,
                uri.authority().map_or(host.as_str(), |a| a.as_str()),
            )
            .header(
                header::USER_AGENT,
                concat!("metamcp/", env!("CARGO_PKG_VERSION")),
            );
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| format!("{url}: {e}"))?;
        if uri.scheme_str() == Some("https") {
            let name = rustls::pki_types::ServerName::try_from(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
            )
            .map_err(|e| format!("{url}: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("{url}: TLS: {e}"))?;
            exchange(tls, req, url, limit).await
        } else {
            exchange(tcp, req, url, limit).await
        }
    }

    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let a = self
            .send(
                Method::GET,
                url,
                &[(header::ACCEPT, "application/json".into())],
                None,
            )
            .await?;
        if !a.status.is_success() {
            return Err(format!("{url}: HTTP {}", a.status.as_u16()));
        }
        json_object(&a.body).map_err(|e| format!("{url}: {e}"))
    }
}

/// A JSON object, or why not.
pub fn json_object(body: &[u8]) -> Result<serde_json::Value, String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

async fn exchange<S>(
    stream: S,
    req: Request<Full<Bytes>>,
    url: &str,
    limit: usize,
) -> Result<Answer, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("{url}: {e}"))?;
    let conn = tokio::spawn(conn);
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let text = |name: header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let status = resp.status();
    let challenge = text(header::WWW_AUTHENTICATE);
    let content_type = text(header::CONTENT_TYPE);
    let session = text(header::HeaderName::from_static("mcp-session-id"));
    let dpop_nonce = text(header::HeaderName::from_static("dpop-nonce"));
    let body = Limited::new(resp.into_body(), limit)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| format!("{url}: the answer is larger than {limit} bytes or broke: {e}"));
    conn.abort();
    Ok(Answer {
        status,
        challenge,
        content_type,
        session,
        dpop_nonce,
        body: body?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_zoned_and_metadata_services_refused() {
        let z = |s: &str| zone_of(s.parse().unwrap());
        assert_eq!(z("127.0.0.1"), Ok(Zone::Loopback));
        assert_eq!(z("::1"), Ok(Zone::Loopback));
        assert_eq!(z("::ffff:127.0.0.1"), Ok(Zone::Loopback));
        assert_eq!(z("10.1.2.3"), Ok(Zone::Private));
        assert_eq!(z("192.168.0.9"), Ok(Zone::Private));
        assert_eq!(z("100.64.0.1"), Ok(Zone::Private));
        assert_eq!(z("fd00::1"), Ok(Zone::Private));
        assert_eq!(z("93.184.216.34"), Ok(Zone::Public));
        for refused in [
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "fe80::1",
            "::",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
            "::ffff:a9fe:a9fe",
            "100.100.100.200",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(z(refused).is_err(), "{refused}");
        }
    }

    #[tokio::test]
    async fn a_public_backend_cannot_send_the_gateway_inward_and_http_is_loopback_only() {
        let tls = crate::crypto::tls_client(None).unwrap();
        let public = Net {
            tls: tls.clone(),
            zone: Zone::Public,
        };
        let e = public.admit("https://127.0.0.1/x").await.unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        let e = public
            .admit("https://169.254.169.254/latest")
            .await
            .unwrap_err();
        assert!(e.contains("not an address"), "{e}");
        let e = public.admit("https://u:p@127.0.0.1/").await.unwrap_err();
        assert!(e.contains("credentials"), "{e}");
        let local = Net {
            tls,
            zone: Zone::Loopback,
        };
        assert!(local.admit("http://127.0.0.1:9/x").await.is_ok());
        assert!(local.admit("ftp://127.0.0.1/x").await.is_err());
    }
}
