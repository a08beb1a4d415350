"""Signing in, managing members and creating a token in a real browser (auth required)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.personas import PASSWORD


@pytest.fixture
def studio(deployed_with_sign_in, team):
    return deployed_with_sign_in.url


def sign_in(page, studio: str, username: str, next_path: str) -> None:
    page.goto(f"{studio}{next_path}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_owner_signs_in_adds_a_member_and_creates_a_token(page, studio, screenshot):
    sign_in(page, studio, "owner", "/ws/team-a/members/")
    expect(page.get_by_role("heading", name="team-a")).to_be_visible()
    page.get_by_label("User name").fill("outsider")
    page.get_by_label("Role", exact=True).select_option("contributor")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status")).to_contain_text("outsider is now Contributor")
    expect(page.get_by_label("Role of outsider")).to_have_value("contributor")
    screenshot(page, "members")

    page.get_by_role("link", name="Tokens").click()
    page.get_by_label("Token name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("stp_")
    screenshot(page, "tokens")
    page.reload()  # the secret is gone for good, and no second token was made
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="laptop")).to_contain_text(secret[:10])


def test_a_reader_sees_members_without_managing_them(page, studio):
    sign_in(page, studio, "reader", "/ws/team-a/members/")
    expect(page.get_by_role("row").filter(has_text="owner")).to_contain_text("Owner")
    expect(page.get_by_role("heading", name="Add a member")).to_have_count(0)
