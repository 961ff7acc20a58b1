//! A URL's origin (scheme, host, port): what a credential given for one backend is bound
//! to, so that it never follows the backend's url to another host.

/// Scheme, host and port (the port its scheme implies when absent), lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute URL.
    pub fn of(url: &str) -> Option<Origin> {
        Origin::of_uri(&url.parse().ok()?)
    }

    pub fn of_uri(uri: &hyper::Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let authority = uri.authority()?;
        let port = authority
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        Some(Origin {
            host: authority.host().to_ascii_lowercase(),
            scheme,
            port,
        })
    }
}

/// `scheme://host:port`, the port always written.
impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_scheme_host_and_port() {
        let a = Origin::of("https://API.example.com/mcp").unwrap();
        assert_eq!(
            Some(a.clone()),
            Origin::of("https://api.example.com:443/other")
        );
        assert_ne!(Some(a.clone()), Origin::of("http://api.example.com/mcp"));
        assert_ne!(Some(a), Origin::of("https://api.example.com:8443/mcp"));
        assert_eq!(Origin::of("not a url"), None);
        let shown = Origin::of("https://API.example.com/mcp")
            .unwrap()
            .to_string();
        assert_eq!(shown, "https://api.example.com:443");
        assert_eq!(Origin::of(&shown), Origin::of("https://api.example.com/"));
    }
}
