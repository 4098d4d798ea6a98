"""Monthly scoring: tiers sized by capacity, reasons, changes, alerts, drift, manifest and ledger.

``run_scoring`` is the monthly command; ``score_people`` the library call that returns
probability, tier and reasons together. The parts are small modules: ``tiers``, ``drift``,
``changes`` (entrants, leavers, risers), ``alerts``, ``ledger``, ``manifest``, ``safety``,
``outputs`` (the practitioner list), ``summary`` and ``run``.
"""

from falls_risk.scoring.ledger import read_ledger, runs_for_month, verify_ledger
from falls_risk.scoring.run import DEFAULT_MODEL_URI, ScoringResult, print_result, run_scoring
from falls_risk.scoring.score import ScoredPopulation, score_people
from falls_risk.scoring.tiers import TierPolicy, assign_tiers

__all__ = [
    "DEFAULT_MODEL_URI",
    "ScoredPopulation",
    "ScoringResult",
    "TierPolicy",
    "assign_tiers",
    "print_result",
    "read_ledger",
    "run_scoring",
    "runs_for_month",
    "score_people",
    "verify_ledger",
]
