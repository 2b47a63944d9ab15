from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from kanglu.application.commands import BeginConnectErpCommand, CompleteConnectErpCommand, SaveErpCredentialsCommand
from kanglu.application.errors import ApplicationError, AuthorizationFailed, InvalidInput, TransientFailure
from kanglu.application.use_cases.save_erp_credentials import SaveErpCredentials as Save
from kanglu.domain.connections import ConnectionStatus
from kanglu.domain.jobs import JobKind
from kanglu.domain.pkce import s256_challenge
from kanglu.domain.secrets import Secret
from tests.builders import World, connected_world

LINK = "https://accounts.tiny.com.br/realms/tiny/convite/abc"


def save(world: World, merchant_id: int = 7, secret: str | None = "s3cr3t", link: str = LINK, client_id: str = "tiny-api-1"):
    return Save(uow=world.uow, clock=world.clock, secret_box=world.box, auth_host="127.0.0.1")(
        SaveErpCredentialsCommand(merchant_id, client_id, Secret(secret) if secret is not None else None, link)
    )


def begin_state(world: World, merchant_id: int = 7) -> tuple[str, dict[str, list[str]]]:
    url = world.connect_erp().begin(BeginConnectErpCommand(merchant_id))
    query = parse_qs(urlsplit(url).query)
    return query["state"][0], query


def test_saving_credentials_seals_the_secret_and_waits_for_authorisation() -> None:
    world = World()
    save(world)
    connection = world.uow.read().connections.for_merchant(7)
    assert connection.status is ConnectionStatus.PENDING
    assert "s3cr3t" not in connection.client_secret.ciphertext
    assert "s3cr3t" not in repr(connection)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("client_id", {"client_id": ""}),
        ("client_id", {"client_id": "com espaço"}),
        ("client_id", {"client_id": "abc"}),
        ("client_id", {"client_id": "tiny-api-"}),
        ("client_id", {"client_id": "TINY-API-1"}),
        ("client_secret", {"secret": None}),
        ("invite_link", {"link": "http://accounts.tiny.com.br/x"}),
        ("invite_link", {"link": "https://evil.example.com/tiny.com.br"}),
        ("invite_link", {"link": "https://tiny.com.br.evil.com/x"}),
        ("invite_link", {"link": "not a url"}),
    ],
)
def test_bad_credentials_give_field_errors_and_save_nothing(field: str, kwargs: dict) -> None:
    world = World()
    with pytest.raises(InvalidInput) as caught:
        save(world, **kwargs)
    assert field in caught.value.field_errors
    assert world.uow.read().connections.for_merchant(7) is None


def test_a_client_id_without_tinys_prefix_is_refused_with_a_clear_message() -> None:
    world = World()
    with pytest.raises(InvalidInput) as caught:
        save(world, client_id="abc")
    message = caught.value.field_errors["client_id"]
    assert "Client ID do Tiny" in message and "tiny-api-" in message


@pytest.mark.parametrize(
    "client_id", ["tiny-api-0123456789abcdef0123456789abcdef01234567-1719830000", "tiny-api-1", "  tiny-api-x-2  "]
)
def test_client_ids_in_tinys_shape_are_accepted(client_id: str) -> None:
    world = World()
    save(world, client_id=client_id)
    assert world.uow.read().connections.for_merchant(7).client_id == client_id.strip()


@pytest.mark.parametrize("link", [LINK, "https://erp.olist.com/x", "https://tiny.com.br/a", "http://127.0.0.1:9000/convite"])
def test_accepted_invite_links(link: str) -> None:
    save(World(), link=link)


def test_secret_is_write_only_and_kept_when_left_blank() -> None:
    world = World()
    save(world)
    save(world, secret=None, link="https://erp.olist.com/new")
    connection = world.uow.read().connections.for_merchant(7)
    assert world.box.open(connection.client_secret).value == "s3cr3t"
    assert connection.invite_link == "https://erp.olist.com/new"


def test_begin_builds_an_authorize_url_with_signed_state_and_pkce() -> None:
    world = World()
    save(world)
    state, query = begin_state(world)
    connection = world.uow.read().connections.for_merchant(7)
    verifier = world.box.open(connection.auth_verifier).value
    assert query["code_challenge"] == [s256_challenge(verifier)]
    assert world.signer.verify(state, timedelta(minutes=10)).nonce == connection.auth_nonce


def test_begin_without_credentials_is_refused() -> None:
    with pytest.raises(ApplicationError):
        World().connect_erp().begin(BeginConnectErpCommand(7))


def test_complete_connects_stores_sealed_tokens_and_makes_the_first_poll_due_now() -> None:
    world, connection_id = connected_world()
    read = world.uow.read()
    connection = read.connections.get(connection_id)
    assert connection.status is ConnectionStatus.CONNECTED
    assert connection.account_name == "Loja Exemplo Ltda"
    assert world.box.open(connection.access_token).value.startswith("access-")
    assert connection.access_expires_at == world.clock.now() + timedelta(hours=4)
    assert read.jobs.get(JobKind.POLL, connection_id).due_at == world.clock.now()
    renew = read.jobs.get(JobKind.RENEW_TOKEN, connection_id)
    assert renew.due_at == connection.access_expires_at - timedelta(minutes=10)
    assert connection.auth_nonce is None


def test_replayed_state_is_refused_and_changes_nothing() -> None:
    world = World()
    save(world)
    state, _ = begin_state(world)
    world.connect_erp().complete(CompleteConnectErpCommand(state=state, code=world.oauth.issue_code()))
    before = world.uow.read().connections.for_merchant(7).token_version
    with pytest.raises(AuthorizationFailed) as caught:
        world.connect_erp().complete(CompleteConnectErpCommand(state=state, code=world.oauth.issue_code()))
    assert caught.value.reason == "replayed_state"
    assert world.uow.read().connections.for_merchant(7).token_version == before


def test_a_newer_begin_invalidates_the_older_state() -> None:
    world = World()
    save(world)
    old, _ = begin_state(world)
    begin_state(world)
    with pytest.raises(AuthorizationFailed, match="substituído"):
        world.connect_erp().complete(CompleteConnectErpCommand(state=old, code=world.oauth.issue_code()))


@pytest.mark.parametrize("tamper", [lambda s: s + "x", lambda s: "9" + s, lambda s: ""])
def test_tampered_or_missing_state_is_refused(tamper) -> None:
    world = World()
    save(world)
    state, _ = begin_state(world)
    with pytest.raises(AuthorizationFailed):
        world.connect_erp().complete(CompleteConnectErpCommand(state=tamper(state), code=world.oauth.issue_code()))
    assert world.uow.read().connections.for_merchant(7).status is ConnectionStatus.PENDING


def test_state_older_than_ten_minutes_is_refused() -> None:
    world = World()
    save(world)
    state, _ = begin_state(world)
    world.clock.advance(minutes=11)
    with pytest.raises(AuthorizationFailed) as caught:
        world.connect_erp().complete(CompleteConnectErpCommand(state=state, code=world.oauth.issue_code()))
    assert caught.value.reason == "expired"


def test_access_denied_leaves_the_connection_as_it_was() -> None:
    world, connection_id = connected_world()
    before = world.uow.read().connections.get(connection_id)
    state, _ = begin_state(world)
    with pytest.raises(AuthorizationFailed) as caught:
        world.connect_erp().complete(CompleteConnectErpCommand(state=state, error="access_denied"))
    assert caught.value.reason == "access_denied"
    after = world.uow.read().connections.get(connection_id)
    assert (after.status, after.token_version, after.access_token) == (
        before.status, before.token_version, before.access_token)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(None, "exchange_refused"), (TransientFailure("timeout"), "exchange_failed")],
)
def test_failed_exchange_changes_nothing_but_spends_the_state(failure, reason) -> None:
    world = World()
    save(world)
    state, _ = begin_state(world)
    if failure:
        world.oauth.fail_next.append(failure)
    with pytest.raises(AuthorizationFailed) as caught:
        world.connect_erp().complete(CompleteConnectErpCommand(state=state, code="unknown-code"))
    assert caught.value.reason == reason
    connection = world.uow.read().connections.for_merchant(7)
    assert connection.status is ConnectionStatus.PENDING and connection.access_token is None
    assert world.uow.read().jobs.get(JobKind.POLL, connection.id) is None


def test_account_name_failure_does_not_undo_the_connection() -> None:
    world = World()
    save(world)
    state, _ = begin_state(world)
    world.gateway.faults.append(("info", TransientFailure("503")))
    connection = world.connect_erp().complete(CompleteConnectErpCommand(state=state, code=world.oauth.issue_code()))
    assert connection.status is ConnectionStatus.CONNECTED and connection.account_name is None


def test_without_the_info_conta_permission_the_connection_completes_and_notes_it() -> None:
    from kanglu.domain.permissions import ErpPermission

    world = World()
    save(world)
    state, _ = begin_state(world)
    world.gateway.missing = {ErpPermission.INFO_CONTA}
    connection = world.connect_erp().complete(CompleteConnectErpCommand(state=state, code=world.oauth.issue_code()))
    assert connection.status is ConnectionStatus.CONNECTED and connection.account_name is None
    stored = world.uow.read().connections.get(connection.id)
    assert stored.missing_permissions == {ErpPermission.INFO_CONTA}


def test_a_new_client_id_needs_a_new_authorisation() -> None:
    world, connection_id = connected_world()
    save(world, client_id="tiny-api-other")
    connection = world.uow.read().connections.get(connection_id)
    assert connection.status is ConnectionStatus.PENDING and connection.access_token is None
