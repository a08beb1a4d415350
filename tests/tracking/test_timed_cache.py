"""The per-process cache of look-ups (tokens, roles, workspaces): entries expire, and there are
never more than a set number of them."""

from __future__ import annotations

import pytest

from tracking.timed_cache import MISSING, TimedCache


def test_an_entry_is_kept_until_it_expires():
    seconds = [60.0]
    cache = TimedCache(max_entries=10, seconds=lambda: seconds[0])
    cache.put("a", 1)
    assert cache.get("a") == 1
    seconds[0] = 0.0
    assert cache.get("a") is MISSING
    assert len(cache) == 0


def test_the_oldest_entries_go_first_past_the_limit():
    cache = TimedCache(max_entries=3, seconds=lambda: 60.0)
    for key in "abcde":
        cache.put(key, key.upper())
    assert [cache.get(key) for key in "abcde"] == [MISSING, MISSING, "C", "D", "E"]


@pytest.mark.django_db
def test_endless_random_bearer_tokens_do_not_grow_the_process(client, settings, auth_on, monkeypatch):
    """Found in a review: 20,000 random tokens grew a web worker by 10 MB, without signing in."""
    import secrets

    from tracking.access import tokens

    assert tokens._cache.max_entries == tokens.MAX_CACHED_TOKENS
    monkeypatch.setattr(tokens._cache, "max_entries", 50)  # the same bound, small enough to reach
    settings.ACCESS_CACHE_SECONDS = 3600
    for _ in range(120):
        answer = client.get(
            "/api/2.0/mlflow/experiments/search?max_results=1",
            HTTP_AUTHORIZATION=f"Bearer stp_{secrets.token_urlsafe(32)}",
        )
        assert answer.status_code == 401
    assert len(tokens._cache) == 50
