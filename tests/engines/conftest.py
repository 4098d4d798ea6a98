"""The Spark session for the engine tests: one per test run (the JVM takes seconds to start).

Spark's Python side talks to its JVM over loopback TCP (py4j), so every Spark test carries
``SPARK_MARKS``: ``allow_hosts`` keeps pytest-socket's guard on, restricted to loopback (an
``enable_socket`` marker would lift the guard altogether).
"""

from __future__ import annotations

import pytest

LOOPBACK = ["127.0.0.1", "::1", "localhost"]
SPARK_MARKS = [pytest.mark.spark, pytest.mark.slow, pytest.mark.allow_hosts(LOOPBACK)]


@pytest.fixture(scope="session")
def spark():
    from falls_risk.engines.session import spark_session

    return spark_session()


# The scoring parity test scores with the scoring tests' small LightGBM model.
from tests.scoring.conftest import registry_specs, synthetic_model  # noqa: F401
