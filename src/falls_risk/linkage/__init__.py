"""Record linkage: NHS-number rules, a Splink model, pseudonymisation, QA report, evaluation.

``run_linkage`` reads ``WS/ingested`` and writes ``WS/linked`` (no direct identifiers from here
on), ``WS/linkage/model.json`` and ``WS/reports/linkage.html`` + ``clerical_review.csv``.
``evaluate_linkage`` scores the links against a synthetic world's ground truth.
"""

from falls_risk.linkage.evaluate import evaluate_linkage
from falls_risk.linkage.pipeline import run_linkage
from falls_risk.linkage.secret import DEFAULT_KEY_FILE, SECRET_ENV, create_secret_file, load_secret
from falls_risk.linkage.summary import LinkageSummary

__all__ = [
    "DEFAULT_KEY_FILE",
    "SECRET_ENV",
    "LinkageSummary",
    "create_secret_file",
    "evaluate_linkage",
    "load_secret",
    "run_linkage",
]
