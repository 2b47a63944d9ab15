"""Error answers: Portuguese pages for people, JSON for the API, never a stack trace or a secret."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from kanglu.entrypoints.web.api.views import PREFIX, error_response

PAGE_MESSAGES = {
    400: ("Não foi possível processar o pedido", "O formulário expirou ou veio incompleto. Volte, recarregue a página e tente de novo."),
    404: ("Página não encontrada", "O endereço não existe ou não pertence à sua conta."),
    405: ("Ação não permitida", "Esta página não aceita esse tipo de envio."),
    413: ("Envio grande demais", "Os dados enviados passam do limite aceito."),
    500: ("Algo deu errado do nosso lado", "Já registramos o problema. Tente de novo em alguns instantes."),
}
API_ERRORS = {
    400: ("bad_request", "Requisição inválida."),
    404: ("not_found", "Não encontrado."),
    405: ("method_not_allowed", "Método não permitido nesta rota."),
    413: ("payload_too_large", "Corpo da requisição grande demais."),
    415: ("unsupported_media_type", "Envie o corpo como application/json."),
    500: ("internal_error", "Erro interno. Tente de novo em alguns instantes."),
}


def _is_api() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def install(app: Flask) -> None:
    """Unexpected exceptions become an InternalServerError that Flask logs and hands to the
    handler below (in testing mode they propagate to the test instead)."""

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if _is_api():
            error, message = API_ERRORS.get(status, ("error", exc.name))
            response = error_response(status, error, message)
        else:
            title, message = PAGE_MESSAGES.get(status, (exc.name, exc.description or ""))
            if status == 400 and exc.description == "csrf":
                message = "Sua sessão expirou ou o formulário é antigo. Recarregue a página e tente de novo."
            response = app.make_response((render_template("error.html", status=status, title=title, message=message), status))
        # Keep what the exception says about the answer (e.g. Allow on a 405).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

