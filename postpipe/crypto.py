"""Secrets at rest: Fernet encryption of scoped API keys and webhook secrets.

Plain values travel as ``pydantic.SecretStr`` so that a repr, a log line or an exception never shows them.
The key comes from ``POSTPIPE_SECRET_KEY`` (older keys in ``POSTPIPE_PREVIOUS_SECRET_KEYS`` still decrypt
during rotation). With no key configured, the embedded default keeps one in a file in the data directory.
"""

from __future__ import annotations

import logging
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from postpipe.settings import Settings, get_settings

log = logging.getLogger(__name__)


class SecretKeyError(RuntimeError):
    """The configured encryption key is missing, malformed, or not the one the data was sealed with."""


def _embedded_key(settings: Settings) -> bytes:
    path = settings.data_path("fernet.key")
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
        log.warning("POSTPIPE_SECRET_KEY is not set: created an embedded key file at %s (demo use only)", path)
    return path.read_bytes().strip()


def _fernet(settings: Settings | None = None) -> MultiFernet:
    settings = settings or get_settings()
    keys = [settings.secret_key.get_secret_value().encode()] if settings.secret_key else [_embedded_key(settings)]
    keys += [k.get_secret_value().encode() for k in settings.previous_secret_keys]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError as exc:  # the message of this error never contains the key itself
        raise SecretKeyError(
            "POSTPIPE_SECRET_KEY must be a Fernet key (32 url-safe base64-encoded bytes); "
            "generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def seal(value: SecretStr | str, *, settings: Settings | None = None) -> str:
    """Encrypt a secret for storage; returns the Fernet token as text."""
    plain = value.get_secret_value() if isinstance(value, SecretStr) else value
    return _fernet(settings).encrypt(plain.encode()).decode()


def unseal(token: str, *, what: str, settings: Settings | None = None) -> SecretStr:
    """Decrypt a stored secret; ``what`` names it in the error if the key is wrong."""
    try:
        return SecretStr(_fernet(settings).decrypt(token.encode()).decode())
    except InvalidToken:
        raise SecretKeyError(
            f"cannot decrypt {what}: it was encrypted with a different key than POSTPIPE_SECRET_KEY "
            "(set the original key, or list it in POSTPIPE_PREVIOUS_SECRET_KEYS during rotation)"
        ) from None


def rotate(token: str, *, settings: Settings | None = None) -> str:
    """Re-encrypt a stored secret under the current key."""
    try:
        return _fernet(settings).rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretKeyError("cannot rotate a secret sealed with an unknown key") from None
