"""phpMyAdmin, the `tools` profile's database web UI, in headless Chromium: it opens
logged in as the read-only user evcharging_ro, shows evcharging_db's tables, and the
database refuses that user every change, from the SQL tab and directly. The script
`make tools` runs for volumes made before the user existed creates it again, as
often as it is run. Screenshots are saved to test-results/screenshots/."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator

import mysql.connector
import pytest
from mysql.connector.abstracts import MySQLConnectionAbstract
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import chromium, shot
from tests.support.stack import Infra, compose, stack_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

READONLY_USER = "evcharging_ro"
DENIED = 1142  # ER_TABLEACCESS_DENIED_ERROR: "<command> command denied to user"
REFUSED = 1045  # ER_ACCESS_DENIED_ERROR: unknown user or wrong password
READONLY_SCRIPT = "/docker-entrypoint-initdb.d/02-readonly.sh"  # what `make tools` runs
TOOLS_UP = ("--profile", "tools", "up", "-d", "--wait", "--wait-timeout", "300")


@pytest.fixture(scope="module")
def phpmyadmin(infra: Infra) -> Iterator[str]:
    """The tools profile's phpmyadmin in the test stack; its address on this host."""
    up = compose(*TOOLS_UP, "phpmyadmin", check=False)
    assert up.returncode == 0, f"could not start phpMyAdmin:\n{up.stderr}"
    url = f"http://127.0.0.1:{stack_settings()['PMA_HOST_PORT']}"
    wait_until(lambda: READONLY_USER.encode() in fetch(f"{url}/index.php"), 60, "phpMyAdmin to log in")
    try:
        yield url
    finally:
        compose("--profile", "tools", "rm", "--stop", "--force", "phpmyadmin", check=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - test URL
        return bytes(response.read())


def connect(infra: Infra, user: str, password: str) -> MySQLConnectionAbstract:
    connection = mysql.connector.connect(
        host=infra.database.host,
        port=infra.database.port,
        user=user,
        password=password,
        database=infra.database.database,
    )
    assert isinstance(connection, MySQLConnectionAbstract)
    return connection


def readonly(infra: Infra) -> MySQLConnectionAbstract:
    return connect(infra, READONLY_USER, stack_settings()["DB_READONLY_PASSWORD"])


def root(infra: Infra) -> MySQLConnectionAbstract:
    return connect(infra, "root", stack_settings()["DB_ROOT_PASSWORD"])


def run_sql_tab(page: Page, url: str, sql: str) -> None:
    """Open evcharging_db's SQL tab, type `sql` into it (a CodeMirror editor) and press Go."""
    page.goto(f"{url}/index.php?route=/database/sql&db=evcharging_db")
    editor = "#sqlqueryform .CodeMirror"
    page.wait_for_selector(editor)
    page.eval_on_selector(editor, "(element, sql) => element.CodeMirror.setValue(sql)", sql)
    page.click("#button_submit_query")


def test_it_opens_logged_in_read_only_and_shows_the_tables(phpmyadmin: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1366, "height": 860})
    page.goto(f"{phpmyadmin}/")
    expect(page.get_by_text(f"User: {READONLY_USER}@")).to_be_visible()
    tree = page.locator("#pma_navigation_tree")
    expect(tree.get_by_role("link", name="evcharging_db", exact=True)).to_be_visible()
    # The user sees its own database (and information_schema), not MariaDB's own.
    expect(tree.get_by_role("link", name="mysql", exact=True)).to_have_count(0)
    shot(page, "phpmyadmin-01-home")

    tree.get_by_role("link", name="evcharging_db", exact=True).click()
    expect(page).to_have_url(re.compile(r"db=evcharging_db"))
    content = page.locator("#page_content")  # the database's Structure tab: a row per table
    for table in ("suministros", "charging_points", "conductores"):
        expect(content.get_by_role("link", name=table, exact=True).first).to_be_visible()
    shot(page, "phpmyadmin-02-evcharging_db")
    page.close()


def test_the_sql_tab_cannot_change_the_data(phpmyadmin: str, browser: Browser, infra: Infra) -> None:
    driver_id = "ROPROBE"
    page = browser.new_page(viewport={"width": 1366, "height": 860})
    page.on("dialog", lambda dialog: dialog.accept())  # "Do you really want to execute…?"
    run_sql_tab(
        page,
        phpmyadmin,
        "INSERT INTO conductores (id, nombre, apellidos, email) "
        "VALUES ('ROPROBE', 'Solo', 'Lectura', 'roprobe@example.com')",
    )
    error = page.locator("#page_content .alert-danger")
    expect(error).to_contain_text(f"#{DENIED} - INSERT command denied to user '{READONLY_USER}'")
    shot(page, "phpmyadmin-03-insert-denied")

    run_sql_tab(page, phpmyadmin, "DROP TABLE suministros")
    expect(error).to_contain_text(f"#{DENIED} - DROP command denied to user '{READONLY_USER}'")
    shot(page, "phpmyadmin-04-drop-denied")
    page.close()

    with root(infra) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM conductores WHERE id = %s", (driver_id,))
        assert cursor.fetchone() == (0,)
        cursor.execute("SHOW TABLES LIKE 'suministros'")
        assert cursor.fetchall() == [("suministros",)]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO conductores (id, nombre, apellidos, email) VALUES ('RO1', 'a', 'b', 'ro1@example.com')",
        "UPDATE charging_points SET precio_kwh = 9.999",
        "DELETE FROM suministros",
        "DROP TABLE suministros",
        "CREATE TABLE evcharging_db.ro_probe (id INT)",
    ],
)
def test_the_readonly_user_may_only_select(infra: Infra, statement: str) -> None:
    with readonly(infra) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM charging_points")
        assert cursor.fetchall()
        with pytest.raises(mysql.connector.Error) as refused:
            cursor.execute(statement)
        assert refused.value.errno == DENIED, refused.value


def grants(infra: Infra) -> list[str]:
    with readonly(infra) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW GRANTS")
        rows = cursor.fetchall()
    return sorted(str(value) for row in rows for value in (row.values() if isinstance(row, dict) else row))


def test_make_tools_creates_the_user_on_an_older_volume(infra: Infra) -> None:
    expected = [
        f"GRANT SELECT ON `evcharging_db`.* TO `{READONLY_USER}`@`%`",
        f"GRANT USAGE ON *.* TO `{READONLY_USER}`@`%` IDENTIFIED BY PASSWORD '",
    ]
    granted = grants(infra)
    assert granted[0] == expected[0], granted
    assert granted[1].startswith(expected[1]), granted

    # A volume made before the user existed; then one whose user has an older password.
    with root(infra) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP USER '{READONLY_USER}'@'%'")
    with pytest.raises(mysql.connector.Error) as refused:
        readonly(infra).close()
    assert refused.value.errno == REFUSED
    for _ in range(2):  # idempotent: `make tools` runs it every time
        made = compose("exec", "-T", "mariadb", "bash", READONLY_SCRIPT, check=False)
        assert made.returncode == 0, made.stdout + made.stderr
    assert grants(infra) == granted

    with root(infra) as connection, connection.cursor() as cursor:
        cursor.execute(f"ALTER USER '{READONLY_USER}'@'%' IDENTIFIED BY 'an-older-password'")
    made = compose("exec", "-T", "mariadb", "bash", READONLY_SCRIPT, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    assert grants(infra) == granted
