"""A user logs into the Airflow UI with the generated password and switches
txlake_weekly on; the REST API sees it unpaused.

Chromium comes from Debian (`apt-get install chromium`), driven by Playwright's
Python package, as in tests/trino/test_ui.py. Unpausing schedules nothing right
away: with catch-up off, the first run waits for the next Monday 00:00 UTC. The
test pauses the DAG again at the end either way.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.stack

DAG = "txlake_weekly"


def _paused(api, settings) -> bool:
    response = api.get(f"{settings.airflow_url}/api/v2/dags/{DAG}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["is_paused"]


def _set_paused(api, settings, paused: bool) -> None:
    response = api.patch(f"{settings.airflow_url}/api/v2/dags/{DAG}",
                         params={"update_mask": "is_paused"}, json={"is_paused": paused}, timeout=30)
    assert response.status_code == 200, response.text


@pytest.fixture
def weekly_paused(api, stack):
    """txlake_weekly starts paused, and is paused again after the test, pass or fail."""
    _set_paused(api, stack, True)
    try:
        yield
    finally:
        _set_paused(api, stack, True)


def _sign_in(page, settings, password: str) -> None:
    page.goto(f"{settings.airflow_url}/", wait_until="domcontentloaded")
    page.wait_for_url("**/auth/login**", timeout=30_000)
    page.fill("input[name=username]", settings.airflow_admin_user)
    page.fill("input[type=password]", password)
    page.get_by_role("button", name="Sign in").click()


def test_a_wrong_password_is_refused(stack, browser_page, login):
    assert login(stack, "not-the-password").status_code == 401
    page = browser_page
    _sign_in(page, stack, "not-the-password")
    page.get_by_text("Invalid credentials", exact=False).first.wait_for(timeout=30_000)
    assert "/auth/login" in page.url


def test_unpausing_weekly_in_the_ui_shows_in_the_rest_api(stack, api, browser_page, weekly_paused):
    page = browser_page
    _sign_in(page, stack, stack.airflow_admin_password.get_secret_value())
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)

    page.goto(f"{stack.airflow_url}/dags/{DAG}", wait_until="domcontentloaded")
    toggle = page.get_by_test_id("toggle-pause")
    toggle.wait_for(timeout=30_000)
    assert toggle.get_attribute("data-state") == "unchecked"  # the switch shows "paused"
    toggle.click()

    deadline = time.monotonic() + 30
    while _paused(api, stack) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _paused(api, stack) is False
    page.wait_for_function(
        "() => document.querySelector('[data-testid=toggle-pause]').dataset.state === 'checked'",
        timeout=30_000)
