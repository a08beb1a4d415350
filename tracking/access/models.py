"""Workspace memberships with a role, and access tokens (stored as hashes only)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tracking.models import Workspace


class Role(models.TextChoices):
    # Azure ML's names; each role includes everything of the roles below it.
    OWNER = "owner", "Owner"
    CONTRIBUTOR = "contributor", "Contributor"
    READER = "reader", "Reader"


ROLE_RANK = {Role.READER: 1, Role.CONTRIBUTOR: 2, Role.OWNER: 3}


class Membership(models.Model):
    """A person's role in one workspace; no row means the workspace does not exist for them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="one_membership_per_workspace")
        ]
        ordering = ["workspace_id", "user_id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} in {self.workspace_id}"


class TokenKind(models.TextChoices):
    PERSONAL = "personal", "Personal access token"
    TRACKING = "tracking", "Workspace tracking token"
    JOB = "job", "Job token"


class AccessToken(models.Model):
    """A bearer secret scoped to one workspace; only its SHA-256 is kept.

    The secret has 256 bits of randomness, so a plain SHA-256 (no salt, no stretching) cannot be
    reversed, and it can be looked up by an index on the hash.
    """

    kind = models.CharField(max_length=16, choices=TokenKind.choices)
    name = models.CharField(max_length=100, blank=True, default="")
    # Null for a job token of a job nobody started interactively (a schedule, say).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="access_tokens",
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="access_tokens")
    secret_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)  # shown in lists so people can tell tokens apart
    # A job token may act at most as this role (a job of a Reader stays a Reader).
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CONTRIBUTOR)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The personal token a tracking token was fetched with: revoking it revokes those too.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "workspace", "kind"], name="token_owner_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
