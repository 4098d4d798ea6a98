"""Headless Chromium for the browser tests: skipped on a developer's machine without it, but a
failure in CI (``CI=true``, set by ``.ci/run``), so a CI machine that cannot install Chromium
never passes with the browser tests quietly skipped."""

from __future__ import annotations

import os
import shutil
from types import ModuleType

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _missing(why: str) -> None:
    if in_ci():
        pytest.fail(f"{why}; CI=true, so the browser tests must run (`make browser` installs Chromium).")
    pytest.skip(why)


def require_browser() -> tuple[ModuleType, str]:
    """Playwright's sync API and the Chromium executable, or skip (fail in CI)."""
    if CHROMIUM is None:
        _missing("chromium is not installed (`make browser` installs it from Debian)")
    try:
        from playwright import sync_api
    except ImportError:
        _missing("the playwright package is not installed (it drives Chromium)")
    return sync_api, CHROMIUM
