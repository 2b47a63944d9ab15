"""The application's per-module read permissions: a module without one answers 403, as Tiny does."""

from __future__ import annotations

import jsonschema

from tests.contract.conftest import SCHEMAS, api_client, new_account

MODULE_PATHS = {
    "pedidos": ("/pedidos", "/pedidos/{order}"),
    "notas_fiscais": ("/notas", "/notas/{nota}"),
    "formas_envio": ("/formas-envio", "/formas-envio/{forma}"),
    "info_conta": ("/info",),
}


def test_every_permission_is_on_by_default(http, sandbox) -> None:
    account = new_account(sandbox, orders=3)
    answer = http.get(f"{sandbox.base_url}/_sandbox/accounts/{account.id}/permissions").json()
    assert answer["permissions"] == dict.fromkeys(MODULE_PATHS, True)
    assert http.get(f"{sandbox.base_url}/_sandbox/accounts/{account.id}").json()["permissions"] == answer["permissions"]


def test_a_permission_turned_off_answers_403_on_that_module_only(http, sandbox) -> None:
    account = new_account(sandbox, orders=30)
    order = next(o for o in account.dataset.orders if o.invoice is not None and o.forma is not None)
    ids = {"order": order.id, "nota": order.invoice.id, "forma": order.forma.id}
    control = f"{sandbox.base_url}/_sandbox/accounts/{account.id}/permissions"
    with api_client(sandbox, account) as api:
        for module, paths in MODULE_PATHS.items():
            assert http.patch(control, json={module: False}).json()["permissions"][module] is False
            for other, other_paths in MODULE_PATHS.items():
                for path in other_paths:
                    answer = api.get(path.format(**ids))
                    if other == module:
                        assert answer.status_code == 403, path
                        jsonschema.validate(answer.json(), SCHEMAS["erro"])
                        assert answer.json()["mensagem"]
                    else:
                        assert answer.status_code == 200, path
            assert http.patch(control, json={module: True}).status_code == 200
            assert api.get(paths[0].format(**ids)).status_code == 200  # ticked again: served at once
    assert account.counters.get("api", "GET /notas", "403") == 1


def test_permissions_are_set_at_creation_and_refuse_nonsense(http, sandbox) -> None:
    created = http.post(f"{sandbox.base_url}/_sandbox/accounts",
                        json={"orders": 2, "rate_limit": 0, "permissions": {"notas_fiscais": False}}).json()
    account = sandbox.state.account(created["account_id"])
    assert account.permissions["notas_fiscais"] is False and account.permissions["pedidos"] is True
    control = f"{sandbox.base_url}/_sandbox/accounts/{account.id}/permissions"
    assert http.patch(control, json={"estoque": False}).status_code == 400
    assert http.patch(control, json={"pedidos": "no"}).status_code == 400


def test_permissions_survive_the_state_file(tmp_path) -> None:
    from kanglu.sandbox import SandboxServer
    from kanglu.sandbox.clock import SandboxClock

    path = tmp_path / "state.json"
    with SandboxServer(orders=3, clock=SandboxClock(start=1_790_000_000), state_file=path) as first:
        first.default_account.set_permissions({"formas_envio": False})
    with SandboxServer(orders=3, clock=SandboxClock(start=1_790_000_000), state_file=path) as again:
        assert again.default_account.permissions["formas_envio"] is False
