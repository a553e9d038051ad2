"""Serves ``handle-profile-disconnected`` with its event trigger (run as a subprocess by the e2e test)."""

from __future__ import annotations

from prefect.events import DeploymentEventTrigger

from flows.reactions import handle_profile_disconnected

if __name__ == "__main__":
    handle_profile_disconnected.serve(
        name="e2e",
        triggers=[
            DeploymentEventTrigger(
                expect={"postproxy.profile.disconnected"},
                match={"prefect.resource.id": "postproxy.profile.*"},
                parameters={"profile_id": "{{ event.resource.id.split('.')[-1] }}"},
            )
        ],
    )
