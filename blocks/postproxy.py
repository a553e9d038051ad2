"""Prefect Block holding Postproxy credentials; builds the official SDK client."""

from __future__ import annotations

from postproxy import PostProxy
from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class PostproxyCredentials(Block):
    """An API key (account-wide or group-scoped) and where to reach Postproxy."""

    _block_type_name = "Postproxy Credentials"
    _description = "API key and base URL for the Postproxy publishing API (or the local sandbox)."

    api_key: SecretStr = Field(description="Postproxy API key (account-wide or profile-group scoped).")
    base_url: str = Field(default="https://api.postproxy.dev", description="Host only; the SDK adds /api.")
    profile_group_id: str | None = Field(default=None, description="Default profile group for every request.")

    def get_client(self) -> PostProxy:
        """A new SDK client; close it (``async with``) when done."""
        return PostProxy(
            self.api_key.get_secret_value(),
            base_url=self.base_url,
            profile_group_id=self.profile_group_id,
        )
