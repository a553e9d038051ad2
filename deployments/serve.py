"""Serve every deployment of prefect.yaml from one process (small installations without a worker).

prefect.yaml stays the one source of truth: each entry's name, entrypoint, description, tags, parameters,
schedules and triggers are read from it and handed to ``flow.to_deployment``; nothing here lists flows.
Work-pool and pull-step settings do not apply to served deployments (the serving process runs the flows).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule
from prefect.deployments.runner import RunnerDeployment
from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
from prefect.flows import Flow
from prefect.utilities.templating import apply_values
from pydantic import TypeAdapter

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = REPO_ROOT / "prefect.yaml"

_TRIGGERS: TypeAdapter[DeploymentTriggerTypes] = TypeAdapter(DeploymentTriggerTypes)


class DeploymentSpecError(ValueError):
    """prefect.yaml holds an entry this module cannot turn into a deployment (the message names it)."""


@dataclass(frozen=True)
class DeploymentSpec:
    """One entry of prefect.yaml's ``deployments`` list, as far as serving needs it."""

    name: str
    entrypoint: str
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    triggers: list[dict[str, Any]] = field(default_factory=list)


def read_specs(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    """Every deployment of ``path``; ``{{ $ENV }}`` placeholders are filled as ``prefect deploy`` fills them."""
    document = yaml.safe_load(path.read_text())
    entries = (document or {}).get("deployments") or []
    specs = []
    for index, entry in enumerate(entries):
        triggers = entry.get("triggers") or []
        # Trigger parameters are event templates resolved per event: they must stay untouched.
        entry = apply_values({k: v for k, v in entry.items() if k != "triggers"}, os.environ, remove_notset=False)
        name, entrypoint = entry.get("name"), entry.get("entrypoint")
        if not name or not entrypoint:
            raise DeploymentSpecError(f"{path.name}: deployments[{index}] needs both 'name' and 'entrypoint'")
        specs.append(
            DeploymentSpec(
                name=name,
                entrypoint=entrypoint,
                description=entry.get("description"),
                tags=list(entry.get("tags") or []),
                parameters=dict(entry.get("parameters") or {}),
                schedules=list(entry.get("schedules") or []),
                triggers=[dict(t) for t in triggers],
            )
        )
    return specs


def load_flow(entrypoint: str, root: Path = REPO_ROOT) -> Flow[..., Any]:
    """Import the flow named by a prefect.yaml entrypoint such as ``flows/accounts.py:sync_accounts``."""
    file_part, _, attribute = entrypoint.partition(":")
    module_path = Path(file_part)
    if not attribute or module_path.suffix != ".py":
        raise DeploymentSpecError(f"entrypoint {entrypoint!r}: expected 'path/to/module.py:flow_function'")
    if not (root / module_path).is_file():
        raise DeploymentSpecError(f"entrypoint {entrypoint!r}: {root / module_path} does not exist")
    module = importlib.import_module(".".join(module_path.with_suffix("").parts))
    candidate = getattr(module, attribute, None)
    if not isinstance(candidate, Flow):
        raise DeploymentSpecError(f"entrypoint {entrypoint!r}: {attribute!r} is not a Prefect flow")
    return candidate


def schedule_from_config(config: dict[str, Any], deployment: str) -> DeploymentScheduleCreate:
    """A prefect.yaml schedule (``cron``, ``interval`` in seconds, or ``rrule``, with ``timezone``)."""
    timezone = config.get("timezone")
    if "cron" in config:
        schedule: Any = CronSchedule(cron=config["cron"], **({"timezone": timezone} if timezone else {}))
    elif "interval" in config:
        schedule = IntervalSchedule(interval=config["interval"], **({"timezone": timezone} if timezone else {}))
    elif "rrule" in config:
        schedule = RRuleSchedule(rrule=config["rrule"], **({"timezone": timezone} if timezone else {}))
    else:
        raise DeploymentSpecError(f"deployment {deployment!r}: a schedule needs cron, interval or rrule: {config}")
    return DeploymentScheduleCreate(
        schedule=schedule, active=config.get("active", True), parameters=config.get("parameters") or {}
    )


def triggers_from_config(specs: Sequence[dict[str, Any]], deployment: str) -> list[DeploymentTriggerTypes]:
    """Deployment triggers, named as ``prefect deploy`` names them (``<deployment>__automation_<n>``)."""
    return [
        _TRIGGERS.validate_python({"name": f"{deployment}__automation_{n}", **spec})
        for n, spec in enumerate(specs, start=1)
    ]


def build_deployments(path: Path = PREFECT_YAML, only: Sequence[str] = ()) -> list[RunnerDeployment]:
    """One ``RunnerDeployment`` per prefect.yaml entry (or only the named ones), ready for ``prefect.serve``."""
    specs = read_specs(path)
    unknown = set(only) - {s.name for s in specs}
    if unknown:
        raise DeploymentSpecError(f"not in {path.name}: {', '.join(sorted(unknown))}")
    deployments = []
    for spec in specs:
        if only and spec.name not in only:
            continue
        flow = load_flow(spec.entrypoint, path.parent)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                tags=spec.tags,
                parameters=spec.parameters,
                schedules=[schedule_from_config(c, spec.name) for c in spec.schedules],
                triggers=triggers_from_config(spec.triggers, spec.name),
            )
        )
    return deployments

