"""The one error the SDK raises for a server's refusal, carrying MLflow's error code."""

from __future__ import annotations

import requests


class StudioError(Exception):
    def __init__(self, message: str, error_code: str = "", status: int = 0):
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status = status


def raise_for_error(response: requests.Response) -> None:
    if response.ok:
        return
    try:
        body = response.json()
        code, message = body.get("error_code", ""), body.get("message", response.text)
    except ValueError:
        code, message = "", response.text[:500]
    raise StudioError(f"{response.status_code} {code}: {message}", code, response.status_code)
