"""Access tokens: issuing, looking up (cached briefly), refreshing and revoking.

Three kinds, all scoped to one workspace and sent as `Authorization: Bearer <secret>` (or as
the password of Basic auth):

- personal access tokens, made on the studio's Tokens page, for scripts and the SDK;
- tracking tokens, valid for TRACKING_TOKEN_SECONDS (an hour), which the SDK fetches with a
  personal token (`POST /api/studio/v1/workspaces/<ws>/tracking-token`) and renews before expiry;
- job tokens, which a worker gives the job it runs (`issue_job_token`), extends while the job
  runs (`refresh_job_token`) and revokes when it ends.

Only the SHA-256 of a secret is stored. Every API call looks its token up, so a look-up is kept
in the process for ACCESS_CACHE_SECONDS; revoking or refreshing here clears this process's cache,
other processes see the change within that time.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from tracking.errors import InvalidParameterValue, Unauthenticated
from tracking.models import Workspace
from tracking.timed_cache import MISSING, TimedCache

from .models import AccessToken, Role, TokenKind

_PREFIXES = {TokenKind.PERSONAL: "stp_", TokenKind.TRACKING: "stt_", TokenKind.JOB: "stj_"}
TOKEN_PREFIXES = tuple(_PREFIXES.values())
_LAST_USED_EVERY = timedelta(minutes=1)
MAX_CACHED_TOKENS = 10_000


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret; the secret is shown once and never stored."""

    token: AccessToken
    secret: str

    @property
    def expires_at(self) -> datetime | None:
        return self.token.expires_at


@dataclass(frozen=True)
class TokenGrant:
    """What a valid token lets its bearer be, as the access checks need it (cacheable)."""

    token_id: int
    kind: str
    user_id: int | None
    username: str
    is_superuser: bool
    workspace_id: int
    role: str
    expires_at: datetime | None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIXES)


def _issue(
    *,
    kind: str,
    workspace: Workspace,
    user: AbstractBaseUser | None,
    expires_at: datetime | None,
    name: str = "",
    role: str = Role.CONTRIBUTOR,
    parent: AccessToken | None = None,
) -> IssuedToken:
    secret = _PREFIXES[TokenKind(kind)] + secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        kind=kind,
        name=name[:100],
        user=user,
        workspace=workspace,
        secret_hash=hash_secret(secret),
        prefix=secret[:10],
        role=role,
        expires_at=expires_at,
        parent=parent,
    )
    return IssuedToken(token, secret)


def issue_personal_token(
    *, user: AbstractBaseUser, workspace: Workspace, name: str, days: int | None = None
) -> IssuedToken:
    """A personal access token valid `days` (PERSONAL_TOKEN_DAYS by default): every token expires,
    after at most PERSONAL_TOKEN_MAX_DAYS."""
    days = settings.PERSONAL_TOKEN_DAYS if days is None else days
    if (
        isinstance(days, bool)
        or not isinstance(days, int)
        or not 1 <= days <= settings.PERSONAL_TOKEN_MAX_DAYS
    ):
        raise InvalidParameterValue(
            f"A personal access token is valid 1 to {settings.PERSONAL_TOKEN_MAX_DAYS} days "
            f"(STUDIO_PERSONAL_TOKEN_MAX_DAYS), not {days!r}."
        )
    expires_at = timezone.now() + timedelta(days=days)
    return _issue(kind=TokenKind.PERSONAL, workspace=workspace, user=user, expires_at=expires_at, name=name)


def issue_tracking_token(
    *,
    user: AbstractBaseUser,
    workspace: Workspace,
    parent: AccessToken | None = None,
    seconds: int | None = None,
) -> IssuedToken:
    seconds = settings.TRACKING_TOKEN_SECONDS if seconds is None else seconds
    return _issue(
        kind=TokenKind.TRACKING,
        workspace=workspace,
        user=user,
        expires_at=timezone.now() + timedelta(seconds=seconds),
        name="tracking",
        parent=parent,
    )


def issue_job_token(
    workspace: Workspace,
    user: AbstractBaseUser | None,
    *,
    name: str = "job",
    role: str = Role.CONTRIBUTOR,
    seconds: int | None = None,
) -> IssuedToken:
    """A token for a job's MLflow client (MLFLOW_TRACKING_TOKEN), valid `seconds` from now.

    With a user, the token acts as that user, but never above `role` (a job a Reader started
    still only reads); without one, it acts as `role`. Keep it alive with `refresh_job_token`
    while the job runs, and `revoke_token` it when the job ends.
    """
    seconds = settings.TRACKING_TOKEN_SECONDS if seconds is None else seconds
    return _issue(
        kind=TokenKind.JOB,
        workspace=workspace,
        user=user,
        expires_at=timezone.now() + timedelta(seconds=seconds),
        name=name,
        role=role,
    )


def refresh_job_token(token: AccessToken | int, *, seconds: int | None = None) -> datetime | None:
    """Push a live job token's expiry to `seconds` from now; None if it was revoked meanwhile."""
    seconds = settings.TRACKING_TOKEN_SECONDS if seconds is None else seconds
    token_id = token.pk if isinstance(token, AccessToken) else token
    expires_at = timezone.now() + timedelta(seconds=seconds)
    updated = AccessToken.objects.filter(pk=token_id, kind=TokenKind.JOB, revoked_at__isnull=True).update(
        expires_at=expires_at
    )
    forget_tokens()
    return expires_at if updated else None


def revoke_token(token: AccessToken | int) -> None:
    """Revoke a token and the tracking tokens fetched with it."""
    token_id = token.pk if isinstance(token, AccessToken) else token
    with transaction.atomic():
        AccessToken.objects.filter(Q(pk=token_id) | Q(parent_id=token_id), revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    forget_tokens()


# --- Look-up ---------------------------------------------------------------------------------

# Valid and invalid tokens alike (an unknown token is looked up once, not at every call), bounded
# so that random tokens sent without end cannot grow the process.
_cache: TimedCache[TokenGrant | str] = TimedCache(
    max_entries=MAX_CACHED_TOKENS, seconds=lambda: settings.ACCESS_CACHE_SECONDS
)


def how_to_renew(workspace_name: str | None = None) -> str:
    where = f"/ws/{workspace_name}/tokens/" if workspace_name else "the studio's Tokens page"
    return (
        f"Get a new one: create a personal access token on {where}, or let the SDK "
        "(studio_sdk.Workspace.from_config()) fetch fresh tracking tokens for you."
    )


def grant_for(secret: str) -> TokenGrant:
    """The grant of a valid token, or UNAUTHENTICATED saying why it is not valid."""
    key = hash_secret(secret)
    grant = _cache.get(key)
    if grant is MISSING:
        grant = _load(key)
        _cache.put(key, grant)
    if isinstance(grant, str):
        raise Unauthenticated(grant)
    if grant.expires_at is not None and grant.expires_at <= timezone.now():
        workspace = Workspace.objects.filter(pk=grant.workspace_id).values_list("name", flat=True).first()
        raise Unauthenticated(
            f"The access token expired at {grant.expires_at:%Y-%m-%d %H:%M:%S} UTC. {how_to_renew(workspace)}"
        )
    return grant


def _load(key: str) -> TokenGrant | str:
    """The grant, or the message of why there is none (cached like a grant)."""
    token = (
        AccessToken.objects.select_related("user", "workspace")
        .filter(secret_hash=key)
        .only(
            "kind",
            "user__username",
            "user__is_superuser",
            "user__is_active",
            "workspace__name",
            "role",
            "expires_at",
            "revoked_at",
            "last_used_at",
        )
        .first()
    )
    if token is None:
        return f"The access token is not valid. {how_to_renew()}"
    if token.revoked_at is not None:
        return f"The access token was revoked. {how_to_renew(token.workspace.name)}"
    if token.user is not None and not token.user.is_active:
        return "The access token's user is deactivated."
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - _LAST_USED_EVERY:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return TokenGrant(
        token_id=token.pk,
        kind=token.kind,
        user_id=token.user_id,
        username=token.user.username if token.user else "",
        is_superuser=bool(token.user and token.user.is_superuser),
        workspace_id=token.workspace_id,
        role=token.role,
        expires_at=token.expires_at,
    )


def forget_tokens() -> None:
    _cache.clear()


@receiver([post_save, post_delete], sender=AccessToken)
def _forget_on_change(**kwargs) -> None:
    forget_tokens()
