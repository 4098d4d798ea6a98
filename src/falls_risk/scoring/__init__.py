"""Monthly scoring: tiers sized by capacity, reasons, changes, alerts, drift, manifest and ledger.

``run_scoring(ScoringRequest(...))`` is the monthly command, a list of stage calls: ``safety``
checks, ``work`` (the working folder), ``month`` (ingest, link, events, features), ``score``
(tiers, then explanations), ``since_last_run`` (alerts, tier changes, risers), ``risers``,
``outputs`` (the practitioner list), ``run_folder`` (writing), ``manifest`` and ``ledger``.
"""

from falls_risk.scoring.ledger import read_ledger, runs_for_month, verify_ledger
from falls_risk.scoring.request import DEFAULT_MODEL_URI, ScoringRequest
from falls_risk.scoring.run import ScoringResult, print_result, run_scoring
from falls_risk.scoring.score import ScoredPopulation, explain_people, score_people, tier_population
from falls_risk.scoring.tiers import TierPolicy, assign_tiers

__all__ = [
    "DEFAULT_MODEL_URI",
    "ScoredPopulation",
    "ScoringRequest",
    "ScoringResult",
    "TierPolicy",
    "assign_tiers",
    "explain_people",
    "print_result",
    "read_ledger",
    "run_scoring",
    "runs_for_month",
    "score_people",
    "tier_population",
    "verify_ledger",
]
