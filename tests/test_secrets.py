"""Scoped API keys and webhook secrets are encrypted at rest and never shown."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text

from postpipe import crypto
from postpipe.db import owner_session, system_scope
from postpipe.repositories import tenants
from postpipe.settings import Settings

TOKEN = "pp_live_scoped_key_that_must_never_leak_123"


def _tenant(session) -> tenants.TenantInfo:
    return tenants.upsert_tenant(session, slug="acme", name="Acme", time_zone="UTC", plan_id="starter")


def test_api_key_column_holds_no_plaintext_and_decrypts(any_db: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with system_scope("test") as s:
        t = _tenant(s)
        tenants.set_api_key(s, t.id, key_id="key_1", token=SecretStr(TOKEN))
    with owner_session() as s:
        raw = s.execute(text("select api_key_encrypted from tenants")).scalar_one()
    assert TOKEN not in raw and raw.startswith("gAAAA")  # a Fernet token
    with system_scope("test") as s:
        key = tenants.api_key(s, t.id)
        assert key.get_secret_value() == TOKEN
        assert TOKEN not in repr(key) and TOKEN not in str(key)
        assert TOKEN not in repr(tenants.get(s, t.id))
    assert TOKEN not in caplog.text


def test_wrong_key_fails_with_a_clear_error_that_leaks_nothing(any_db: str) -> None:
    with system_scope("test") as s:
        t = _tenant(s)
        tenants.set_api_key(s, t.id, key_id="key_1", token=SecretStr(TOKEN))
    with owner_session() as s:
        raw = s.execute(text("select api_key_encrypted from tenants")).scalar_one()
    other = Settings(secret_key=SecretStr(Fernet.generate_key().decode()))
    with pytest.raises(crypto.SecretKeyError, match="different key than POSTPIPE_SECRET_KEY") as err:
        crypto.unseal(raw, what="the Postproxy API key of tenant 'acme'", settings=other)
    assert TOKEN not in str(err.value) and "acme" in str(err.value)


def test_rotation_keeps_old_secrets_readable() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = crypto.seal("s3cret", settings=Settings(secret_key=SecretStr(old)))
    rotating = Settings(secret_key=SecretStr(new), previous_secret_keys=[SecretStr(old)])
    assert crypto.unseal(sealed, what="x", settings=rotating).get_secret_value() == "s3cret"
    resealed = crypto.rotate(sealed, settings=rotating)
    assert crypto.unseal(resealed, what="x", settings=Settings(secret_key=SecretStr(new))).get_secret_value() == "s3cret"


def test_malformed_key_is_named() -> None:
    with pytest.raises(crypto.SecretKeyError, match="POSTPIPE_SECRET_KEY must be a Fernet key"):
        crypto.seal("x", settings=Settings(secret_key=SecretStr("not-a-key")))
