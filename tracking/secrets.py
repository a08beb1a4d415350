"""Encryption at rest for the AI gateway's provider secrets (AES-256-GCM).

The key comes from STUDIO_SECRETS_KEY (any string; a 256-bit key is derived from it with HKDF).
Unset, it is derived from Django's SECRET_KEY instead, with a warning: a laptop works without
set-up, and a deployment is told to set one. Each sealed value keeps the id of the key that
sealed it (a fingerprint, not the key), so that after a rotation the rows still sealed with an
old key are found (`stale_key_ids`) and resealed (`manage.py reseal_gateway_secrets`) while the
old key is listed in STUDIO_SECRETS_PREVIOUS_KEYS. The secret's id is the associated data: a
sealed value copied onto another row does not open.

Nothing here logs or raises with a plaintext in it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from tracking.errors import MlflowError

logger = logging.getLogger(__name__)

_NONCE_BYTES = 12
_INFO = b"studio gateway secrets v1"


class SecretKeyMismatch(MlflowError):
    """A stored secret was sealed with a key this server does not have (or was tampered with)."""

    error_code = "INTERNAL_ERROR"
    http_status = 500


@dataclass(frozen=True)
class SecretKey:
    key_id: str
    cipher: AESGCM


def _derive(material: str) -> SecretKey:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material.encode())
    return SecretKey(key_id=hashlib.sha256(key).hexdigest()[:12], cipher=AESGCM(key))


@cache
def _keys(current: str, previous: tuple[str, ...]) -> tuple[SecretKey, dict[str, SecretKey]]:
    if not current:
        logger.warning(
            "STUDIO_SECRETS_KEY is not set: AI gateway secrets are encrypted with a key derived "
            "from the Django SECRET_KEY. Set STUDIO_SECRETS_KEY in production (see README)."
        )
        current = "derived-from-secret-key:" + settings.SECRET_KEY
    sealing = _derive(current)
    by_id = {key.key_id: key for key in map(_derive, previous)}
    by_id[sealing.key_id] = sealing
    return sealing, by_id


def _configured() -> tuple[SecretKey, dict[str, SecretKey]]:
    return _keys(settings.GATEWAY_SECRETS_KEY, tuple(settings.GATEWAY_SECRETS_PREVIOUS_KEYS))


def current_key_id() -> str:
    return _configured()[0].key_id


def seal(plaintext: bytes, *, secret_id: str) -> tuple[str, str]:
    """The ciphertext (base64 of nonce + sealed bytes) and the id of the key that sealed it."""
    key = _configured()[0]
    nonce = os.urandom(_NONCE_BYTES)
    sealed = key.cipher.encrypt(nonce, plaintext, secret_id.encode())
    return base64.b64encode(nonce + sealed).decode("ascii"), key.key_id


def unseal(ciphertext: str, *, key_id: str, secret_id: str) -> bytes:
    key = _configured()[1].get(key_id)
    if key is None:
        raise SecretKeyMismatch(
            f"Gateway secret {secret_id} was encrypted with key id {key_id}, which this server does "
            "not have: set STUDIO_SECRETS_KEY (or STUDIO_SECRETS_PREVIOUS_KEYS) to the key it was "
            "written with."
        )
    raw = base64.b64decode(ciphertext)
    try:
        return key.cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], secret_id.encode())
    except InvalidTag:
        raise SecretKeyMismatch(
            f"Gateway secret {secret_id} does not decrypt with key id {key_id}: the stored value was "
            "altered, or the key changed without changing its id."
        ) from None
