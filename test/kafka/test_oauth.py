"""The driver's OAUTHBEARER token provider against a real OIDC token endpoint on loopback: the client credentials
grant with HTTP Basic, tokens reused until most of their life has passed, failures that name the endpoint only."""

import time

import pytest

from app.kafka.oauth import ClientCredentials, TokenError
from test.helpers.oidc import IdentityProvider


@pytest.fixture
def idp():
    provider = IdentityProvider("svc/ner", "s3cret:with%chars", lifetime=3600)
    yield provider
    provider.close()


def test_a_token_is_fetched_once_and_reused(idp):
    provider = ClientCredentials(f"{idp.url}/token", "svc/ner", "s3cret:with%chars", "kafka")
    first = provider.token()
    assert provider.token() == first and idp.issued == 1
    assert first.count(".") == 2  # a JWT


def test_a_short_lived_token_is_fetched_again(idp):
    idp.lifetime = 1  # renewed after 80 % of its life, and never sooner than a second
    provider = ClientCredentials(f"{idp.url}/token", "svc/ner", "s3cret:with%chars")
    provider.token()
    time.sleep(1.2)
    provider.token()
    assert idp.issued == 2


def test_a_wrong_secret_raises_naming_the_endpoint_never_the_secret(idp):
    provider = ClientCredentials(f"{idp.url}/token", "svc/ner", "wrong-secret-123")
    with pytest.raises(TokenError, match="KAFKA_SASL_OAUTH_TOKEN_URL=http://127.0.0.1") as caught:
        provider.token()
    assert "wrong-secret-123" not in str(caught.value) and idp.refused == 1
