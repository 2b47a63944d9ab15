"""The hexagon's dependency rule: the core imports no framework and no adapter."""

import ast
import pathlib
import shutil
import subprocess
import sys

import kanglu

SRC = pathlib.Path(kanglu.__file__).parent
FORBIDDEN = ("sqlalchemy", "flask", "httpx", "dependency_injector", "psycopg", "requests", "werkzeug",
             "alembic", "structlog", "prometheus_client", "cryptography", "itsdangerous", "kanglu.adapters",
             "kanglu.entrypoints", "kanglu.sandbox")


def imported_modules(path: pathlib.Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_domain_and_application_import_no_framework_or_adapter() -> None:
    breaches = []
    for layer, extra in (("domain", ("kanglu.application",)), ("application", ())):
        for path in (SRC / layer).rglob("*.py"):
            for line, name in imported_modules(path):
                if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN + extra):
                    breaches.append(f"{path.relative_to(SRC)}:{line} imports {name}")
    assert breaches == []


def test_import_linter_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(pathlib.Path(sys.executable).parent))
    assert lint, "import-linter is a dev dependency"
    result = subprocess.run([lint], capture_output=True, text=True, cwd=SRC.parent.parent)
    assert result.returncode == 0, result.stdout + result.stderr
