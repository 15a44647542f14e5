"""A local OpenID Connect provider for the OAUTHBEARER tests: a token endpoint (client credentials, HTTP Basic) that
signs RS256 JWTs, and the JWKS the broker validates them with. Real HTTP on loopback, stopped by `close()`."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

AUDIENCE = "kafka"
KEY_ID = "test-key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


class IdentityProvider:
    """Issues tokens to one client (id and secret) for `lifetime` seconds; counts what it issued and refused."""

    def __init__(self, client_id: str, client_secret: str, lifetime: int = 3600) -> None:
        self.client_id, self.client_secret, self.lifetime = client_id, client_secret, lifetime
        self.issued = 0
        self.refused = 0
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-idp", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def jwks(self) -> dict:
        numbers = self._key.public_key().public_numbers()
        key = {"kty": "RSA", "kid": KEY_ID, "use": "sig", "alg": "RS256", "n": b64url(_uint(numbers.n))}
        return {"keys": [{**key, "e": b64url(_uint(numbers.e))}]}

    def token(self, subject: str, scope: str) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
        claims = {"sub": subject, "aud": AUDIENCE, "iss": self.url, "iat": now, "exp": now + self.lifetime}
        if scope:
            claims["scope"] = scope
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        return (unquote(client_id), unquote(secret)) == (self.client_id, self.client_secret)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._send(200, idp.jwks()) if self.path == "/jwks" else self._send(404, {})

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                if self.path != "/token" or form.get("grant_type") != ["client_credentials"]:
                    self._send(400, {"error": "unsupported_grant_type"})
                elif not idp._authorized(self.headers.get("Authorization")):
                    idp.refused += 1
                    self._send(401, {"error": "invalid_client"})
                else:
                    idp.issued += 1
                    token = idp.token(idp.client_id, form.get("scope", [""])[0])
                    self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": idp.lifetime})

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
