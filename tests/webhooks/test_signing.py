"""Signature verification, alone and through the receiver over HTTP (a refused request stores nothing)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from pydantic import SecretStr

from postpipe.db import system_scope
from postpipe.repositories import webhook_events
from postpipe.webhooks import signing
from postpipe.webhooks.server import ReceiverServer
from tests.webhooks.conftest import OLD_SECRET, SECRET, envelope, save_secret, signed

BODY = b'{"event":"post.published","data":{"id":"post-1"}}'


def test_sdk_test_vector() -> None:
    header = signing.sign("whsec_test123", BODY, timestamp=1234567890)
    assert header == "t=1234567890,v1=c8e99efbb07ac8e3152c02dd8d83e8ddb803ae8fb001d9e1ab42fb0b1f405ef2"
    assert signing.verify(BODY, header, [SecretStr("whsec_test123")], tolerance_seconds=300, now=1234567890) == 0


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, signing.MissingSignatureError),
        ("", signing.MissingSignatureError),
        ("garbage", signing.MalformedSignatureError),
        ("t=abc,v1=" + "0" * 64, signing.MalformedSignatureError),
        ("v1=" + "0" * 64, signing.MalformedSignatureError),
        ("t=1234567890", signing.MalformedSignatureError),
        ("t=1234567890,v1=xyz", signing.MalformedSignatureError),
    ],
)
def test_missing_and_malformed_headers(header: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        signing.verify(BODY, header, [SECRET], tolerance_seconds=300, now=1234567890)


def test_tolerance_both_directions_and_errors_never_show_the_secret() -> None:
    now = 2_000_000_000
    for offset, error in ((-301, signing.StaleSignatureError), (301, signing.FutureSignatureError)):
        header = signing.sign(SECRET, BODY, timestamp=now + offset)
        with pytest.raises(error) as caught:
            signing.verify(BODY, header, [SECRET], tolerance_seconds=300, now=now)
        assert SECRET not in str(caught.value)
    for offset in (-300, 300):  # the edges are still accepted
        header = signing.sign(SECRET, BODY, timestamp=now + offset)
        assert signing.verify(BODY, header, [SECRET], tolerance_seconds=300, now=now) == 0
    with pytest.raises(signing.SignatureMismatchError) as caught:
        signing.verify(BODY, signing.sign("whsec_other", BODY, timestamp=now), [SECRET], tolerance_seconds=300, now=now)
    assert SECRET not in str(caught.value) and "whsec" not in str(caught.value)


def test_rotation_accepts_the_previous_secret() -> None:
    now = 2_000_000_000
    header = signing.sign(OLD_SECRET, BODY, timestamp=now)
    assert signing.verify(BODY, header, [SecretStr(SECRET), SecretStr(OLD_SECRET)], tolerance_seconds=300, now=now) == 1
    with pytest.raises(signing.SignatureMismatchError):
        signing.verify(BODY, header, [SecretStr(SECRET)], tolerance_seconds=300, now=now)


def _stored_count() -> int:
    with system_scope("test") as s:
        return webhook_events.counts(s)["stored"]


def test_receiver_refuses_bad_signatures_and_stores_nothing(receiver: ReceiverServer, http: httpx.Client) -> None:
    event = envelope("post.processed", {"id": "p_unknown"})
    raw, headers = signed(event)
    now = int(time.time())
    cases = {
        "wrong secret": (raw, signed(event, "whsec_wrong")[1]),
        "tampered body": (raw.replace(b"p_unknown", b"p_unknowN"), headers),
        "stale": (raw, signed(event, timestamp=now - 360)[1]),  # margins: the exact 300 s edge is unit-tested above
        "future": (raw, signed(event, timestamp=now + 360)[1]),
        "missing": (raw, {"Content-Type": "application/json"}),
        "malformed": (raw, {signing.SIGNATURE_HEADER: "t=now,v1=nope"}),
    }
    for name, (body, hdrs) in cases.items():
        response = http.post(receiver.url, content=body, headers=hdrs)
        assert response.status_code == 401, name
        assert SECRET not in response.text
    assert response.json()["error"] == "signature malformed"
    assert _stored_count() == 0
    assert http.post(receiver.url, content=raw, headers=headers).status_code == 200
    assert _stored_count() == 1


def test_receiver_accepts_previous_secret_after_rotation(pg_db: str, secret: str, http: httpx.Client) -> None:
    save_secret("whsec_rotated_new")  # same subscription: SECRET becomes the previous one
    with ReceiverServer(database_url=pg_db, emit_events=False, secrets_ttl_seconds=0.0) as receiver:
        _send_old_new_and_stranger(receiver, http)


def _send_old_new_and_stranger(receiver: ReceiverServer, http: httpx.Client) -> None:
    old = envelope("post.processed", {"id": "p1"})
    new = envelope("post.processed", {"id": "p2"})
    stranger = envelope("post.processed", {"id": "p3"})
    assert http.post(receiver.url, content=(b := signed(old, SECRET))[0], headers=b[1]).status_code == 200
    assert http.post(receiver.url, content=(b := signed(new, "whsec_rotated_new"))[0], headers=b[1]).status_code == 200
    assert http.post(receiver.url, content=(b := signed(stranger, OLD_SECRET))[0], headers=b[1]).status_code == 401
    assert _stored_count() == 2


def test_receiver_rejects_bad_envelopes_with_400(receiver: ReceiverServer, http: httpx.Client) -> None:
    bad = {
        "not json": b"{nope",
        "array": b"[]",
        "no id": json.dumps({"type": "post.processed", "created_at": "2026-09-01T09:00:00Z", "data": {}}).encode(),
        "bad time": json.dumps({"id": "e1", "type": "post.processed", "created_at": "yesterday", "data": {}}).encode(),
        "data not object": json.dumps({"id": "e1", "type": "post.processed", "created_at": "2026-09-01T09:00:00Z", "data": []}).encode(),
    }
    fields = {"no id": "id", "bad time": "created_at", "data not object": "data"}
    for name, raw in bad.items():
        response = http.post(receiver.url, content=raw, headers=signed(raw)[1])
        assert response.status_code == 400, name
        if name in fields:
            assert fields[name] in response.json()["detail"]
    assert _stored_count() == 0


def test_healthz_reports_database(receiver: ReceiverServer, http: httpx.Client) -> None:
    response = http.get(receiver.base_url + "/healthz")
    assert response.status_code == 200 and response.json()["database"] == "ok"
    with ReceiverServer(database_url="postgresql+psycopg://postgres@127.0.0.1:9/none", emit_events=False) as down:
        assert http.get(down.base_url + "/healthz").status_code == 503
        raw, headers = signed(envelope("post.processed", {"id": "p1"}))
        assert http.post(down.url, content=raw, headers=headers).status_code == 503
