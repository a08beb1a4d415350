"""Provider secrets: checked, sealed with tracking.secrets, shown only masked."""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tracking import gateway_catalog, secrets
from tracking.alerts.webhooks import Refused, address_refusal, parse_url
from tracking.errors import InvalidParameterValue
from tracking.models import (
    GatewaySecret,
    Workspace,
)

from .rows import fit, new_id, save_named

_DESTINATION_KEYS = frozenset({"api_base", "base_url", "model_list", "fallbacks", "custom_llm_provider"})


def mask(value: Any) -> str:
    """What the API shows of one secret field: its first 3 and last 4 characters, if long enough."""
    if not isinstance(value, str) or len(value) < 8:
        return "***"
    return f"{value[:3]}...{value[-4:]}"


def _check_secret_value(secret_value: Any) -> dict[str, str]:
    # The message never quotes a value: only the field names and what is wrong. An empty one is
    # allowed: some auth modes hold no secret field (AWS's default credential chain, say).
    if secret_value is None:
        return {}
    if not isinstance(secret_value, dict):
        raise InvalidParameterValue("secret_value must map field names to string values.")
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in secret_value.items()):
        raise InvalidParameterValue("secret_value must map field names to string values.")
    if reserved := sorted(_DESTINATION_KEYS & set(secret_value)):
        raise InvalidParameterValue(
            f"secret_value must not contain {', '.join(map(repr, reserved))}: these keys choose where "
            "the gateway sends requests. Set the upstream with 'api_base' in auth_config, where it is "
            "validated."
        )
    return secret_value


def _check_api_base(url: str) -> None:
    """Public https:// only, as MLflow's rule. A host given as an address is checked now; a name
    would be resolved and checked at each request sent to it, as the alerts' webhooks are (no
    request is sent today: see tracking.api.gateway_invocations)."""
    try:
        target = parse_url(url)
        if target.scheme != "https":
            raise InvalidParameterValue(
                f"Invalid Gateway secret api_base scheme: '{target.scheme}'. Allowed schemes are: 'https'."
            )
        try:
            literal = ipaddress.ip_address(target.host)
        except ValueError:
            literal = None
        why = literal is not None and address_refusal(
            str(literal),
            allow_private=settings.GATEWAY_ALLOW_PRIVATE_API_BASE,
            allowed_by="STUDIO_GATEWAY_ALLOW_PRIVATE_API_BASE",
        )
        if why:
            raise Refused(why)
    except Refused as refused:
        raise InvalidParameterValue(f"Gateway secret api_base is refused: {refused}.") from None


def check_auth_config(auth_config: Any) -> dict[str, Any] | None:
    """The auth configuration normalized (a blank api_base dropped), or None when empty."""
    if not auth_config:
        return None
    if not isinstance(auth_config, dict) or not all(isinstance(v, str) for v in auth_config.values()):
        raise InvalidParameterValue("auth_config must map option names to string values.")
    normalized = dict(auth_config)
    if reserved := sorted((_DESTINATION_KEYS - {"api_base"}) & set(normalized)):
        raise InvalidParameterValue(
            f"auth_config must not contain {', '.join(map(repr, reserved))}: these options choose "
            "where the gateway sends requests. Set the upstream with 'api_base', which is validated."
        )
    api_base = normalized.get("api_base")
    if isinstance(api_base, str):
        api_base = api_base.strip()
    if not api_base:
        normalized.pop("api_base", None)
        return normalized
    if not isinstance(api_base, str):
        raise InvalidParameterValue("auth_config.api_base must be a string.")
    _check_api_base(api_base)
    normalized["api_base"] = api_base
    return normalized


def _seal_onto(secret: GatewaySecret, value: dict[str, str]) -> None:
    secret.ciphertext, secret.key_id = secrets.seal(orjson.dumps(value), secret_id=secret.secret_id)
    secret.masked_values = {key: mask(field) for key, field in value.items()}


def create_secret(
    *,
    workspace: Workspace,
    name: str,
    value: Any,
    provider: str = "",
    auth_config: Any = None,
    created_by: str = "",
) -> GatewaySecret:
    value = _check_secret_value(value)
    auth_config = check_auth_config(auth_config)
    if provider:
        gateway_catalog.check_provider(provider)
    now = timezone.now()
    secret = GatewaySecret(
        workspace=workspace,
        secret_id=new_id("s"),
        name=name,
        provider=provider,
        auth_config=auth_config or None,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    _seal_onto(secret, value)
    return save_named(secret, f"Secret with name '{name}' already exists")


def update_secret(
    *, secret: GatewaySecret, value: Any = None, auth_config: Any = None, updated_by: str = ""
) -> GatewaySecret:
    """A new value (key rotation at the provider) and/or auth configuration; an empty
    auth_config object clears it, an absent one keeps it."""
    if value:
        _seal_onto(secret, _check_secret_value(value))
    if auth_config:
        secret.auth_config = check_auth_config(auth_config) or None
    secret.updated_by = updated_by
    secret.updated_at = timezone.now()
    fit(secret)
    secret.save()
    return secret


def delete_secret(*, secret: GatewaySecret) -> None:
    # Definitions that used it stay, without a secret (SET_NULL), as in MLflow.
    secret.delete()


def open_secret(secret: GatewaySecret) -> dict[str, str]:
    """The secret's fields in plain text, for the one use there is: calling its provider."""
    return orjson.loads(secrets.unseal(secret.ciphertext, key_id=secret.key_id, secret_id=secret.secret_id))


def reseal_secrets(*, batch: int = 500) -> int:
    """Seals again, with the current key, every secret sealed with another one; how many."""
    current = secrets.current_key_id()
    count = 0
    stale = GatewaySecret.objects.exclude(key_id=current).order_by("id")
    while rows := list(stale[:batch]):
        for secret in rows:
            _seal_onto(secret, open_secret(secret))
        with transaction.atomic():
            GatewaySecret.objects.bulk_update(rows, ["ciphertext", "key_id", "masked_values"])
        count += len(rows)
    return count
