"""Screenshots of the stack's web UIs for the README, from the real running stack.

    .venv/bin/python scripts/screenshots.py              # every UI that answers
    .venv/bin/python scripts/screenshots.py trino minio  # only these

Needs a running stack (`txlake stack up`, with some data ingested so the pages
have something to show), Debian's Chromium (`apt-get install chromium`) and the
playwright package (no browser download: Chromium is driven from /usr/bin).
Addresses and logins come from the txlake settings; no secret is printed.
A UI that does not answer is skipped with a message, so the script can be run
again later, e.g. once Airflow runs, to add that UI's picture.
Pictures go to images/ (override with --out).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from txlake.settings import Settings, get_settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# The flags tests/trino/test_ui.py uses: headless, no sandbox (root), no network chatter.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1440, "height": 900}
TIMEOUT_MS = 30_000
# Queries run before the Trino picture, so its query list shows real work.
TRINO_QUERIES = ("top_spenders_week.sql", "daily_volumes.sql")


@dataclass(frozen=True)
class Ui:
    name: str
    url: Callable[[Settings], str]
    capture: Callable[[object, Settings, Path], list[Path]]


def answers(url: str) -> bool:
    try:
        requests.get(url, timeout=3)
        return True
    except requests.RequestException:
        return False


def shoot(page, path: Path, *, full_page: bool = False) -> Path:
    page.wait_for_timeout(1_000)  # let charts and counters finish drawing
    page.screenshot(path=str(path), full_page=full_page)
    return path


# --- Trino ---------------------------------------------------------------------------


def _sql(name: str) -> str:
    lines = (ROOT / "scripts" / "sql" / name).read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--")).strip().rstrip(";")


def trino(page, settings: Settings, out: Path) -> list[Path]:
    from txlake.lake import catalog

    for name in TRINO_QUERIES:
        rows = catalog.query(settings, _sql(name))
        print(f"trino: ran scripts/sql/{name} ({len(rows)} rows)")
    page.goto(f"{settings.trino_url}/ui/", wait_until="domcontentloaded")
    # No login on loopback. The list shows running and failed queries by default: add finished ones.
    page.get_by_role("button", name="Finished").click()
    page.get_by_text("lakehouse.project.transactions", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    shots = [shoot(page, out / "trino-ui.png")]
    # The newest query's own page (the list opens it in a new tab; go there directly).
    href = page.locator("a[href*='query.html?']").first.get_attribute("href") or ""
    page.goto(f"{settings.trino_url}/ui/{href.rsplit('/', 1)[-1]}", wait_until="domcontentloaded")
    page.get_by_text("Stages", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    shots.append(shoot(page, out / "trino-query.png"))
    return shots


# --- MinIO console ------------------------------------------------------------------------


def minio_console_url(settings: Settings) -> str:
    return f"http://{settings.s3_host}:{settings.s3_console_port}"


def minio(page, settings: Settings, out: Path) -> list[Path]:
    base = minio_console_url(settings)
    page.goto(f"{base}/login", wait_until="domcontentloaded")
    page.locator("#accessKey").fill(settings.s3_access_key)
    page.locator("#secretKey").fill(settings.s3_secret_key.get_secret_value())
    page.locator("button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=TIMEOUT_MS)
    prefix = quote("project/", safe="")
    page.goto(f"{base}/browser/{settings.lake_bucket}/{prefix}", wait_until="domcontentloaded")
    # The community edition asks once per browser profile to acknowledge its licence.
    acknowledge = page.get_by_role("button", name="Acknowledge")
    try:
        acknowledge.wait_for(timeout=5_000)
        acknowledge.click()
    except PlaywrightTimeout:
        pass
    page.get_by_text("transactions", exact=True).first.wait_for(timeout=TIMEOUT_MS)
    return [shoot(page, out / "minio-console.png")]


# --- Airflow ------------------------------------------------------------------------------


def airflow(page, settings: Settings, out: Path) -> list[Path]:
    base = settings.airflow_url
    page.goto(base, wait_until="domcontentloaded")
    # Airflow 3's sign-in form is drawn by its web app after the page loads.
    username = page.get_by_label("Username")
    try:
        username.wait_for(timeout=15_000)
    except PlaywrightTimeout:
        pass  # already signed in, or no sign-in configured
    else:
        username.fill(settings.airflow_admin_user)
        page.get_by_label("Password").fill(settings.airflow_admin_password.get_secret_value())
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "login" not in url, timeout=TIMEOUT_MS)
    page.goto(f"{base}/dags", wait_until="domcontentloaded")
    page.get_by_text("txlake_daily", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    return [shoot(page, out / "airflow-dags.png")]


UIS = (
    Ui("trino", lambda s: f"{s.trino_url}/ui/", trino),
    Ui("minio", minio_console_url, minio),
    Ui("airflow", lambda s: s.airflow_url, airflow),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [u.name for u in UIS]
    parser.add_argument("uis", nargs="*", metavar="UI",
                        help=f"which UIs, of {', '.join(names)} (default: all that answer)")
    parser.add_argument("--out", type=Path, default=ROOT / "images", help="folder for the PNG files")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.uis) - set(names))
    if unknown:
        parser.error(f"unknown UI {', '.join(unknown)} (known: {', '.join(names)})")
    chosen = [u for u in UIS if not args.uis or u.name in args.uis]
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    settings = get_settings()
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    profile = tempfile.mkdtemp(prefix="txlake-screenshots-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport=VIEWPORT)
            try:
                for ui in chosen:
                    url = ui.url(settings)
                    if not answers(url):
                        print(f"{ui.name}: skipped, nothing answers at {url} (is it running? "
                              "txlake stack status)")
                        continue
                    try:
                        for path in ui.capture(context.new_page(), settings, args.out):
                            print(f"{ui.name}: wrote {path}")
                    except PlaywrightError as error:
                        failed += 1
                        first = str(error).splitlines()[0]
                        print(f"{ui.name}: failed at {url}: {first}", file=sys.stderr)
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
