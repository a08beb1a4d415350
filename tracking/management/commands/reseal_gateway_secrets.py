"""Seals again, with the current STUDIO_SECRETS_KEY, every gateway secret sealed with an older key.

After setting a new STUDIO_SECRETS_KEY, list the old key in STUDIO_SECRETS_PREVIOUS_KEYS (so the
old secrets still open), run this, then drop the old key. Safe to run again: it only touches rows
whose key id is not the current one.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tracking.models import GatewaySecret
from tracking.secrets import current_key_id
from tracking.services.gateway import reseal_secrets


class Command(BaseCommand):
    help = "Re-encrypt the AI gateway's secrets with the current STUDIO_SECRETS_KEY."

    def handle(self, *args, **options) -> None:
        count = reseal_secrets()
        left = GatewaySecret.objects.exclude(key_id=current_key_id()).count()
        self.stdout.write(
            f"resealed {count} secret(s) with key id {current_key_id()}; {left} left on other keys"
        )
