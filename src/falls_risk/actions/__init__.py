"""What teams did after a person was listed: import (validated, pseudonymised), ledger, summary.

``import_actions`` reads a team's actions file like an extract and appends it to the actions
ledger beside the run ledger; ``actions_summary`` counts per month and team listed vs acted on;
``last_contacts`` gives each person's last recorded action for the worklist and notifications.
"""

from falls_risk.actions.importer import ActionsImport, import_actions
from falls_risk.actions.ledger import read_actions
from falls_risk.actions.summary import actions_summary, last_contacts
from falls_risk.actions.validate import ACTED_ON, ACTIONS

__all__ = ["ACTED_ON", "ACTIONS", "ActionsImport", "actions_summary", "import_actions", "last_contacts",
           "read_actions"]
