"""ErpCredentials: the one home of the rules for Tiny's Client ID, Client Secret and invite link."""

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kanglu.domain.erp_credentials import ErpCredentials, InvalidCredentials
from kanglu.domain.secrets import Secret

CLIENT_ID = "tiny-api-0123456789abcdef0123456789abcdef01234567-1719830000"
LINK = "https://accounts.tiny.com.br/realms/tiny/convite/abc"
SANDBOX = "127.0.0.1"

token = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)
blank = st.text(" \t\n", max_size=3)


def parse(client_id: str = CLIENT_ID, secret: str | None = "s3cr3t", link: str = LINK,
          auth_host: str | None = SANDBOX) -> ErpCredentials:
    return ErpCredentials.parse(client_id=client_id, client_secret=Secret(secret) if secret is not None else None,
                                invite_link=link, auth_host=auth_host)


def refused(**kwargs: object) -> dict[str, str]:
    with pytest.raises(InvalidCredentials) as caught:
        parse(**kwargs)  # type: ignore[arg-type]
    return caught.value.field_errors


def test_good_credentials_are_trimmed_and_kept() -> None:
    credentials = parse(client_id=f"  {CLIENT_ID} ", secret=" s3cr3t\n", link=f" {LINK} ")
    assert (credentials.client_id, credentials.client_secret, credentials.invite_link) == (CLIENT_ID, Secret("s3cr3t"), LINK)


@pytest.mark.parametrize("secret", [None, "", "   "])
def test_a_blank_secret_means_keep_the_saved_one(secret: str | None) -> None:
    assert parse(secret=secret).client_secret is None


def test_the_secret_never_shows_in_a_repr() -> None:
    assert "s3cr3t" not in repr(parse()) and "s3cr3t" not in str(parse())


def test_every_refused_field_is_named_at_once_in_portuguese() -> None:
    errors = refused(client_id="", secret="com espaço", link="")
    assert errors == {
        "client_id": "informe o Client ID",
        "client_secret": "o Client Secret tem caracteres inválidos ou é longo demais",
        "invite_link": "informe o Link de Convite",
    }


# -- Client ID -----------------------------------------------------------------------------

@given(tail=st.from_regex(r"[0-9A-Za-z-]+", fullmatch=True), pad=blank)
def test_any_tiny_api_id_within_the_limit_is_accepted(tail: str, pad: str) -> None:
    client_id = ("tiny-api-" + tail)[: ErpCredentials.CLIENT_ID_MAX]
    assert parse(client_id=pad + client_id + pad).client_id == client_id


@given(st.text(min_size=1, max_size=50))
def test_an_id_without_tinys_prefix_is_refused(client_id: str) -> None:
    assume(not client_id.strip().startswith("tiny-api-"))
    assert "client_id" in refused(client_id=client_id)


@pytest.mark.parametrize("client_id", ["tiny-api-", "TINY-API-1", "tiny-api-com espaço", "tiny-api-ção",
                                       "tiny-api-" + "a" * (ErpCredentials.CLIENT_ID_MAX - 8)])
def test_malformed_or_overlong_ids_are_refused(client_id: str) -> None:
    assert "client_id" in refused(client_id=client_id)


def test_the_limit_is_inclusive() -> None:
    at_limit = "tiny-api-" + "a" * (ErpCredentials.CLIENT_ID_MAX - 9)
    assert parse(client_id=at_limit).client_id == at_limit


def test_the_prefix_message_says_where_to_find_the_id() -> None:
    assert "tiny-api-" in refused(client_id="abc")["client_id"]


# -- Client Secret -------------------------------------------------------------------------

@given(token)
def test_printable_secrets_within_the_limit_are_accepted(secret: str) -> None:
    if len(secret) <= ErpCredentials.CLIENT_SECRET_MAX:
        assert parse(secret=secret).client_secret == Secret(secret)
    else:
        assert "client_secret" in refused(secret=secret)


@pytest.mark.parametrize("secret", ["com espaço", "segredo\x00", "ç", "a" * (ErpCredentials.CLIENT_SECRET_MAX + 1)])
def test_bad_secrets_are_refused(secret: str) -> None:
    assert "client_secret" in refused(secret=secret)


# -- invite link ---------------------------------------------------------------------------

@pytest.mark.parametrize("link", [
    "https://tiny.com.br/convite", "https://accounts.tiny.com.br/x", "https://olist.com/c", "https://a.b.olist.com",
    "https://TINY.COM.BR/x", "http://127.0.0.1:8765/convite/1", "https://127.0.0.1/x",
])
def test_tiny_links_and_the_auth_servers_are_accepted(link: str) -> None:
    assert parse(link=link).invite_link == link


@pytest.mark.parametrize("link", [
    "http://accounts.tiny.com.br/x", "https://tiny.com.br.evil.com/x", "https://eviltiny.com.br/x",
    "https://evil.example.com/tiny.com.br", "https://olist.com.evil/x", "not a url", "ftp://tiny.com.br/x",
    "https://", "https://x" + "a" * ErpCredentials.INVITE_LINK_MAX + ".tiny.com.br",
])
def test_other_links_are_refused(link: str) -> None:
    assert "invite_link" in refused(link=link)


def test_without_an_auth_server_only_tiny_is_accepted() -> None:
    assert "invite_link" in refused(link="http://127.0.0.1:8765/convite/1", auth_host=None)


@pytest.mark.parametrize("auth_host", [SANDBOX, "sandbox.kanglu.test", None])
@given(data=st.data())
def test_whatever_the_published_patterns_match_is_accepted(auth_host: str | None, data: st.DataObject) -> None:
    """The API refuses what the OpenAPI patterns refuse, then ErpCredentials decides: so every
    link the document accepts must be accepted here too, or the document would lie."""
    pattern = data.draw(st.sampled_from(ErpCredentials.invite_link_patterns(auth_host)))
    link = data.draw(st.from_regex(pattern, fullmatch=True))
    assume(len(link) <= ErpCredentials.INVITE_LINK_MAX)
    assert parse(link=link, auth_host=auth_host).invite_link == link


def test_the_published_patterns_are_the_tiny_hosts_and_the_auth_host() -> None:
    tiny, sandbox = ErpCredentials.invite_link_patterns("127.0.0.1")
    assert re.fullmatch(tiny, "https://accounts.tiny.com.br/x") and not re.fullmatch(tiny, "https://tiny.com.br.evil.com/")
    assert re.fullmatch(sandbox, "http://127.0.0.1:8765/convite") and not re.fullmatch(sandbox, "http://127.0.0.10/")
    assert ErpCredentials.invite_link_patterns(None) == (tiny,)
