"""The one settings class of postpipe: every knob comes from here (env prefix ``POSTPIPE_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. Nothing else in postpipe reads ``os.environ``."""

    model_config = SettingsConfigDict(env_prefix="POSTPIPE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///postpipe.db",
        description="SQLAlchemy URL. Embedded default: a SQLite file in the working directory; "
        "production and tests: postgresql+psycopg://user@host/db",
    )
    app_role: str = Field(
        default="postpipe_app",
        description="Non-superuser PostgreSQL role that runtime sessions switch to (SET LOCAL ROLE), "
        "so that row-level security applies even when the connection logs in as the owner.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key (urlsafe base64, 32 bytes) that encrypts scoped API keys and webhook secrets. "
        "Unset: a key file is created next to the embedded database (demo only).",
    )
    previous_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Older Fernet keys still accepted for decryption during key rotation.",
    )
    data_dir: Path = Field(default=Path(".postpipe"), description="Where the embedded defaults keep files.")

    postproxy_base_url: str = Field(default="https://api.postproxy.dev")
    postproxy_api_key: SecretStr | None = Field(
        default=None, description="Account-wide Postproxy key (prefer the PostproxyCredentials block in production)."
    )
    postproxy_credentials_block: str = Field(
        default="postproxy-account", description="Name of the PostproxyCredentials block holding the account-wide key."
    )

    postproxy_retry_attempts: int = Field(default=5, ge=1, description="Attempts per Postproxy call on 429/5xx.")
    postproxy_retry_base_delay: float = Field(
        default=0.5, ge=0, description="First backoff delay in seconds for 5xx/connection errors (doubles each time)."
    )

    approval_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often a paused approval run checks whether a reviewer has decided."
    )
    approval_wait: str = Field(
        default="auto",
        pattern="^(auto|pause|suspend)$",
        description="How approval runs wait: suspend (frees the worker; needs a deployment), pause (keeps the "
        "process), or auto (suspend when the run belongs to a deployment).",
    )
    delivery_confirm_seconds: float = Field(default=600.0, gt=0, description="How long publishing waits for outcomes.")
    delivery_poll_seconds: float = Field(default=3.0, gt=0, description="Fallback polling interval while confirming.")

    webhook_public_url: str | None = Field(
        default=None, description="Public HTTPS URL of the receiver's /webhooks/postproxy endpoint, given to Postproxy."
    )
    webhook_tolerance_seconds: int = Field(default=300, ge=1)

    def data_path(self, name: str) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir / name


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget the cached settings (tests and the demo change the environment)."""
    get_settings.cache_clear()
