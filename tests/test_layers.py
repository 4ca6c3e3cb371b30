"""The packages' layering: dependencies point one way, and only the web face imports Flask."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# What each package may import of the app (besides itself), as its docstring says.
BELOW = {
    "rulelang": set(),
    "offload": set(),
    "store": {"rulelang"},
    "severity": {"rulelang"},
    "routing": {"rulelang"},
    "classifier": {"rulelang"},
    "rulebook": {"rulelang", "severity", "routing"},
    "decide": {"rulelang", "severity", "routing", "classifier", "rulebook"},
    "manage": {"rulelang", "severity", "routing", "classifier", "rulebook", "decide", "store", "offload"},
    "lifecycle": {"rulelang", "severity", "routing", "classifier", "rulebook", "decide", "store", "offload"},
    "web": {"rulelang", "severity", "routing", "classifier", "rulebook", "decide", "manage", "lifecycle", "store", "offload"},
    "bundled": set(),
}
FLASK = ("flask", "flask_smorest", "werkzeug", "webargs")


def imports(source: str) -> list[str]:
    """Every module a source file imports, at any depth (function-level imports count too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module if not node.level else f".{node.module}")
            if node.module == "app":
                found += [f"app.{alias.name}" for alias in node.names]
    return found


def violations(package: str, source: str) -> list[str]:
    """What a module of `package` imports that the layering forbids."""
    wrong = []
    for module in imports(source):
        if module.startswith("."):
            wrong.append(f"relative import {module}: write app.<package>.<module>")
        elif module.split(".")[0] in FLASK:
            wrong.append(f"{module}: only app.web imports Flask")
        elif module.startswith("app."):
            target = module.split(".")[1]
            if target != package and target not in BELOW[package]:
                wrong.append(f"{module}: {package} may import {sorted(BELOW[package]) or 'nothing of the app'}")
    return [w for w in wrong if not (package == "web" and "Flask" in w)]


def modules():
    for path in sorted(APP.glob("*/**/*.py")):
        if "migrations" not in path.parts:
            yield path.relative_to(APP).parts[0], path


@pytest.mark.parametrize(("package", "path"), list(modules()), ids=lambda v: str(v) if isinstance(v, str) else v.name)
def test_a_package_imports_only_what_is_below_it(package, path):
    assert violations(package, path.read_text(encoding="utf-8")) == []


def test_every_package_is_placed_and_says_what_it_owns():
    packages = {p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(BELOW)
    for name in packages:
        assert ast.get_docstring(ast.parse((APP / name / "__init__.py").read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("package", "line", "says"),
    [
        ("routing", "from app.decide.classify import classify_case", "routing may import ['rulelang']"),
        ("severity", "from flask import current_app", "only app.web imports Flask"),
        ("rulebook", "def f():\n    from app.web import errors", "rulebook may import"),
        ("store", "from app import decide", "store may import ['rulelang']"),
        ("decide", "from .cases import Case", "relative import"),
    ],
)
def test_a_forbidden_import_is_caught(package, line, says):
    [problem] = violations(package, line)
    assert says in problem


def test_every_package_is_installed():
    """`pip install .` takes the packages pyproject.toml lists: a new package must be listed there."""
    import tomllib

    listed = set(tomllib.loads((APP.parent / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(path.parent.relative_to(APP.parent).parts) for path in APP.rglob("__init__.py")}
    assert found == listed
