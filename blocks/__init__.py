"""Prefect Block types of postpipe."""

from __future__ import annotations

from blocks.postproxy import PostproxyCredentials

__all__ = ["PostproxyCredentials"]
