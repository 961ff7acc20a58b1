//! Secrets at rest: XChaCha20-Poly1305 sealing, random tokens, constant-time comparison;
//! and the TLS client configuration the gateway trusts servers with.
//!
//! Sealed values are `nonce (24 bytes) || ciphertext+tag`. Every seal names its purpose
//! and owner as associated data (`"api_key:<id>"`, `"server_env:<uuid>"`), so a ciphertext
//! copied into another row or column fails to open instead of decrypting. A value is
//! sealed as its JSON ([`Cipher::seal_json`]); a token that carries one (a session id, a
//! request state, a task id) is a [`Sealed`]: a prefix and the sealed JSON in base64url.

use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::KeyBytes;

const NONCE_LEN: usize = 24;

/// Sealing failed to open: wrong key, wrong associated data, or tampering.
#[derive(Debug, thiserror::Error)]
#[error("sealed value failed authentication (wrong ENCRYPTION_KEY or tampered data)")]
pub struct OpenError;

/// The process-wide cipher built from `ENCRYPTION_KEY`.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    pub fn new(key: &KeyBytes) -> Cipher {
        Cipher {
            aead: XChaCha20Poly1305::new((&key.0).into()),
        }
    }

    /// Encrypts `plaintext` bound to `aad`; a fresh random nonce every call.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce);
        // Encryption with a valid key and in-memory buffers cannot fail.
        match self.aead.encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        ) {
            Ok(ct) => out.extend_from_slice(&ct),
            Err(_) => unreachable!("XChaCha20-Poly1305 encryption of an in-memory buffer"),
        }
        out
    }

    /// Decrypts a value made by [`Cipher::seal`] with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(OpenError);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| OpenError)
    }

    /// `value` as JSON, sealed bound to `aad`.
    pub fn seal_json<T: Serialize + ?Sized>(&self, value: &T, aad: &[u8]) -> Vec<u8> {
        let plain = serde_json::to_vec(value).unwrap_or_default();
        self.seal(&plain, aad)
    }

    /// Opens a value made by [`Cipher::seal_json`] with the same `aad`.
    pub fn open_json<T: DeserializeOwned>(
        &self,
        sealed: &[u8],
        aad: &[u8],
    ) -> Result<T, UnsealError> {
        let plain = self.open(sealed, aad).map_err(|_| UnsealError::Open)?;
        serde_json::from_slice(&plain).map_err(UnsealError::Json)
    }
}

/// Why a sealed value did not open as the value it holds.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    /// Wrong key, wrong associated data, or tampering.
    #[error("sealed value failed authentication (wrong ENCRYPTION_KEY or tampered data)")]
    Open,
    /// It opened, but is not the JSON of the value expected.
    #[error("{0}")]
    Json(serde_json::Error),
}

/// A token that carries a `T` sealed: `prefix`, then the base64url of the value's JSON
/// sealed bound to `aad` (a token of one kind never opens as another), at most `max`
/// bytes in all (a longer one is refused before any decryption). The one sealing of
/// session ids, request states and task ids.
pub struct Sealed<T> {
    prefix: &'static str,
    aad: &'static [u8],
    max: usize,
    value: std::marker::PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Sealed<T> {
    pub const fn new(prefix: &'static str, aad: &'static [u8], max: usize) -> Sealed<T> {
        Sealed {
            prefix,
            aad,
            max,
            value: std::marker::PhantomData,
        }
    }

    /// The token for `value`; a fresh nonce every call.
    pub fn seal(&self, cipher: &Cipher, value: &T) -> String {
        let sealed = cipher.seal_json(value, self.aad);
        format!("{}{}", self.prefix, base64url(&sealed))
    }

    /// The value a token carries; `None` for anything else (too long, another prefix,
    /// not base64url, altered, sealed with another key or for another kind).
    pub fn open(&self, cipher: &Cipher, token: &str) -> Option<T> {
        if token.len() > self.max {
            return None;
        }
        let sealed = token.strip_prefix(self.prefix).and_then(base64url_decode)?;
        cipher.open_json(&sealed, self.aad).ok()
    }
}

/// A TLS client configuration (for OAuth issuers and `https://` backends): Mozilla's
/// roots (webpki-roots, compiled in) and the certificates of `ca_file`, TLS 1.2 and 1.3
/// with ring.
pub fn tls_client(
    ca_file: Option<&std::path::Path>,
) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(f) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(f)
            .map_err(|e| format!("{}: {e}", f.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", f.display()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!("{}: no usable certificate", f.display()));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn random_bytes(buf: &mut [u8]) {
    OsRng.fill_bytes(buf);
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A uniformly random string over `[A-Za-z0-9]` (rejection sampling, no modulo bias).
pub fn random_alphanumeric(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        random_bytes(&mut buf);
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would bias the first characters.
            if b < 248 && out.len() < len {
                out.push(ALPHANUMERIC[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding.
pub fn base64url(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(B64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url without padding, strictly: `None` on any other character, a bad
/// length, or stray bits in the last character (RFC 4648 §3.5), so that a value has one
/// spelling and no altered token opens as the one it was altered from.
pub fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = s.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        // The bits past the last whole byte of a short chunk must be zero.
        let stray = match chunk.len() {
            2 => n & 0xffff,
            3 => n & 0xff,
            _ => 0,
        };
        if stray != 0 {
            return None;
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

/// Standard Base64 (RFC 4648 §4) with its padding (through [`base64url`]).
pub fn base64_padded(data: &[u8]) -> String {
    let mut out: String = base64url(data)
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// Decodes standard Base64 (RFC 4648 §4) with its padding, strictly: the length a
/// multiple of four, `=` only at the end and only as much as the length needs, the
/// standard alphabet only, and no stray bits (one spelling per value). Through
/// [`base64url_decode`], after translating the alphabet.
pub fn base64_decode_padded(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(4) || s.contains(['-', '_']) {
        return None;
    }
    let unpadded = s
        .strip_suffix("==")
        .or_else(|| s.strip_suffix('='))
        .unwrap_or(s);
    if unpadded.contains('=') {
        return None;
    }
    let url: String = unpadded
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    base64url_decode(&url)
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_token_opens_only_as_its_own_kind_unaltered_and_in_bounds() {
        const A: Sealed<Vec<u32>> = Sealed::new("ta1.", b"kind a", 200);
        const B: Sealed<Vec<u32>> = Sealed::new("ta1.", b"kind b", 200);
        let c = Cipher::new(&KeyBytes([9; 32]));
        let token = A.seal(&c, &vec![1, 2, 3]);
        // The wire form: the prefix, then base64url of nonce, JSON sealed, tag.
        let body = token.strip_prefix("ta1.").expect("the prefix");
        let sealed = base64url_decode(body).expect("base64url");
        assert_eq!(sealed.len(), NONCE_LEN + b"[1,2,3]".len() + 16);
        assert_eq!(c.open(&sealed, b"kind a").unwrap(), b"[1,2,3]");
        assert_eq!(A.open(&c, &token), Some(vec![1, 2, 3]));
        // Another kind, another key, an altered or overlong token: nothing.
        assert_eq!(B.open(&c, &token), None);
        assert_eq!(A.open(&Cipher::new(&KeyBytes([8; 32])), &token), None);
        let mut altered = token.clone().into_bytes();
        let mid = altered.len() / 2;
        altered[mid] = if altered[mid] == b'A' { b'B' } else { b'A' };
        assert_eq!(A.open(&c, &String::from_utf8(altered).unwrap()), None);
        assert_eq!(A.open(&c, &format!("tb1.{body}")), None);
        let long = Sealed::<Vec<u32>>::new("ta1.", b"kind a", token.len() - 1);
        assert_eq!(long.open(&c, &token), None);
        // A value of another shape under the same kind is refused, not misread.
        let text: Sealed<String> = Sealed::new("ta1.", b"kind a", 200);
        assert_eq!(text.open(&c, &token), None);
        assert!(matches!(
            c.open_json::<String>(&sealed, b"kind a"),
            Err(UnsealError::Json(_))
        ));
        assert!(matches!(
            c.open_json::<Vec<u32>>(&sealed, b"kind b"),
            Err(UnsealError::Open)
        ));
    }

    #[test]
    fn seal_round_trips_and_binds_associated_data() {
        let c = Cipher::new(&KeyBytes([9; 32]));
        let sealed = c.seal(b"token", b"api_key:abc");
        assert_ne!(&sealed[NONCE_LEN..NONCE_LEN + 5], b"token");
        assert_eq!(c.open(&sealed, b"api_key:abc").unwrap(), b"token");
        assert!(c.open(&sealed, b"api_key:abd").is_err());
        let other = Cipher::new(&KeyBytes([8; 32]));
        assert!(other.open(&sealed, b"api_key:abc").is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(c.open(&tampered, b"api_key:abc").is_err());
        assert!(c.open(&sealed[..10], b"api_key:abc").is_err());
        // Two seals of one value differ (fresh nonce).
        assert_ne!(sealed, c.seal(b"token", b"api_key:abc"));
    }

    #[test]
    fn random_strings_use_the_whole_alphabet() {
        let s = random_alphanumeric(4000);
        assert_eq!(s.len(), 4000);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        for needle in ['A', 'z', '0', '9'] {
            assert!(s.contains(needle));
        }
        assert_ne!(random_alphanumeric(32), random_alphanumeric(32));
    }

    #[test]
    fn base64url_round_trips() {
        for n in 0..40 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64url_decode(&base64url(&data)).unwrap(), data);
        }
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert!(base64url_decode("a").is_none());
        assert!(base64url_decode("ab=c").is_none());
        // Stray bits in the last character: "-_8" is canonical, "-_9" decodes alike
        // under a lenient reader.
        assert!(base64url_decode("-_9").is_none());
        assert!(base64url_decode("AB").is_none());
        assert_eq!(base64url_decode("AA").unwrap(), vec![0]);
    }

    proptest::proptest! {
        /// A string decodes exactly when it is the encoding of what it decodes to: one
        /// spelling per value.
        #[test]
        fn a_value_has_one_spelling(s in "[A-Za-z0-9_-]{0,12}") {
            if let Some(bytes) = base64url_decode(&s) {
                proptest::prop_assert_eq!(base64url(&bytes), s);
            }
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(to_hex(&[0, 0xab, 0xff]), "00abff");
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
