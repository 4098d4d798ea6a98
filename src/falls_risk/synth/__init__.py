"""The synthetic multi-agency world: agency extracts with realistic dirt, plus the ground truth."""

from falls_risk.synth.world import generate_world

__all__ = ["generate_world"]
