"""Which registry features play which role: age, sex, area, fall history, deficits.

Baselines and subgroup checks need to know, e.g., which column is age. The names come from the
experiment (``features:`` section) when given, otherwise from the registry by convention: a
feature named ``age`` / ``sex`` / containing ``wimd`` / ``local_authority``; fall evidence = any
feature counting a code of the events vocabulary's ``fall`` family (or named for falls);
deficits = the inputs of the registry's eFI-style sum (else every binary feature).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from falls_risk.errors import ConfigError
from falls_risk.events import vocabulary
from falls_risk.features.spec import FeatureSpec

_PATTERNS = {
    "age": r"^age(_years)?$|^age",
    "sex": r"^sex(_code)?$|^sex",
    "wimd_quintile": r"wimd",
    "local_authority": r"local_authority|^la_",
}


def default_specs() -> tuple[FeatureSpec, ...]:
    from falls_risk.features.registry import FEATURES

    return tuple(FEATURES)


def default_registry_version() -> str:
    from falls_risk.features.registry import REGISTRY_VERSION

    return str(REGISTRY_VERSION)


def _find(specs: Sequence[FeatureSpec], pattern: str) -> str | None:
    names = [s.name for s in specs]
    exact = [n for n in names if re.fullmatch(pattern.split("|")[0], n)]
    if exact:
        return exact[0]
    hits = [n for n in names if re.search(pattern, n)]
    return hits[0] if hits else None


def _is_fall_evidence(spec: FeatureSpec) -> bool:
    counts_falls = any(vocabulary.in_family(code, vocabulary.FALL) for code in spec.codes)
    return counts_falls or ("fall" in spec.name and spec.kind != "categorical")


def resolve_roles(specs: Sequence[FeatureSpec], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Map each role to feature name(s); explicit ``overrides`` must name real features."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    names = {s.name for s in specs}
    for role, value in overrides.items():
        wanted = value if isinstance(value, list | tuple) else [value]
        unknown = [v for v in wanted if v not in names]
        if unknown:
            raise ConfigError(
                f"features.{role} names {unknown}, which the feature registry does not have. "
                f"Known features include: {sorted(names)[:12]}."
            )
    roles: dict[str, Any] = {role: _find(specs, pat) for role, pat in _PATTERNS.items()}
    roles["falls"] = [s.name for s in specs if _is_fall_evidence(s)]
    taken = {roles[r] for r in _PATTERNS}
    efi = [s for s in specs if s.aggregation == "sum_of" and "efi" in s.name and s.inputs]
    roles["deficits"] = (
        list(efi[0].inputs) if efi else [s.name for s in specs if s.kind == "binary" and s.name not in taken]
    )
    roles.update({k: list(v) if isinstance(v, list | tuple) else v for k, v in overrides.items()})
    return roles
