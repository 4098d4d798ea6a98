"""The catalog names every artefact once: the docs are generated from it, and no other module
spells an artefact's file name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import pytest

from falls_risk import catalog
from falls_risk.errors import WorkspaceError

SRC = Path(catalog.__file__).resolve().parent
ROOT = SRC.parents[1]


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal of a module (f-string pieces included), docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value) for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _spellings() -> set[str]:
    """What a module would write to name an artefact: its file name, and its folder when fixed."""
    out = set()
    for artefact in catalog.ARTEFACTS:
        if isinstance(artefact, catalog.FolderArtefact):
            out.add(artefact.template.split("{")[0].rstrip("/") + "/")
            continue
        if "{" not in artefact.file_name:
            out.add(artefact.file_name)
        if "/" in artefact.template:
            out.add(artefact.template.split("/")[0] + "/")
    return out


def _spelt(spelling: str, text: str) -> bool:
    """``spelling`` as a path in ``text`` (not inside a longer name such as linkage.html.j2)."""
    return re.search(rf"(?<![\w.]){re.escape(spelling)}(?![\w]|\.\w)", text) is not None


def test_no_module_but_the_catalog_spells_an_artefact_file_name():
    spellings = _spellings()
    assert {"ingest_summary.json", "ledger.jsonl", "risk_list.csv", "part-0.parquet", "linked/"} <= spellings
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "catalog.py":
            continue
        for line, text in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            hits = [s for s in spellings if _spelt(s, text)]
            if hits:
                found.append(f"{path.relative_to(SRC)}:{line} {text!r} spells {hits}")
    assert not found, "\n".join(found)


def test_architecture_doc_lists_every_artefact_as_the_catalog_does():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert catalog.artefact_table() in doc, "regenerate the table with falls_risk.catalog.artefact_table()"


def test_every_artefact_has_a_writer_readers_and_a_unique_key_and_path():
    keys = [a.key for a in catalog.ARTEFACTS]
    assert len(keys) == len(set(keys))
    places = [(a.root, a.template) for a in catalog.ARTEFACTS]
    assert len(places) == len(set(places))
    for artefact in catalog.ARTEFACTS:
        assert artefact.writer and artefact.description and artefact.command, artefact.key
        assert artefact is catalog.by_key(artefact.key)


def test_a_table_round_trips_and_a_missing_one_names_the_command(tmp_path):
    frame = pd.DataFrame({"person_key": ["a", "b"], "match_probability": [1.0, 0.95]})
    path = catalog.LINKED.save(tmp_path, frame, source="police_incidents")
    assert path == tmp_path / "linked" / "police_incidents.parquet"
    pd.testing.assert_frame_equal(catalog.LINKED.load(tmp_path, source="police_incidents"), frame)
    with pytest.raises(WorkspaceError, match="Run `falls-risk link --workspace"):
        catalog.LINKED.load(tmp_path, source="ed_attendances")
    with pytest.raises(TypeError, match="needs"):
        catalog.LINKED.path(tmp_path)


def test_a_private_csv_is_readable_by_its_owner_only(tmp_path):
    catalog.RISK_LIST.save(tmp_path, pd.DataFrame({"surname": ["Jones"]}))
    assert (catalog.RISK_LIST.path(tmp_path).stat().st_mode & 0o777) == 0o600
    assert catalog.RISK_LIST.load(tmp_path)["surname"].tolist() == ["Jones"]


def _users() -> dict[str, set[str]]:
    """For each artefact, the modules that name it (``from falls_risk.catalog import X`` or ``catalog.X``)."""
    by_name = {name: artefact.key for name, artefact in vars(catalog).items() if isinstance(artefact, catalog.Artefact)}
    users: dict[str, set[str]] = {key: set() for key in by_name.values()}
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "catalog.py":
            continue
        module = ".".join(("falls_risk", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module == "falls_risk.catalog":
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "catalog":
                names = [node.attr]
            for name in names:
                if name in by_name:
                    users[by_name[name]].add(module)
    return users


def test_the_catalog_says_truly_which_modules_write_and_read_each_artefact():
    """What docs/architecture.md says of writers and readers is what the code does."""
    wrong = []
    for key, modules in _users().items():
        artefact = catalog.by_key(key)
        declared = {m.split()[0] for m in (artefact.writer, *artefact.readers, *artefact.mentioned_by)
                    if m.startswith("falls_risk")}
        if declared != modules:
            wrong.append(f"{key}: declared {sorted(declared)}, used by {sorted(modules)}")
    assert not wrong, "\n".join(wrong)
