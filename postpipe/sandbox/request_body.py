"""Request bodies: JSON, or the SDK's multipart layout (``post[body]``, ``profiles[]``, ...) folded into the same shape."""

from __future__ import annotations

import hashlib
import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from .errors import bad_request

_BRACKETS = re.compile(r"\[([^\]]*)\]")


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """The request body as a dict; an empty body is ``{}``; malformed input is a 400."""
    if not raw.strip():
        return {}
    if content_type.startswith("multipart/form-data"):
        return _parse_multipart(raw, content_type)
    try:
        parsed = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise bad_request(f"Invalid JSON body: {error}") from error
    if not isinstance(parsed, dict):
        raise bad_request("The request body must be a JSON object")
    return parsed


def canonical(body: dict[str, Any]) -> bytes:
    """A stable byte form of a parsed body, for idempotency fingerprints."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def _parse_multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    if not message.is_multipart():
        raise bad_request("Malformed multipart body")
    root: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        value: Any
        if filename:
            value = {
                "upload": filename,
                "content_type": part.get_content_type(),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        else:
            value = payload.decode("utf-8", errors="replace")
        _assign(root, name, value)
    return _lists_from_indexes(root)


def _assign(root: dict[str, Any], name: str, value: Any) -> None:
    head = name.split("[", 1)[0]
    path = [head] + _BRACKETS.findall(name[len(head):])
    node: Any = root
    for index, key in enumerate(path):
        last = index == len(path) - 1
        following = None if last else path[index + 1]
        if key == "":
            if last:
                node.append(value)
                return
            node.append({})
            node = node[-1]
            continue
        if last:
            node[key] = value
            return
        if key not in node:
            node[key] = [] if following == "" else {}
        node = node[key]


def _lists_from_indexes(node: Any) -> Any:
    """``thread[0][body]`` arrives as ``{"0": {...}}``; turn digit-keyed dicts into lists."""
    if isinstance(node, dict):
        converted = {key: _lists_from_indexes(value) for key, value in node.items()}
        if converted and all(key.isdigit() for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    if isinstance(node, list):
        return [_lists_from_indexes(item) for item in node]
    return node
