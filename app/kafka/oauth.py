"""SASL/OAUTHBEARER with OIDC client credentials for the driver's kafka-python clients (the start-up check, the
offsets committer, the replay tool). Spark's Java clients fetch their own tokens (app/kafka/options.py)."""

from __future__ import annotations

import base64
import json
import threading
import time
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen

from kafka.net.sasl.oauth import AbstractTokenProvider

# A token is fetched again when this share of its lifetime has passed (Kafka's Java client refreshes at 80 %).
REFRESH_AT = 0.8


class TokenError(RuntimeError):
    """The token endpoint did not give a token; the message names the endpoint, never the secret."""


class ClientCredentials(AbstractTokenProvider):
    """Access tokens from an OAuth 2 token endpoint by the client credentials grant (RFC 6749 4.4), the client
    authenticated with HTTP Basic as RFC 6749 2.3.1 asks, reused until most of their lifetime has passed."""

    def __init__(self, url: str, client_id: str, client_secret: str, scope: str = "", timeout: float = 10.0) -> None:
        super().__init__()
        self._url, self._scope, self._timeout = url, scope, timeout
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
        self._authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:
        return f"ClientCredentials(url={self._url!r}, scope={self._scope!r})"  # never the secret

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                self._token, lifetime = self._fetch()
                self._renew_at = time.monotonic() + max(1.0, lifetime * REFRESH_AT)
            return self._token

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", **({"scope": self._scope} if self._scope else {})}
        request = Request(  # noqa: S310 - an http(s) URL: the settings accept no other scheme
            self._url,
            data=urlencode(form).encode(),
            headers={
                "Authorization": self._authorization,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with urlopen(request, timeout=self._timeout) as response:  # noqa: S310 - as above
                body = json.loads(response.read(1_000_000))
            return str(body["access_token"]), float(body.get("expires_in", 300))
        except Exception as exc:  # noqa: BLE001 - any failure is the same for the caller: no token
            msg = f"no access token from KAFKA_SASL_OAUTH_TOKEN_URL={self._url}: {type(exc).__name__}: {exc}"[:500]
            raise TokenError(msg) from None
