"""The shared HTTP security pieces without a server: who a request's credentials name, the
tokens file, rate-limit buckets on a fake clock, the TLS context and the options' refusals."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest

from streams.cli.http_options import HttpOptions
from streams.runtime.http_security import (
    SINGLE_TOKEN_CALLER,
    Buckets,
    Caller,
    Callers,
    HttpSecurityError,
    RateLimit,
    Refusal,
    ServerTls,
    load_tokens,
    server_context,
)
from tests.fakes.pki import make_pki

TOKENS = {"dcc": "dcc-token-0123456789", "acme": "acme-token-0123456789"}
PARTNERS = Callers(tokens=TOKENS, cn_partners={"dcc-notifier": "dcc"}, allowed_cns=frozenset())


def refusal(found: Caller | Refusal) -> tuple[int, str]:
    assert isinstance(found, Refusal), found
    return found.status, found.code


def test_a_token_names_its_partner() -> None:
    found = PARTNERS.identify("Bearer acme-token-0123456789", None, "10.0.0.1")
    assert found == Caller("acme", "acme", "10.0.0.1")
    assert found.limit_key == "caller:acme"


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (None, (401, "missingCredentials")),
        ("Bearer nope", (401, "invalidCredentials")),
        ("Bearer ", (401, "invalidCredentials")),
        ("Bearer dcc-token-012345678", (401, "invalidCredentials")),  # a prefix
        ("Token dcc-token-0123456789", (401, "invalidCredentials")),  # another scheme
        (
            "Basic " + base64.b64encode(b"dcc:dcc-token-0123456789").decode(),
            (401, "invalidCredentials"),
        ),
    ],
)
def test_missing_or_wrong_credentials_are_401(header: str | None, want: tuple[int, str]) -> None:
    assert refusal(PARTNERS.identify(header, None, "10.0.0.1")) == want


def test_basic_is_taken_only_where_asked_and_must_name_the_tokens_partner() -> None:
    browser = Callers(tokens=TOKENS, basic=True)

    def basic(user: str, token: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()

    assert browser.identify(basic("dcc", TOKENS["dcc"]), None, "h").name == "dcc"  # type: ignore[union-attr]
    assert refusal(browser.identify(basic("acme", TOKENS["dcc"]), None, "h")) == (
        401,
        "invalidCredentials",
    )
    assert refusal(browser.identify("Basic %%%", None, "h")) == (401, "invalidCredentials")


def test_client_certificates_allowed_and_bound_to_partners() -> None:
    # the certificate of dcc's notifier with acme's token: valid credentials, not allowed
    wrong = PARTNERS.identify("Bearer acme-token-0123456789", "dcc-notifier", "h")
    assert refusal(wrong) == (403, "accessDenied")
    right = PARTNERS.identify("Bearer dcc-token-0123456789", "dcc-notifier", "h")
    assert right == Caller("dcc", "dcc", "h")
    # a CN that is neither allowed nor bound
    assert refusal(PARTNERS.identify("Bearer dcc-token-0123456789", "mallory", "h")) == (
        403,
        "accessDenied",
    )
    only_certs = Callers(allowed_cns=frozenset({"billing-gw"}), cn_partners={"dcc-gw": "dcc"})
    assert only_certs.identify(None, "billing-gw", "h") == Caller("cn:billing-gw", None, "h")
    assert only_certs.identify(None, "dcc-gw", "h") == Caller("dcc", "dcc", "h")
    assert Callers().identify(None, None, "10.1.1.1").limit_key == "ip:10.1.1.1"


def test_the_single_token_names_no_partner() -> None:
    found = Callers.single("s3cret-token").identify("Bearer s3cret-token", None, "h")
    assert found == Caller(SINGLE_TOKEN_CALLER, None, "h")


def test_one_token_for_two_partners_is_refused() -> None:
    with pytest.raises(HttpSecurityError, match="'dcc' and 'acme' have the same token"):
        Callers(tokens={"dcc": "same-token", "acme": "same-token"})


def test_the_tokens_file(tmp_path: Path) -> None:
    (tmp_path / "tokens").mkdir()
    for name, token in TOKENS.items():
        path = tmp_path / "tokens" / name
        path.write_text(token + "\n")
        path.chmod(0o600)
    listing = tmp_path / "partners.yaml"
    listing.write_text(f"dcc: tokens/dcc\nacme: {tmp_path / 'tokens' / 'acme'}\n")
    assert load_tokens(listing) == TOKENS
    listing.write_text("dcc: tokens/missing\n'bad id!': tokens/acme\nacme: 3\n")
    with pytest.raises(HttpSecurityError) as caught:
        load_tokens(listing)
    text = str(caught.value)
    assert "dcc: cannot read the token file" in text and "'bad id!'" in text
    assert "acme: got 3, want the path of its token file" in text
    listing.write_text("- dcc\n")
    with pytest.raises(HttpSecurityError, match="want 'partner-id: token-file' lines"):
        load_tokens(listing)


def test_rate_limits_parse() -> None:
    assert RateLimit.parse("5/s") == RateLimit(5.0, 10)
    assert RateLimit.parse("120/min", 3) == RateLimit(2.0, 3)
    assert RateLimit.parse("0.5") == RateLimit(0.5, 1)
    assert RateLimit.parse("off") is None
    for bad in ("fast", "5/day", "-1/s"):
        with pytest.raises(HttpSecurityError, match="--rate-limit"):
            RateLimit.parse(bad)


def test_a_bucket_allows_its_burst_then_refills_at_the_rate() -> None:
    now = [100.0]
    buckets = Buckets(RateLimit(2.0, 3), clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # empty: one more in half a second
    assert buckets.take("b") == 0.0  # another caller has its own bucket
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] += 60
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refilled to the burst, no more


def test_buckets_are_bounded() -> None:
    buckets = Buckets(RateLimit(1.0, 1), clock=lambda: 0.0, most=3)
    for key in "abcd":
        buckets.take(key)
    assert buckets.take("a") == 0.0  # the oldest was dropped: it would have refilled anyway
    assert buckets.take("d") > 0


def test_server_context_with_an_encrypted_key(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, encrypt=True)
    files = ServerTls(pki.server_cert, pki.server_key, pki.password_file, pki.ca)
    context = server_context(files)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("nope\n")
    with pytest.raises(HttpSecurityError, match=r"server\.key.*passphrase"):
        server_context(ServerTls(pki.server_cert, pki.server_key, wrong))
    with pytest.raises(HttpSecurityError, match=r"server\.key"):
        server_context(ServerTls(pki.server_cert, pki.server_key))  # encrypted, no passphrase


def test_the_options_refuse_what_would_leave_a_server_open_or_ambiguous(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    env: dict[str, str] = {}
    with pytest.raises(HttpSecurityError, match="no bearer token: set BILAT_X_TOKEN"):
        HttpOptions("BILAT_X_TOKEN").build(env)
    assert "no credentials asked" in HttpOptions("BILAT_X_TOKEN", no_token=True).build(env).summary
    with pytest.raises(HttpSecurityError, match="--no-token with a token"):
        HttpOptions("BILAT_X_TOKEN", no_token=True).build({"BILAT_X_TOKEN": "t"})
    with pytest.raises(HttpSecurityError, match="without --client-ca"):
        HttpOptions("T", allowed_client_cn=("dcc",), no_token=True).build(env)
    with pytest.raises(HttpSecurityError, match="without --tls-cert"):
        HttpOptions("T", client_ca=pki.ca).build(env)
    secured = HttpOptions(
        "T",
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        client_ca=pki.ca,
        allowed_client_cn=("dcc=dcc-notifier", "gw"),
        rate_limit="10/s",
    ).build(env)
    assert secured.scheme == "https" and secured.tls is not None
    assert secured.guard.callers.cn_partners == {"dcc-notifier": "dcc"}
    assert secured.guard.limit == RateLimit(10.0, 20)
    assert "client certificates required (2 CN allowed)" in secured.summary
