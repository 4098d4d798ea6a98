"""What the linkage report needs to draw Vega-Lite charts offline: the Vega runtime and the specs
as JSON that is safe inside a ``<script>`` element.

The runtime (Vega, Vega-Lite, vega-embed) is the copy that Splink ships for its own offline
charts (``SplinkChart.to_html(inline=True)``), so the report never fetches a script and the
libraries always match the version of Splink's chart specs. Splink has no public function that
returns the libraries alone (its ``html_utils`` module is internal), so they are read here as
package data; if a Splink upgrade moves them, :func:`vega_libraries` says so by name.
"""

from __future__ import annotations

import importlib.resources
import json
from typing import Any

from falls_risk.errors import LinkageError

LIBRARIES = ("vega", "vega-lite", "vega-embed")
# Where Splink keeps the runtime it inlines into offline charts: files named ``<library>@<version>``.
SPLINK_RUNTIME = ("internals", "files", "external_js")


def vega_libraries() -> dict[str, str]:
    """The JavaScript source of each of :data:`LIBRARIES`, as shipped inside Splink."""
    folder = importlib.resources.files("splink").joinpath(*SPLINK_RUNTIME)
    names = sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []
    out: dict[str, str] = {}
    for library in LIBRARIES:
        found = [n for n in names if n.startswith(f"{library}@")]
        if len(found) != 1:
            raise LinkageError(
                f"Splink's package has {len(found)} copies of {library} in {'/'.join(SPLINK_RUNTIME)} "
                f"(expected one, named {library}@<version>): the installed Splink does not match the one "
                "in requirements.lock. Run `make setup`."
            )
        out[library] = folder.joinpath(found[0]).read_text(encoding="utf-8")
    return out


def script_json(value: Any) -> str:
    """``value`` as JSON that cannot end a ``<script>`` element or open an HTML tag or entity.

    ``<``, ``>`` and ``&`` are written as JSON escapes, which JavaScript reads back as the same
    characters.
    """
    return json.dumps(value).replace("<", r"\u003c").replace(">", r"\u003e").replace("&", r"\u0026")
