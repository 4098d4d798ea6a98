"""One Jinja2 environment renders every HTML page; its templates ship with the package."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import pytest

import falls_risk
from falls_risk.templating import TEMPLATE_DIR, environment

PACKAGE = Path(falls_risk.__file__).resolve().parent
PYPROJECT = PACKAGE.parents[1] / "pyproject.toml"


def test_every_template_compiles_in_the_one_environment() -> None:
    names = sorted(p.name for p in TEMPLATE_DIR.glob("*.j2"))
    assert {"linkage.html.j2", "model_report.html.j2", "scoring_summary.html.j2"} <= set(names)
    for name in names:
        environment().get_template(name)


def test_package_data_ships_every_data_file_of_the_package() -> None:
    # A template missing from package-data works in the checkout and fails once installed.
    globs = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]["falls_risk"]
    data = [p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in (".j2", ".csv", ".json", ".yaml")]
    assert data
    unshipped = [p for p in data if not any(p.relative_to(PACKAGE).match(g) for g in globs)]
    assert not unshipped, f"add these to [tool.setuptools.package-data] in pyproject.toml: {unshipped}"


def test_only_the_templating_module_builds_a_jinja_environment() -> None:
    builders = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if re.search(r"jinja2\.Environment\(|\bEnvironment\(", p.read_text(encoding="utf-8"))
    ]
    assert builders == ["templating.py"]


@pytest.mark.parametrize(
    ("template", "value", "shown"),
    [
        ("{{ v | pct }}", 0.1234, "12.3%"),
        ("{{ v | pct(0) }}", 0.5, "50%"),
        ("{{ v | num }}", 12345.678, "12,345.68"),
        ("{{ v | num(0) }}", 3.4, "3"),
        ("{{ v | signed }}", 0.01, "+0.010"),
        ("{{ v | pct }}", None, "–"),
        ("{{ v | num }}", math.nan, "–"),
        ("{{ v | pct }}", "<5", "&lt;5"),  # already formatted: passed through (and escaped)
    ],
)
def test_number_filters(template: str, value: object, shown: str) -> None:
    assert environment().from_string(template).render(v=value) == shown
