"""`postpipe serve` builds its deployments from prefect.yaml: same names, parameters, schedules and triggers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from deployments.serve import DeploymentSpecError, build_deployments, read_specs


def test_served_deployments_mirror_prefect_yaml() -> None:
    specs = {s.name: s for s in read_specs()}
    served = {d.name: d for d in build_deployments()}
    assert served.keys() == specs.keys()
    for name, spec in specs.items():
        deployment = served[name]
        assert deployment.entrypoint is not None and deployment.entrypoint.endswith(spec.entrypoint)
        assert deployment.parameters == spec.parameters, name
        assert deployment.description == spec.description, name
        assert sorted(deployment.tags) == sorted(spec.tags), name
        assert set(spec.parameters) <= set(deployment._parameter_openapi_schema.properties), name
        got = [s.schedule for s in deployment.schedules]
        assert len(got) == len(spec.schedules), name
        for schedule, config in zip(got, spec.schedules, strict=True):
            if "cron" in config:
                assert schedule.cron == config["cron"]
            else:
                assert schedule.interval == timedelta(seconds=config["interval"])
            assert schedule.timezone == config.get("timezone", "UTC")
        assert len(deployment.triggers) == len(spec.triggers), name
        for n, (trigger, config) in enumerate(zip(deployment.triggers, spec.triggers, strict=True), start=1):
            assert trigger.name == f"{name}__automation_{n}"
            assert trigger.expect == set(config["expect"])
            assert trigger.parameters == config["parameters"]  # event templates stay unrendered


def test_an_entry_without_entrypoint_is_refused_by_name(tmp_path: Path) -> None:
    broken = tmp_path / "prefect.yaml"
    broken.write_text("deployments:\n  - name: lonely\n")
    with pytest.raises(DeploymentSpecError, match=r"deployments\[0\] needs both 'name' and 'entrypoint'"):
        read_specs(broken)


def test_only_unknown_names_are_refused() -> None:
    with pytest.raises(DeploymentSpecError, match="not in prefect.yaml: no-such-flow"):
        build_deployments(only=["no-such-flow"])
