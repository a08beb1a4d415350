"""Submitting a job, below the API: who may, and where jobs cannot be sandboxed."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_with_sign_in_required_and_no_sandbox_a_submission_is_refused_unless_allowed(submit, settings):
    from tracking.errors import InvalidState

    settings.STUDIO_REQUIRE_AUTH = True
    settings.JOBS_SANDBOX = "none"

    with pytest.raises(InvalidState) as refused:
        submit({"t.py": ""}, "python t.py")
    settings.JOBS_UNSANDBOXED = True
    allowed = submit({"t.py": ""}, "python t.py")

    assert refused.value.http_status == 400
    assert refused.value.message.startswith(
        "Jobs are refused: they cannot be sandboxed on this server (STUDIO_JOBS_SANDBOX=none) and "
        "sign-in is required. Install bubblewrap, or set STUDIO_JOBS_UNSANDBOXED=true"
    )
    assert allowed.status == "QUEUED"
