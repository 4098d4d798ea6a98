"""The notification service: tell the right team within a day when someone at risk has an event.

See ``docs/notify.md``. ``run_notify(NotifyRequest)`` is what ``falls-risk notify`` calls.
"""

from falls_risk.notify.config import NotifyConfig, load_notify_config
from falls_risk.notify.run import NotifyRequest, NotifyResult, run_notify

__all__ = ["NotifyConfig", "NotifyRequest", "NotifyResult", "load_notify_config", "run_notify"]
