import random
from datetime import timedelta

import pytest

from kanglu.application.commands import RefreshTokenCommand
from kanglu.application.errors import RateLimited, ReauthorizationRequired, TransientFailure
from kanglu.application.tokens import TokenKeeper
from kanglu.application.use_cases.refresh_token import RefreshToken, RenewalOutcome
from kanglu.domain.connections import ConnectionStatus
from tests.builders import MARGIN, connected_world


def test_not_due_does_nothing_and_says_when() -> None:
    world, cid = connected_world()
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.NOT_DUE
    assert world.oauth.refresh_calls == 0
    assert result.next_due_at == world.uow.read().connections.get(cid).access_expires_at - timedelta(minutes=10)


def test_renews_inside_the_margin_and_rotates_the_refresh_token() -> None:
    world, cid = connected_world()
    old = world.uow.read().connections.get(cid)
    world.clock.advance(hours=3, minutes=51)
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.RENEWED
    new = world.uow.read().connections.get(cid)
    assert new.token_version == old.token_version + 1
    assert world.box.open(new.refresh_token).value in world.oauth.valid_refresh
    assert world.box.open(old.refresh_token).value not in world.oauth.valid_refresh
    assert new.access_expires_at == world.clock.now() + timedelta(hours=4)


def test_renews_before_the_refresh_token_dies_even_when_idle() -> None:
    world, cid = connected_world()
    world.oauth.refresh_lifetime = 3600
    world.clock.advance(hours=3, minutes=51)
    world.refresh()(RefreshTokenCommand(cid))  # now the refresh token lives 1 h, the access token 4 h
    connection = world.uow.read().connections.get(cid)
    assert connection.renewal_due_at(timedelta(minutes=10)) == connection.refresh_expires_at - timedelta(minutes=10)


def test_a_token_shorter_lived_than_the_margin_is_renewed_half_way_not_in_a_loop() -> None:
    world, cid = connected_world()
    world.oauth.lifetime = 300  # 5 minutes, inside the 10-minute margin: due as soon as issued
    world.clock.advance(hours=3, minutes=51)
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.RENEWED
    assert result.next_due_at == world.clock.now() + timedelta(seconds=150)
    world.clock.advance(seconds=150)
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RENEWED
    assert world.oauth.refresh_calls == 2


def test_definite_refusal_disconnects_with_the_reason() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=4)
    world.oauth.fail_next.append(ReauthorizationRequired("Token is not active", "invalid_grant"))
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.DISCONNECTED and result.next_due_at is None
    connection = world.uow.read().connections.get(cid)
    assert connection.status is ConnectionStatus.DISCONNECTED
    assert "Token is not active" in connection.last_error
    assert connection.access_token is None and connection.refresh_token is None


def test_transient_failure_while_access_is_valid_changes_nothing_visible() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=3, minutes=55)
    world.oauth.fail_next.append(TransientFailure("Tiny respondeu 503", retry_after=None))
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.RETRY
    assert world.clock.now() + timedelta(seconds=15) <= result.next_due_at <= world.clock.now() + timedelta(seconds=30)
    connection = world.uow.read().connections.get(cid)
    assert connection.status is ConnectionStatus.CONNECTED and connection.last_error is None
    assert connection.refresh_failures == 1


def test_transient_failures_back_off_and_show_once_the_access_expired() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=4, minutes=1)
    delays = []
    for _ in range(6):
        world.oauth.fail_next.append(TransientFailure("tempo esgotado"))
        result = world.refresh()(RefreshTokenCommand(cid))
        delays.append(result.next_due_at - world.clock.now())
    assert delays[-1] > delays[0]
    assert max(delays) <= timedelta(minutes=15)
    connection = world.uow.read().connections.get(cid)
    assert connection.status is ConnectionStatus.CONNECTED
    assert "tempo esgotado" in connection.last_error
    world.refresh()(RefreshTokenCommand(cid))
    assert world.uow.read().connections.get(cid).last_error is None


def test_retry_after_is_honoured_but_never_past_the_refresh_death() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=23, minutes=59)
    world.oauth.fail_next.append(TransientFailure("429", retry_after=600))
    result = world.refresh()(RefreshTokenCommand(cid))
    connection = world.uow.read().connections.get(cid)
    assert result.next_due_at <= connection.refresh_expires_at


def test_dead_refresh_token_disconnects_without_calling_tiny() -> None:
    world, cid = connected_world()
    world.clock.advance(days=1, seconds=1)
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.DISCONNECTED
    assert world.oauth.refresh_calls == 0


def test_forced_renewal_after_someone_else_renewed_is_not_repeated() -> None:
    world, cid = connected_world()
    seen = world.uow.read().connections.get(cid).token_version
    world.refresh()(RefreshTokenCommand(cid, force=True, seen_token_version=seen))
    assert world.oauth.refresh_calls == 1
    result = world.refresh()(RefreshTokenCommand(cid, force=True, seen_token_version=seen))
    assert result.outcome is RenewalOutcome.NOT_DUE and world.oauth.refresh_calls == 1


def test_disconnected_connection_is_skipped() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=4)
    world.oauth.fail_next.append(ReauthorizationRequired("revogado", "invalid_grant"))
    world.refresh()(RefreshTokenCommand(cid))
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.SKIPPED


# -- only a definite refusal disconnects --------------------------------------------------------


def test_a_transient_failure_of_a_forced_renewal_keeps_the_connection_and_its_refresh_token() -> None:
    world, cid = connected_world()
    before = world.uow.read().connections.get(cid)
    world.oauth.fail_next.append(TransientFailure("o servidor de autorização do Tiny está com instabilidade (HTTP 503)"))
    result = world.refresh()(RefreshTokenCommand(cid, force=True, seen_token_version=before.token_version))
    assert result.outcome is RenewalOutcome.RETRY
    assert result.retry_after is not None and result.retry_after > 0 and "503" in result.reason
    after = world.uow.read().connections.get(cid)
    assert after.status is ConnectionStatus.CONNECTED
    assert (after.refresh_token, after.token_version) == (before.refresh_token, before.token_version)
    # The same refresh token still works at Tiny: nothing was spent, nothing lost.
    assert world.box.open(after.refresh_token).value in world.oauth.valid_refresh
    assert world.refresh()(RefreshTokenCommand(cid, force=True, seen_token_version=before.token_version)).outcome \
        is RenewalOutcome.RENEWED


def test_a_token_429_is_waited_out_as_tiny_asks() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=3, minutes=55)
    world.oauth.fail_next.append(RateLimited("o servidor de autorização do Tiny pediu para aguardar", retry_after=120))
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.RETRY and result.retry_after >= 120
    assert world.uow.read().connections.get(cid).status is ConnectionStatus.CONNECTED


# -- tokens Tiny issued are never lost ------------------------------------------------------------


def fail_commits(world, n: int) -> None:  # type: ignore[no-untyped-def]
    world.uow.db.failing_commits = n


def test_a_failed_write_after_tiny_answered_is_retried_and_the_new_tokens_stored() -> None:
    world, cid = connected_world()
    old = world.uow.read().connections.get(cid)
    world.clock.advance(hours=3, minutes=55)
    world.oauth.after_refresh.append(lambda: fail_commits(world, 2))  # the first write and its first retry
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.RENEWED
    assert len(world.slept) == 2 and world.oauth.refresh_calls == 1
    new = world.uow.read().connections.get(cid)
    assert new.token_version == old.token_version + 1
    assert world.box.open(new.refresh_token).value in world.oauth.valid_refresh  # the live one, stored
    assert world.keeper.pending_count() == 0


def test_tokens_the_database_would_not_take_are_kept_and_stored_by_the_next_renewal_without_asking_tiny() -> None:
    world, cid = connected_world()
    old = world.uow.read().connections.get(cid)
    world.clock.advance(hours=3, minutes=55)
    world.oauth.after_refresh.append(lambda: fail_commits(world, 100))  # away for longer than the retries
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.RETRY and result.retry_after is not None
    assert world.keeper.pending_count() == 1
    assert world.uow.read().connections.get(cid).token_version == old.token_version  # nothing written yet
    world.uow.db.failing_commits = 0  # the database is back
    # A forced renewal (a 401 meanwhile) with the version seen before: the kept tokens, not Tiny.
    result = world.refresh()(RefreshTokenCommand(cid, force=True, seen_token_version=old.token_version))
    assert result.outcome is RenewalOutcome.RENEWED
    assert world.oauth.refresh_calls == 1  # the spent refresh token was never sent again
    new = world.uow.read().connections.get(cid)
    assert new.token_version == old.token_version + 1
    assert world.box.open(new.refresh_token).value in world.oauth.valid_refresh
    assert world.keeper.pending_count() == 0


def test_a_401_forced_renewal_whose_write_fails_hands_the_poll_a_transient_failure() -> None:
    world, cid = connected_world()
    tokens = world.tokens_for(cid)
    tokens.access_token()
    world.oauth.after_refresh.append(lambda: fail_commits(world, 100))
    with pytest.raises(TransientFailure):
        tokens.renew()
    world.uow.db.failing_commits = 0
    renewed = tokens.renew()
    assert renewed.value in world.oauth.current_access()
    assert world.oauth.refresh_calls == 1


def test_kept_tokens_are_dropped_when_the_merchant_disconnected_meanwhile() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=3, minutes=55)
    world.oauth.after_refresh.append(lambda: fail_commits(world, 100))
    world.refresh()(RefreshTokenCommand(cid))
    world.uow.db.failing_commits = 0
    with world.uow() as uow:
        uow.connections.get(cid).mark_disconnected("desconectado pelo lojista", world.clock.now())
        uow.commit()
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.SKIPPED
    assert world.keeper.pending_count() == 0
    assert world.uow.read().connections.get(cid).access_token is None


def test_no_renewal_starts_once_the_process_is_stopping() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=3, minutes=55)
    world.keeper.close()
    result = world.refresh()(RefreshTokenCommand(cid))
    assert result.outcome is RenewalOutcome.RETRY and world.oauth.refresh_calls == 0
    assert world.keeper.running == 0 and world.keeper.wait_idle(0)


def test_another_process_leaves_the_refresh_token_alone_while_a_renewal_holds_unstored_tokens() -> None:
    """Process A got new tokens from Tiny but the database refused them; process B (its own
    keeper) sees A's claim on the connection and does not send the spent refresh token."""
    world, cid = connected_world()
    old = world.uow.read().connections.get(cid)
    world.clock.advance(hours=3, minutes=55)
    world.oauth.after_refresh.append(lambda: fail_commits(world, 100))
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RETRY  # A keeps the tokens
    world.uow.db.failing_commits = 0  # the database is back for B first
    other_process = RefreshToken(uow=world.uow, clock=world.clock, secret_box=world.box, oauth=world.oauth,
                                        renewal_margin=timedelta(minutes=10), keeper=TokenKeeper(),
                                        sleep=world.slept.append)  # waits for A's claim, on no real clock
    forced = other_process(RefreshTokenCommand(cid, force=True, seen_token_version=old.token_version))
    assert forced.outcome is RenewalOutcome.RETRY and forced.retry_after is not None
    assert world.oauth.refresh_calls == 1  # B asked Tiny nothing
    assert world.uow.read().connections.get(cid).status is ConnectionStatus.CONNECTED
    # A stores its tokens at its next try; B's next 401 then finds them.
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RENEWED
    assert other_process(RefreshTokenCommand(cid, force=True, seen_token_version=old.token_version)).outcome \
        is RenewalOutcome.NOT_DUE
    stored = world.uow.read().connections.get(cid)
    assert stored.renewal_claimed_by is None and world.box.open(stored.refresh_token).value in world.oauth.valid_refresh


def test_a_claim_left_by_a_crashed_process_expires() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=3, minutes=55)
    with world.uow() as uow:
        uow.connections.get(cid).claim_renewal("crashed", world.clock.now() + timedelta(seconds=90))
        uow.commit()
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RETRY
    world.clock.advance(seconds=91)
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RENEWED
    assert world.uow.read().connections.get(cid).renewal_claimed_by is None


def test_a_worker_that_died_between_the_token_call_and_the_write_leaves_the_tokens_to_the_next_start() -> None:
    world, cid = connected_world()
    old = world.uow.read().connections.get(cid)
    world.clock.advance(hours=3, minutes=55)
    world.oauth.after_refresh.append(lambda: fail_commits(world, 100))
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RETRY
    assert len(world.journal.entries) == 1  # written down before the database was tried
    # The process dies: its memory (the keeper) is gone, the journal on disk is not.
    world.uow.db.failing_commits = 0
    world.keeper = TokenKeeper()
    assert world.refresh().recover() == 1
    new = world.uow.read().connections.get(cid)
    assert new.token_version == old.token_version + 1
    assert world.box.open(new.refresh_token).value in world.oauth.valid_refresh
    assert world.oauth.refresh_calls == 1 and world.journal.entries == {}


def test_a_journal_entry_older_than_the_stored_tokens_is_dropped_at_recovery() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=3, minutes=55)
    world.oauth.after_refresh.append(lambda: fail_commits(world, 100))
    world.refresh()(RefreshTokenCommand(cid))
    stale = next(iter(world.journal.entries.values()))
    world.uow.db.failing_commits = 0
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RENEWED  # stored by this process
    world.journal.record(stale)  # as if the removal had been lost
    version = world.uow.read().connections.get(cid).token_version
    world.keeper = TokenKeeper()
    world.refresh().recover()
    assert world.uow.read().connections.get(cid).token_version == version  # not applied twice
    assert world.journal.entries == {}


def test_every_renewal_clears_its_journal_entry() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=3, minutes=55)
    assert world.refresh()(RefreshTokenCommand(cid)).outcome is RenewalOutcome.RENEWED
    assert world.journal.entries == {}


def test_the_retry_jitter_is_drawn_from_the_injected_generator() -> None:
    world, cid = connected_world()
    world.clock.advance(hours=4, minutes=1)
    world.oauth.fail_next.append(TransientFailure("tempo esgotado"))
    refresh = RefreshToken(uow=world.uow, clock=world.clock, secret_box=world.box, oauth=world.oauth,
                           renewal_margin=MARGIN, sleep=world.slept.append, rng=random.Random(7))
    result = refresh(RefreshTokenCommand(cid))
    # The first failure waits between half and all of 30 s: 15 s plus the jitter's share.
    assert result.next_due_at == world.clock.now() + timedelta(seconds=15) * (1 + random.Random(7).random())
