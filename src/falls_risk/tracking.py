"""MLflow tracking and the model registry. The only module that imports mlflow.

* ``configure(tracking_uri=None)``: local SQLite store by default (``sqlite:///./mlflow.db``,
  artifacts in ``./mlartifacts``); an explicit URI, else ``MLFLOW_TRACKING_URI``, overrides.
  Telemetry is off (``falls_risk/__init__.py``). Browse with
  ``mlflow ui --backend-store-uri sqlite:///mlflow.db`` from the project folder.
* Runs log through ``start_run`` and the ``log_*`` helpers; ``log_model`` logs a pyfunc model
  (``FallsRiskPyfunc``, predicting calibrated probabilities from integer-coded features) with its
  signature and input example, and registers it as ``falls-risk``.
* ``load_model(uri)`` returns a :class:`LoadedModel` holding the unwrapped ``FallsRiskModel``.
* ``set_alias(version, alias, reason)`` promotes a version and records who, when and why.
* ``leaderboard()`` collects every run's test metrics with their intervals.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import joblib
import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from falls_risk.errors import ModelError

REGISTERED_MODEL_NAME = "falls-risk"
DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"
CHAMPION_URI = f"models:/{REGISTERED_MODEL_NAME}@champion"
_MODEL_ARTIFACT = "falls_risk_model"
_REQUIREMENTS = ("lightgbm", "scikit-learn", "pandas", "numpy", "scipy", "joblib", "mlflow")


def _default_uri() -> str:
    return f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def configure(tracking_uri: str | None = None, *, existing: bool = False) -> str:
    """Point MLflow at the tracking store; returns the URI used.

    Precedence: ``tracking_uri`` argument, then ``MLFLOW_TRACKING_URI``, then a SQLite file
    ``mlflow.db`` in the current directory. ``existing=True`` (the commands that only read:
    ``compare``, ``report``, ``score``, ``promote``) refuses a local store that does not exist,
    where MLflow would silently create a new, empty one (a misspelt ``--tracking-uri``).
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or _default_uri()
    if "://" not in uri:
        # A bare path would be MLflow's file store, which has no model registry.
        raise ModelError(
            f"Tracking URI {uri!r} is a path, not a URI. Give a SQLite store such as "
            f"sqlite:///{Path(uri).expanduser().resolve()} (or a tracking server's http(s):// address)."
        )
    if existing:
        _require_existing_store(uri, tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _local_store_path(uri: str) -> Path | None:
    """The file or folder a local store lives in (None for a server, which is not checked)."""
    if uri.startswith("sqlite:///"):
        path = uri.removeprefix("sqlite:///").split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)
    if uri.startswith("file:"):
        return Path(uri.removeprefix("file://").removeprefix("file:"))
    return None


def _require_existing_store(uri: str, given: str | None) -> None:
    path = _local_store_path(uri)
    if path is None or path.exists():
        return
    source = (
        "--tracking-uri" if given else
        "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else
        f"the default store ./{DEFAULT_DB}"
    )
    raise ModelError(
        f"No MLflow tracking store at {path.expanduser().resolve()} ({uri}, from {source}). A command that "
        "reads models and runs never creates a store: check the spelling of the URI, or train a model "
        "into it first (`falls-risk train EXPERIMENT.yaml --tracking-uri ...`)."
    )


def artifact_root(tracking_uri: str | None = None) -> str:
    """Where experiments keep artifacts: ``mlartifacts/`` beside a SQLite store, else cwd."""
    uri = tracking_uri or mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        base = Path(uri.removeprefix("sqlite:///")).parent
    elif uri.startswith("file:"):
        base = Path(uri.removeprefix("file://").removeprefix("file:"))
    else:
        base = Path.cwd()
    return (base / DEFAULT_ARTIFACTS).resolve().as_uri()


def get_or_create_experiment(name: str) -> str:
    """The experiment id for ``name``, created with an explicit artifact location if new."""
    client = MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=f"{artifact_root()}/{name}")


def git_commit() -> dict[str, str]:
    """The project's git commit (read-only look-up) and whether the tree had local changes."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    return {"git_commit": commit, "git_dirty": str(bool(dirty)).lower()}


# -- runs and logging helpers ---------------------------------------------------------------------
@contextlib.contextmanager
def start_run(experiment: str, run_name: str, tags: dict[str, str] | None = None,
              nested: bool = False, started_at: float | None = None,
              description: str | None = None) -> Iterator[str]:
    """Start a run in ``experiment``; yields its run id. ``started_at`` (epoch seconds) backdates
    its start, e.g. to when tuning began, so the run's duration is the whole of the work it
    records; ``description`` is the run's note in the MLflow UI."""
    experiment_id = get_or_create_experiment(experiment)
    all_tags = {**git_commit(), **(tags or {})}
    if description:
        all_tags[NOTE_TAG] = description
    if started_at is None:
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, nested=nested, tags=all_tags) as run:
            yield run.info.run_id
        return
    parent = mlflow.active_run()
    if nested and parent is not None:
        all_tags[PARENT_TAG] = parent.info.run_id
    created = MlflowClient().create_run(experiment_id, start_time=int(started_at * 1000), tags=all_tags,
                                        run_name=run_name)
    with mlflow.start_run(run_id=created.info.run_id, nested=nested) as run:
        yield run.info.run_id


NOTE_TAG = "mlflow.note.content"
PARENT_TAG = "mlflow.parentRunId"


def dataset_from_frame(frame: pd.DataFrame, *, name: str, source: str, targets: str | None = None) -> Any:
    """An MLflow dataset of ``frame`` (its digest, schema and size are logged, never its rows)."""
    from mlflow.data.pandas_dataset import from_pandas

    # MLflow's own hints (source resolution, integer schema, a pandas deprecation) are about its
    # internals, not this data: not for the person reading the training output.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return from_pandas(frame, source=source, name=name, targets=targets)


def log_input(dataset: Any, context: str) -> None:
    """Record that the active run used ``dataset`` (``dataset_from_frame``), e.g. for "training"."""
    mlflow.log_input(dataset, context=context)


def log_trials(trials: list[dict[str, Any]], *, dataset: Any | None, study: str, storage: str,
               objective: str) -> list[str]:
    """Each tuning trial as a child run of the active run: its parameters, its objective value
    (``cv_log_loss``), its state, its real start and end, the dataset it was tuned on
    (``mlflow.log_input``, context "tuning") and a description. Returns the child run ids."""
    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("log_trials needs an active run: the tuning run the trials belong to.")
    client = MlflowClient()
    ids = []
    for trial in trials:
        start = trial.get("start") or time.time()
        note = (f"Optuna trial {trial['number']} of study {study!r} ({trial['state']}); objective: {objective}. "
                f"The study is stored in {storage}: `optuna-dashboard sqlite:///{storage}` shows it.")
        created = client.create_run(
            parent.info.experiment_id, start_time=int(start * 1000), run_name=f"trial {trial['number']}",
            tags={PARENT_TAG: parent.info.run_id, NOTE_TAG: note, "optuna.study": study,
                  "optuna.trial_state": trial["state"]},
        )
        with mlflow.start_run(run_id=created.info.run_id, nested=True):
            mlflow.log_params({k: str(v) for k, v in trial.get("params", {}).items()})
            values = {"cv_log_loss": trial.get("value"), "best_iteration": trial.get("best_iteration"),
                      "trial_number": trial["number"]}
            mlflow.log_metrics({k: float(v) for k, v in values.items() if v is not None})
            if dataset is not None:
                mlflow.log_input(dataset, context="tuning")
        status = "FINISHED" if trial["state"] in ("complete", "pruned") else "FAILED"
        end = trial.get("end") or start
        client.set_terminated(created.info.run_id, status=status, end_time=int(end * 1000))
        ids.append(created.info.run_id)
    return ids


def log_table(frame: pd.DataFrame, artifact_file: str) -> None:
    """Log a table artifact (MLflow's table view: ``artifact_file`` ends in ``.json``)."""
    mlflow.log_table(data=frame, artifact_file=artifact_file)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def log_params(params: dict[str, Any]) -> None:
    """Log (nested) parameters, flattened to dotted names; long values are truncated by MLflow rules."""
    flat = {k: (json.dumps(v) if isinstance(v, list | tuple) else v) for k, v in _flatten(params).items()}
    mlflow.log_params({k: str(v)[:6000] for k, v in flat.items()})


def log_metrics(metrics: dict[str, float]) -> None:
    clean = {k: float(v) for k, v in metrics.items() if v is not None and pd.notna(v)}
    mlflow.log_metrics(clean)


def set_tags(tags: dict[str, Any]) -> None:
    mlflow.set_tags({k: str(v) for k, v in tags.items()})


def log_dict(data: Any, artifact_file: str) -> None:
    mlflow.log_dict(data, artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    mlflow.log_text(text, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    mlflow.log_figure(figure, artifact_file)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    mlflow.log_artifact(str(path), artifact_path)


def log_parquet(frame: pd.DataFrame, artifact_file: str) -> None:
    """Log a DataFrame as a Parquet artifact (e.g. test-set predictions)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        frame.to_parquet(path, index=False)
        parent = str(Path(artifact_file).parent)
        mlflow.log_artifact(str(path), None if parent == "." else parent)


# -- the model -------------------------------------------------------------------------------------
class FallsRiskPyfunc(mlflow.pyfunc.PythonModel):
    """Serves a ``FallsRiskModel``: input = integer-coded feature columns, output = calibrated probability."""

    def load_context(self, context: Any) -> None:
        self.model = joblib.load(context.artifacts[_MODEL_ARTIFACT])

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict_proba(pd.DataFrame(model_input))


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence MLflow's INFO/WARNING chatter (e.g. the cloudpickle notice) for one call."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _pip_requirements() -> list[str]:
    reqs = []
    for package in _REQUIREMENTS:
        try:
            reqs.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            reqs.append(package)
    return reqs


def log_model(model: Any, example: pd.DataFrame, register: bool = True) -> dict[str, Any]:
    """Log ``model`` (a fitted FallsRiskModel) as pyfunc ``model`` in the active run.

    ``example`` holds a few rows of features; its model columns become the input example.
    Returns ``{"model_uri", "version"}`` (version None when not registered).
    """
    columns = list(model.feature_names_)
    example = example.loc[:, columns].astype("float64").head(5).reset_index(drop=True)
    signature = infer_signature(example, model.predict_proba(example))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "falls_risk_model.joblib"
        joblib.dump(model, path)
        with warnings.catch_warnings(), _quiet("mlflow.pyfunc", "mlflow.models.model"):
            warnings.simplefilter("ignore")  # MLflow's own notices about environment inference
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=FallsRiskPyfunc(),
                artifacts={_MODEL_ARTIFACT: str(path)},
                signature=signature,
                input_example=example,
                pip_requirements=_pip_requirements(),
                registered_model_name=REGISTERED_MODEL_NAME if register else None,
            )
    return {"model_uri": info.model_uri, "version": info.registered_model_version}


@dataclass
class LoadedModel:
    model: Any  # FallsRiskModel
    name: str | None
    version: str | None
    run_id: str | None
    uri: str


def _ensure_configured() -> None:
    if not mlflow.is_tracking_uri_set():
        configure()


def _resolve(uri: str) -> tuple[str | None, str | None, str | None]:
    _ensure_configured()
    client = MlflowClient()
    if uri.startswith("models:/"):
        rest = uri.removeprefix("models:/")
        try:
            if "@" in rest:
                name, alias = rest.split("@", 1)
                mv = client.get_model_version_by_alias(name, alias)
            else:
                name, ver = rest.split("/", 1)
                mv = client.get_model_version(name, ver)
        except (MlflowException, ValueError) as exc:
            raise ModelError(
                f"No model at {uri} in {mlflow.get_tracking_uri()} ({exc.__class__.__name__}). Train one with "
                "`falls-risk train experiments/lightgbm_optuna.yaml`, then `falls-risk promote VERSION "
                "--alias champion --reason ...`, or pass another model URI."
            ) from None
        return mv.name, str(mv.version), mv.run_id
    if uri.startswith("runs:/"):
        return None, None, uri.removeprefix("runs:/").split("/", 1)[0]
    return None, None, None


def load_model(uri: str = CHAMPION_URI) -> LoadedModel:
    """Load a logged model and unwrap it to the FallsRiskModel.

    Uses the store set by ``configure`` (the default store if it was never called).
    """
    name, ver, run_id = _resolve(uri)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pyfunc = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise ModelError(f"Could not load model {uri} from {mlflow.get_tracking_uri()}: {exc}") from None
    wrapper = pyfunc.unwrap_python_model()
    if run_id is None:
        run_id = pyfunc.metadata.run_id
    return LoadedModel(model=wrapper.model, name=name, version=ver, run_id=run_id, uri=uri)


def set_alias(version: str | int, alias: str, reason: str, user: str | None = None,
              name: str = REGISTERED_MODEL_NAME) -> dict[str, str]:
    """Point ``alias`` at ``version`` and record who, when and why (version tags + history)."""
    if not reason or not reason.strip():
        raise ModelError("A promotion needs a reason: pass --reason \"...\" (it is recorded).")
    _ensure_configured()
    client = MlflowClient()
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException:
        known = [m.version for m in client.search_model_versions(f"name='{name}'")]
        raise ModelError(
            f"Model {name!r} has no version {version}. Registered versions: {sorted(known, key=int)[-10:]}."
        ) from None
    try:
        previous = client.get_model_version_by_alias(name, alias).version
    except MlflowException:
        previous = None
    record = {
        "alias": alias,
        "version": str(mv.version),
        "previous_version": str(previous) if previous else "",
        "by": user or os.environ.get("FALLS_RISK_USER") or getpass.getuser(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reason": reason.strip(),
    }
    try:
        client.set_registered_model_alias(name, alias, str(mv.version))
    except MlflowException as exc:
        raise ModelError(
            f"MLflow refused the alias {alias!r}: {exc.message.splitlines()[0]} Choose another name, "
            "e.g. champion or challenger (letters, digits, - and _; not latest, not v followed by digits)."
        ) from None
    for key in ("by", "at", "reason"):
        client.set_model_version_tag(name, str(mv.version), f"alias.{alias}.{key}", record[key])
    model = client.get_registered_model(name)
    history = json.loads(model.tags.get("alias_history", "[]"))
    history.append(record)
    while len(json.dumps(history)) > 4500:
        history.pop(0)
    client.set_registered_model_tag(name, "alias_history", json.dumps(history))
    return record


def alias_history(name: str = REGISTERED_MODEL_NAME) -> list[dict[str, str]]:
    return json.loads(MlflowClient().get_registered_model(name).tags.get("alias_history", "[]"))


def latest_version(name: str = REGISTERED_MODEL_NAME) -> str:
    """The newest registered version of ``name``; a clear error when nothing is registered."""
    _ensure_configured()
    versions = MlflowClient().search_model_versions(f"name = '{name}'")
    if not versions:
        raise ModelError(
            f"No registered model {name!r} in {mlflow.get_tracking_uri()}. Train one with "
            "`falls-risk train experiments/lightgbm_optuna.yaml`."
        )
    return str(max(int(v.version) for v in versions))


def download_artifact(run_id: str, path: str, dst: str | Path) -> Path:
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(dst)))


def leaderboard(metrics: list[str], experiments: list[str] | None = None) -> pd.DataFrame:
    """One row per finished run that logged ``test_auroc``: model, version, metrics and intervals."""
    client = MlflowClient()
    if experiments:
        exps = [e for e in (client.get_experiment_by_name(n) for n in experiments) if e is not None]
    else:
        exps = client.search_experiments()
    if not exps:
        return pd.DataFrame()
    runs = mlflow.search_runs(
        experiment_ids=[e.experiment_id for e in exps],
        filter_string="attributes.status = 'FINISHED' and metrics.test_auroc > 0",
        output_format="pandas",
    )
    if runs.empty:
        return runs
    exp_names = {e.experiment_id: e.name for e in exps}
    out = pd.DataFrame({
        "experiment": runs["experiment_id"].map(exp_names),
        "run_name": runs.get("tags.mlflow.runName"),
        "model_kind": runs.get("params.model.kind"),
        "version": runs.get("tags.registered_version"),
        "run_id": runs["run_id"],
        "start_time": runs["start_time"],
    })
    for metric in metrics:
        for suffix in ("", "_ci_low", "_ci_high"):
            col = f"metrics.{metric}{suffix}"
            out[f"{metric}{suffix}"] = runs[col] if col in runs else float("nan")
    return out.sort_values(metrics[0] if metrics else "start_time", ascending=False).reset_index(drop=True)


def run_data(run_id: str) -> dict[str, Any]:
    """A run's record as plain data: ``metrics``, ``params``, ``tags`` and ``start_time`` (ISO)
    (for the commissioners' report; added by the explain/report stage)."""
    try:
        run = MlflowClient().get_run(run_id)
    except MlflowException as exc:
        raise ModelError(f"Run {run_id} is not in {mlflow.get_tracking_uri()}: {exc.message}") from None
    started = datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC).isoformat(timespec="seconds")
    return {
        "metrics": dict(run.data.metrics),
        "params": dict(run.data.params),
        "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
        "start_time": started,
    }


# -- realised performance (falls-risk monitor) -----------------------------------------------------
REALISED_PREFIX = "realised_"


def load_run_json(run_id: str, artifact_file: str) -> Any:
    """A JSON artifact of a run (e.g. the training record), as plain data."""
    _ensure_configured()
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{artifact_file}")
    except (MlflowException, OSError) as exc:
        raise ModelError(
            f"Run {run_id} in {mlflow.get_tracking_uri()} has no {artifact_file} ({exc.__class__.__name__}). Monitor "
            "with the tracking store the scored model was registered in (--tracking-uri)."
        ) from None


def log_realised(run_id: str, version: str | None, month: str, metrics: dict[str, float | None],
                 name: str = REGISTERED_MODEL_NAME) -> None:
    """Log one scored month's realised metrics to the model's training run (``realised_<metric>``,
    step = YYYYMM, so the latest month is the run's current value and the history is the metric's)
    and, when the version is known, as a tag ``realised.<month>`` on the model version."""
    _ensure_configured()
    client = MlflowClient()
    step = int(month.replace("-", ""))
    clean = {k: float(v) for k, v in metrics.items() if v is not None and pd.notna(v)}
    for key, value in clean.items():
        client.log_metric(run_id, f"{REALISED_PREFIX}{key}", value, step=step)
    if version is not None:
        client.set_model_version_tag(name, str(version), f"realised.{month}", json.dumps(clean, sort_keys=True))


def realised_history(run_id: str, metric: str) -> list[tuple[int, float]]:
    """(step, value) of every month logged for ``realised_<metric>``, oldest first."""
    _ensure_configured()
    history = MlflowClient().get_metric_history(run_id, f"{REALISED_PREFIX}{metric}")
    return sorted((m.step, m.value) for m in history)
