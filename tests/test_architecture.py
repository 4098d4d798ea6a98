"""The round's structural decisions, checked on the source: who may import what.

Imports are read with ``ast`` (lazy imports inside functions count too), so a rule holds however
a module reaches the library.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import falls_risk

PACKAGE = Path(falls_risk.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = {p.relative_to(PACKAGE).as_posix(): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _importers(top: str) -> list[str]:
    return [m for m, names in MODULES.items() if any(n == top or n.startswith(top + ".") for n in names)]


def test_the_package_never_imports_test_code() -> None:
    # Test oracles (the plain-Python feature reference, the synthetic feature table) live in tests/.
    assert _importers("tests") == []


@pytest.mark.parametrize(
    ("library", "owners"),
    [
        ("mlflow", ("tracking.py",)),
        ("shap", ("explain.py", "explain/")),
        ("jinja2", ("templating.py",)),
        ("hmac", ("identity.py",)),  # the one keyed hash (person, household and review keys)
    ],
)
def test_a_library_is_imported_by_its_owner_only(library: str, owners: tuple[str, ...]) -> None:
    assert [m for m in _importers(library) if not m.startswith(owners)] == []


def test_nothing_uses_splinks_internal_modules() -> None:
    assert _importers("splink.internals") == []


def test_the_linkage_report_does_not_import_the_pipeline_that_calls_it() -> None:
    assert "falls_risk.linkage.pipeline" not in MODULES["linkage/report.py"]
