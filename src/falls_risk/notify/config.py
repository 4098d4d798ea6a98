"""The notification service's configuration (``falls-risk notify --config C.yaml``).

Unknown keys are an error, as everywhere. Defaults: the flagged tier and the one below it are
notified, for the issue's default events; a person's events within 7 days merge into one
notification; each team receives at most 25 a day, highest risk first (the rest wait, counted).
Only the outbox is on by default: email and webhooks are configured per local authority.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from falls_risk.config import LinkageConfig, StrictModel, load_yaml_model
from falls_risk.events.vocabulary import NOTIFY_RULES
from falls_risk.scoring.tiers import HIGH, MODERATE, TIERS

DEFAULT_EVENTS = tuple(r.name for r in NOTIFY_RULES)


class SmtpConfig(StrictModel):
    host: str
    port: int = Field(25, gt=0, lt=65536)
    sender: str
    starttls: bool = False
    username: str | None = None
    # The password is read from this environment variable, never from the YAML file.
    password_env: str | None = None
    timeout_seconds: float = Field(10.0, gt=0)


class EmailConfig(StrictModel):
    to: list[str] = Field(min_length=1)


class WebhookConfig(StrictModel):
    url: str
    # Header values may name an environment variable as ${NAME} (a token stays out of the YAML).
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"a webhook URL starts with http:// or https://; got {value!r}")
        return value


class TeamConfig(StrictModel):
    email: EmailConfig | None = None
    webhook: WebhookConfig | None = None
    daily_cap: int | None = Field(None, gt=0)


class RetryConfig(StrictModel):
    # A failed channel is tried again on a later run, waiting first_seconds, then twice as long
    # each time, up to max_seconds. Nothing is dropped: it is retried until it goes through.
    first_seconds: float = Field(300.0, ge=0)
    max_seconds: float = Field(6 * 3600.0, ge=0)


class NotifyConfig(StrictModel):
    tiers: list[str] = Field(default_factory=lambda: [HIGH, MODERATE], min_length=1)
    events: list[str] = Field(default_factory=lambda: list(DEFAULT_EVENTS), min_length=1)
    quiet_period_days: int = Field(7, ge=0)
    daily_cap: int = Field(25, gt=0)
    # Records linked below this probability do not notify (the features' threshold).
    min_match_probability: float = Field(0.9, ge=0.0, le=1.0)
    # A person the latest run did not score is notified of a fall from this age (the cohort's).
    min_age: int = Field(65, ge=0)
    # Default: RUNS_DIR/notifications/outbox/<local_authority>/.
    outbox_dir: Path | None = None
    smtp: SmtpConfig | None = None
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    retry: RetryConfig = RetryConfig()
    linkage: LinkageConfig = LinkageConfig()

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in TIERS]
        if unknown:
            raise ValueError(f"unknown tier(s) {unknown}; tiers are {', '.join(TIERS)}")
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e not in DEFAULT_EVENTS]
        if unknown:
            raise ValueError(f"unknown event(s) {unknown}; events are {', '.join(DEFAULT_EVENTS)}")
        return value

    def cap(self, team: str) -> int:
        chosen = self.teams.get(team)
        return chosen.daily_cap if chosen is not None and chosen.daily_cap else self.daily_cap

    def needs_smtp(self) -> list[str]:
        return [t for t, c in self.teams.items() if c.email is not None]


def load_notify_config(path: str | Path | None) -> NotifyConfig:
    if path is None:
        return NotifyConfig()
    config = load_yaml_model(path, NotifyConfig)
    if config.needs_smtp() and config.smtp is None:
        from falls_risk.errors import ConfigError

        raise ConfigError(
            f"{path}: teams {', '.join(config.needs_smtp())} have email set but there is no smtp section; "
            "add smtp: {host: ..., sender: ...} and re-run."
        )
    return config
