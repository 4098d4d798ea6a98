"""falls-risk: find older people at high risk of a fall-related emergency admission."""

import os

# Must be set before lightgbm or mlflow are imported anywhere in the process:
# on 2 shared cores, busy-waiting OpenMP threads collapse throughput, and
# nothing in this project may call the network (MLflow telemetry would).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

__version__ = "0.1.0"

# PySpark 4 warns on import that it "does not yet fully support pandas >= 3.0.0"; pandera imports
# it whenever it is installed. What this project asks of PySpark (Arrow conversion, mapInPandas)
# is covered by the Spark spec and parity tests in tests/engines, so the warning is noise.
import warnings as _warnings

_warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
