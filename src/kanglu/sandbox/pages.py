"""The few HTML pages a merchant's browser sees in the sandbox, in Portuguese like Tiny's."""

from __future__ import annotations

from html import escape

_LAYOUT = """<!doctype html>
<html lang="pt-BR">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Tiny ERP (sandbox)</title>
<link rel="stylesheet" href="/resources/sandbox.css">
<link rel="icon" href="data:,">
</head>
<body>
<main class="card{extra_class}">
<div class="brand">tiny <span>ERP</span><small>sandbox</small></div>
{body}
<p class="note">Ambiente de testes da Kanglu que imita o Tiny ERP. Nada aqui é enviado ao Tiny de verdade.</p>
</main>
</body>
</html>
"""


def _page(title: str, body: str, extra_class: str = "") -> str:
    return _LAYOUT.format(title=escape(title), body=body, extra_class=f" {extra_class}" if extra_class else "")


def consent(app_name: str, account_name: str, ticket: str, action: str) -> str:
    body = f"""<h1>Autorizar acesso</h1>
<p>O aplicativo <strong>{escape(app_name)}</strong> quer acessar a conta
<strong>{escape(account_name)}</strong> no Tiny.</p>
<ul class="scopes">
<li>Consultar pedidos de venda</li>
<li>Consultar notas fiscais e formas de envio</li>
<li>Consultar os dados da empresa</li>
<li>Manter o acesso enquanto o aplicativo estiver instalado</li>
</ul>
<form class="actions" method="post" action="{escape(action)}">
<input type="hidden" name="ticket" value="{escape(ticket)}">
<button type="submit" name="decision" value="deny">Negar</button>
<button type="submit" name="decision" value="accept" class="primary">Autorizar</button>
</form>"""
    return _page("Autorizar acesso", body)


def error(message: str) -> str:
    """Keycloak's error page: the message is shown as Keycloak words it."""
    body = f"""<h1>Desculpe…</h1>
<p>Não foi possível continuar a autorização.</p>
<p class="message">{escape(message)}</p>"""
    return _page("Erro", body, "error")


def invite(app_name: str, account_name: str, api_ready: bool = True) -> str:
    status = "instalado" if api_ready else "aguardando instalação"
    body = f"""<h1>Convite de aplicativo</h1>
<p>Este é o link de convite do aplicativo <strong>{escape(app_name)}</strong>.</p>
<dl>
<dt>Conta</dt><dd>{escape(account_name)}</dd>
<dt>Situação</dt><dd>Aplicativo {status}</dd>
</dl>
<p>No Tiny, este link instala o aplicativo na conta. No sandbox o aplicativo já vem instalado:
volte à Kanglu e clique em <strong>Conectar</strong>.</p>"""
    return _page("Convite de aplicativo", body)


def not_found() -> str:
    return _page("Página não encontrada", "<h1>Página não encontrada</h1><p>O endereço não existe no sandbox.</p>",
                 "error")


def index(accounts: int) -> str:
    body = f"""<h1>Tiny sandbox</h1>
<p>Servidor OAuth em <code>/realms/tiny/protocol/openid-connect</code>, API v3 em <code>/public-api/v3</code>
e API de controle em <code>/_sandbox</code>.</p>
<dl><dt>Contas</dt><dd>{accounts}</dd></dl>"""
    return _page("Tiny sandbox", body)
