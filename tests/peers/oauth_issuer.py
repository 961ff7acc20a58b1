"""A test OAuth 2.1 authorization server on 127.0.0.1, for tests/it/identity/oauth.rs.

Tokens are signed by an independent library (PyPI `joserfc`), with keys generated here
at start: RSA (RS256), EC P-256 (ES256) and Ed25519 (EdDSA).

    python oauth_issuer.py [--path /tenant] [--tls DIR]   # prints the port, then serves

With --tls it serves HTTPS with a certificate for 127.0.0.1 from a CA made at start,
whose certificate it writes to DIR/ca.pem (PyPI `cryptography`, joserfc's own dependency),
and prints a second port: the same endpoints over plain HTTP, for the test's /sign.

Serves:
  GET  /.well-known/oauth-authorization-server[/path]   RFC 8414 metadata
  GET  /jwks                                            the public keys (fetches counted)
  POST /sign      {"claims": {...}, "key": "rsa|ec|ed|unknown", "alg"?: "...",
                   "forge"?: "none|hs256-public", "header"?: {...}}  -> {"token": "..."}
  POST /rotate    a new RSA key (new kid) replaces the old one in the JWKS
  GET  /stats     {"jwks_fetches": n}
and, for an MCP client's OAuth flow without a browser: /register (dynamic client
registration), /authorize (redirects at once with a code), /token (authorization code
with PKCE S256, and refresh), issuing tokens for the `resource` asked for (RFC 8707).
For a gateway's `token_exchange` servers, /token also takes RFC 8693 token exchange and
client credentials from the client `exchanger` (secret `exchanger-secret`, in the body):
an exchanged token keeps the subject of the token it replaces (verified here), names the
`resource` as its audience and the client in `act`. GET /stats counts the exchanges.
"""

import base64
import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

PATH = ""
if "--path" in sys.argv:
    PATH = sys.argv[sys.argv.index("--path") + 1]

LOCK = threading.Lock()
STATE = {"fetches": 0, "rotations": 0, "exchanges": 0, "client_grants": 0}
EXCHANGER = ("exchanger", "exchanger-secret")


def new_keys():
    rsa = RSAKey.generate_key(2048, parameters={"kid": f"rsa-{secrets.token_hex(4)}", "use": "sig"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"})
    ed = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1", "use": "sig"})
    return {"rsa": rsa, "ec": ec, "ed": ed}


KEYS = new_keys()
# Never published: a key the gateway cannot know.
UNKNOWN = RSAKey.generate_key(2048, parameters={"kid": "unknown-1"})
ALGS = {"rsa": "RS256", "ec": "ES256", "ed": "EdDSA", "unknown": "RS256"}
CODES = {}
CLIENTS = {}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims, key="rsa", alg=None, forge=None, extra_header=None):
    if forge == "none":
        header = {"alg": "none", "typ": "JWT", "kid": KEYS["rsa"].kid}
        return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."
    if forge == "hs256-public":
        # The classic confusion attack: HMAC keyed with the RSA public key's PEM.
        pem = KEYS["rsa"].as_pem(private=False)
        header = {"alg": "HS256", "typ": "JWT", "kid": KEYS["rsa"].kid}
        signing = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        mac = hmac.new(pem, signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{b64url(mac)}"
    k = UNKNOWN if key == "unknown" else KEYS[key]
    header = {"alg": alg or ALGS[key], "typ": "JWT", "kid": k.kid}
    if extra_header:
        # Members joserfc will not write (a `crit` it does not understand): RS256 by
        # hand over the same key, as a careless or hostile issuer would.
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        header.update(extra_header)
        header["alg"] = "RS256"
        signing = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        private = serialization.load_pem_private_key(KEYS["rsa"].as_pem(private=True), None)
        sig = private.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{b64url(sig)}"
    return jwt.encode(header, claims, k, algorithms=[header["alg"]])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def base(self):
        if ISSUER["base"]:
            return ISSUER["base"]
        return f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"

    def send_json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        if "json" in (self.headers.get("content-type") or ""):
            return json.loads(raw or b"{}")
        return dict(urllib.parse.parse_qsl(raw.decode()))

    def metadata(self):
        b = self.base()
        return {
            "issuer": b,
            "jwks_uri": f"{b}/jwks",
            "authorization_endpoint": f"{b}/authorize",
            "token_endpoint": f"{b}/token",
            "registration_endpoint": f"{b}/register",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
                                      "urn:ietf:params:oauth:grant-type:token-exchange"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
            "scopes_supported": ["mcp:use", "mcp:admin"],
        }

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path in (
            "/.well-known/oauth-authorization-server" + PATH,
            PATH + "/.well-known/openid-configuration",
        ):
            return self.send_json(200, self.metadata())
        if url.path == PATH + "/jwks":
            with LOCK:
                STATE["fetches"] += 1
                keys = [k.as_dict(private=False) for k in KEYS.values()]
            return self.send_json(200, {"keys": keys})
        if url.path == PATH + "/stats":
            with LOCK:
                return self.send_json(200, {"jwks_fetches": STATE["fetches"],
                                            "exchanges": STATE["exchanges"],
                                            "client_grants": STATE["client_grants"]})
        if url.path == PATH + "/authorize":
            q = dict(urllib.parse.parse_qsl(url.query))
            code = secrets.token_urlsafe(16)
            CODES[code] = q
            target = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                {"code": code, "state": q.get("state", "")}
            )
            self.send_response(302)
            self.send_header("location", target)
            self.send_header("content-length", "0")
            self.end_headers()
            return None
        return self.send_json(404, {"error": "not_found"})

    def issue(self, client_id, scope, resource):
        now = int(time.time())
        claims = {
            "iss": self.base(),
            "sub": f"user-of-{client_id}",
            "client_id": client_id,
            "aud": resource,
            "scope": scope,
            "iat": now,
            "exp": now + 300,
        }
        return {
            "access_token": sign(claims),
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": scope,
            "refresh_token": secrets.token_urlsafe(16),
        }

    def exchange(self, body):
        if (body.get("client_id"), body.get("client_secret")) != EXCHANGER:
            return self.send_json(401, {"error": "invalid_client"})
        claims = exchange_claims(self, body)
        if claims is None:
            return self.send_json(400, {"error": "invalid_grant"})
        with LOCK:
            key = "client_grants" if claims["sub"] == EXCHANGER[0] else "exchanges"
            STATE[key] += 1
        return self.send_json(200, {
            "access_token": sign(claims), "token_type": "Bearer", "expires_in": 300,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        body = self.body()
        if url.path == PATH + "/sign":
            token = sign(
                body["claims"], body.get("key", "rsa"), body.get("alg"), body.get("forge"),
                body.get("header"),
            )
            return self.send_json(200, {"token": token})
        if url.path == PATH + "/rotate":
            with LOCK:
                KEYS["rsa"] = RSAKey.generate_key(
                    2048, parameters={"kid": f"rsa-{secrets.token_hex(4)}", "use": "sig"}
                )
                kid = KEYS["rsa"].kid
            return self.send_json(200, {"kid": kid})
        if url.path == PATH + "/register":
            client_id = f"client-{secrets.token_hex(4)}"
            CLIENTS[client_id] = body
            reg = dict(body)
            reg.update({"client_id": client_id, "client_id_issued_at": int(time.time())})
            reg.setdefault("token_endpoint_auth_method", "none")
            return self.send_json(201, reg)
        if url.path == PATH + "/token":
            if body.get("grant_type") == "authorization_code":
                asked = CODES.pop(body.get("code"), None)
                if asked is None:
                    return self.send_json(400, {"error": "invalid_grant"})
                verifier = body.get("code_verifier", "")
                challenge = b64url(hashlib.sha256(verifier.encode()).digest())
                if challenge != asked.get("code_challenge"):
                    return self.send_json(400, {"error": "invalid_grant", "error_description": "PKCE"})
                resource = body.get("resource") or asked.get("resource")
                scope = asked.get("scope") or "mcp:use"
                return self.send_json(200, self.issue(body.get("client_id"), scope, resource))
            grant = body.get("grant_type")
            if grant in ("urn:ietf:params:oauth:grant-type:token-exchange", "client_credentials"):
                return self.exchange(body)
            if body.get("grant_type") == "refresh_token":
                return self.send_json(
                    200, self.issue(body.get("client_id"), "mcp:use", body.get("resource"))
                )
            return self.send_json(400, {"error": "unsupported_grant_type"})
        return self.send_json(404, {"error": "not_found"})


def exchange_claims(handler, body):
    """The claims of the token a token exchange (or client credentials) grant gives."""
    now = int(time.time())
    claims = {"iss": handler.base(), "aud": body.get("resource"), "client_id": EXCHANGER[0],
              "scope": body.get("scope", ""), "iat": now, "exp": now + 300}
    if body.get("grant_type") == "client_credentials":
        claims["sub"] = EXCHANGER[0]
        return claims
    if body.get("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token":
        return None
    try:
        subject = jwt.decode(body.get("subject_token", ""), KEYS["rsa"], algorithms=["RS256"])
    except Exception:
        return None
    if subject.claims.get("iss") != handler.base() or subject.claims.get("exp", 0) < now:
        return None
    claims["sub"] = subject.claims.get("sub")
    claims["act"] = {"sub": EXCHANGER[0]}
    return claims


def tls_context(folder):
    """A CA and a server certificate for 127.0.0.1 signed by it; the CA goes to ca.pem."""
    import datetime
    import ipaddress
    import os
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "metamcp test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    with open(os.path.join(folder, "ca.pem"), "wb") as f:
        f.write(pem(ca))
    with open(os.path.join(folder, "server.pem"), "wb") as f:
        f.write(pem(cert))
    with open(os.path.join(folder, "server.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(folder, "server.pem"), os.path.join(folder, "server.key"))
    return ctx


# With --tls: the https issuer URL, which every answer names (the plain control port too).
ISSUER = {"base": None}


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if "--tls" in sys.argv:
        ctx = tls_context(sys.argv[sys.argv.index("--tls") + 1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        ISSUER["base"] = f"https://127.0.0.1:{server.server_address[1]}{PATH}"
        # The test signs tokens and reads counts over plain HTTP on a second port.
        control = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=control.serve_forever, daemon=True).start()
        print(server.server_address[1], control.server_address[1], flush=True)
    else:
        print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
