"""The playground page (src/pathrl/serve/static) in a real browser: Debian's headless Chromium
driven by playwright, against the real app served by uvicorn on 127.0.0.1.

The tiny router is untrained: its routes are legal but not accurate, so the assertions are on
what the page shows (top-k routes with probabilities, the path on the schema graph, the query,
the rows, errors), checked against the route the page itself marks as chosen.

Set PATHRL_SCREENSHOT=1 to rewrite docs/playground.png (not in CI: it is a tracked file), and
PATHRL_PLAYGROUND_MODEL=<router dir> to serve a trained router instead of the tiny one:

    PATHRL_SCREENSHOT=1 PATHRL_PLAYGROUND_MODEL=runs/demo/scorer/ppo/model \
        pytest tests/serve/test_playground_browser.py
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pathrl.serve import ServeConfig, create_app
from pathrl.service import open_service

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "playground.png"
TOKEN = "playground-test-token"
ROW_LIMIT = 5  # every demo path has more rows unfiltered (24 at least): the page shows truncation
# Names no entity in any demo table (checked): the query runs unfiltered whatever the route.
QUESTION = "show all the payments of every contract"
QUESTION_ZH = "列出每个合同的所有付款"
SCREENSHOT_QUESTION = "Show the change records of the contracts of project Riyadh Railway"
N_DEMO_TABLES = 12

pytestmark = pytest.mark.slow


def _need_browser() -> None:
    """Outside CI a machine without Chromium or playwright skips; in CI (.ci/run installs
    Chromium) a missing browser is a failure, never a silent skip."""
    missing = []
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium chromium-driver)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[dev]')")
    if not missing:
        return
    reason = "the playground browser test needs " + " and ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The real app (create_app + the playground folder) under uvicorn, token required,
    on a socket bound to 127.0.0.1 before the server starts (no port race)."""
    _need_browser()
    import uvicorn

    override = os.environ.get("PATHRL_PLAYGROUND_MODEL")
    model = Path(override) if override else request.getfixturevalue("tiny_router_dir")
    service = open_service(model)
    app = create_app(service, ServeConfig(token=TOKEN, row_limit=ROW_LIMIT))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the playground server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        service.close()


@pytest.fixture(scope="module")
def browser(base_url: str):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a slow CI machine routes the first question slowly
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, base_url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base_url)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _sign_in(page, token: str) -> None:
    page.fill("#token", token)
    page.click("#token-save")


def _ask(page, question: str, top_k: int) -> None:
    """Submit, then wait for both answers (/route and /query): the button is disabled from the
    submit until the last one is shown."""
    from playwright.sync_api import expect

    page.fill("#question", question)
    page.select_option("#top-k", str(top_k))
    page.click("#ask")
    expect(page.locator("#ask")).to_be_enabled()


def _highlighted_path(page) -> list[str]:
    """The tables the graph highlights, in the order of their step badges."""
    nodes = page.locator("#schema-graph .node.on-path")
    steps = {int(nodes.nth(i).locator(".badge text").text_content()):
             nodes.nth(i).get_attribute("data-table") for i in range(nodes.count())}
    return [steps[k] for k in sorted(steps)]


def _route_tables(button) -> list[str]:
    return button.locator(".route-label").text_content().split(" → ")


def test_page_asks_for_the_token_then_answers_a_question(page) -> None:
    from playwright.sync_api import expect

    # /schema needs the token: the page says so and shows the token field.
    expect(page.locator("#auth")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("401")
    expect(page.locator("#error")).to_contain_text("token")
    _sign_in(page, TOKEN)
    expect(page.locator("#schema-graph .node")).to_have_count(N_DEMO_TABLES)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#auth")).to_be_hidden()  # accepted: folded away
    assert page.locator("#schema-graph .edge").count() >= N_DEMO_TABLES - 1  # connected

    _ask(page, QUESTION, top_k=3)
    expect(page.locator("#status")).not_to_be_empty()
    routes = page.locator("#routes-list .route")
    expect(routes).to_have_count(3)
    for i in range(3):
        text = routes.nth(i).locator(".prob").text_content()
        assert re.fullmatch(r"\d{1,3}\.\d%", text), text
        assert routes.nth(i).locator(".fill").get_attribute("style").startswith("width:")
    probabilities = [float(routes.nth(i).locator(".prob").text_content()[:-1])
                     for i in range(3)]
    assert probabilities == sorted(probabilities, reverse=True)

    # The question's answer ran the top route; the graph highlights exactly its tables.
    active = page.locator("#routes-list .route.active")
    expect(active).to_have_count(1)
    assert active.get_attribute("data-path") == routes.nth(0).get_attribute("data-path")
    first_path = _route_tables(active)
    assert _highlighted_path(page) == first_path
    expect(page.locator("#schema-graph .edge.on-path")).to_have_count(len(first_path) - 1)
    expect(page.locator("#schema-graph .node.anchor")).to_have_attribute(
        "data-table", first_path[0])

    # No entity named: every row along the route, cut to the server's row limit.
    expect(page.locator("#status")).to_have_text("no_entity")
    expect(page.locator("#message")).not_to_be_empty()
    expect(page.locator("#language")).to_have_text("SQL")
    assert page.locator("#query").text_content().lstrip().upper().startswith("SELECT")
    expect(page.locator("#rows tbody tr")).to_have_count(ROW_LIMIT)
    expect(page.locator("#rows-summary")).to_contain_text("truncated")

    # Clicking the second route runs it: it becomes the chosen one and the graph follows.
    second = routes.nth(1)
    second_path = _route_tables(second)
    assert second_path != first_path
    second.click()
    expect(second).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator("#routes-list .route.active")).to_have_count(1)
    expect(page.locator("#schema-graph .edge.on-path")).to_have_count(len(second_path) - 1)
    assert _highlighted_path(page) == second_path
    expect(page.locator("#query")).not_to_be_empty()

    # The untrained router ranks single-table paths first, so a multi-hop path is run the way
    # clicking its route runs it: the graph highlights its three tables and its two joins.
    page.evaluate("runPath('project>contract>payment', null)")
    expect(page.locator("#schema-graph .edge.on-path")).to_have_count(2)
    assert _highlighted_path(page) == ["project", "contract", "payment"]
    joins = {(e.get_attribute("data-from"), e.get_attribute("data-to"))
             for e in page.locator("#schema-graph .edge.on-path").all()}
    assert joins == {("contract.project_id", "project.id"), ("payment.contract_id", "contract.id")}
    expect(page.locator("#query")).to_contain_text("JOIN")

    # A Chinese question goes through the same way.
    _ask(page, QUESTION_ZH, top_k=5)
    expect(routes).to_have_count(5)
    expect(routes.nth(0)).to_have_class(re.compile(r"\bactive\b"))  # its answer has come
    expect(page.locator("#status")).to_have_text("no_entity")
    assert _highlighted_path(page) == _route_tables(routes.nth(0))

    if os.environ.get("PATHRL_SCREENSHOT"):
        _ask(page, SCREENSHOT_QUESTION, top_k=5)
        expect(page.locator("#routes-list .route")).to_have_count(5)
        expect(page.locator("#routes-list .route.active")).to_have_count(1)
        page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_a_wrong_token_is_shown_in_the_page(page) -> None:
    from playwright.sync_api import expect

    _sign_in(page, "not-the-token")
    expect(page.locator("#error")).to_contain_text("missing or wrong bearer token")
    with page.expect_response(lambda r: r.url.endswith("/route")) as routed:
        _ask(page, QUESTION, top_k=3)
    assert routed.value.status == 401
    assert routed.value.request.headers["authorization"] == "Bearer not-the-token"
    expect(page.locator("#error")).to_contain_text("Error 401: missing or wrong bearer token")
    expect(page.locator("#routes-list .route")).to_have_count(0)
    expect(page.locator("#status")).to_be_empty()
    expect(page.locator("#schema-graph .node")).to_have_count(0)
