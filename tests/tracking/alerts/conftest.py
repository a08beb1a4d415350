from __future__ import annotations

import pytest

from .receiver import Receiver


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def private_webhooks(settings):
    """The operator's setting that lets webhooks reach the local receiver."""
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS = 1.0
    settings.ALERTS_WEBHOOK_RETRY_SECONDS = 0
    settings.SERVER_URL = "https://studio.example"
    return settings
