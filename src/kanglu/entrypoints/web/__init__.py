"""The merchants' web app and the JSON API (Flask).

Production: `gunicorn 'kanglu.entrypoints.web:create_app()'`; the demo: `kanglu web`.
"""

from kanglu.entrypoints.web.app import create_app

__all__ = ["create_app"]
