# SPDX-License-Identifier: MIT
"""docs/runbooks/: one page per alert and an alert for every page, the
index lists them all, every page has the sections an on-call engineer
needs, and the log events they tell you to look for exist in the code."""

import re

from monlib import REPO, RUNBOOKS, alerting_rules

SECTIONS = ("## What it means", "## Impact", "## Confirm", "## Mitigate", "## Roll back",
            "## Escalate")


def runbook_pages():
    return {p.stem: p for p in RUNBOOKS.glob("*.md") if p.name != "README.md"}


def test_every_alert_names_an_existing_runbook():
    for a in alerting_rules():
        url = a["annotations"]["runbook_url"]
        assert (REPO / url).is_file(), f"{a['alert']}: runbook_url {url} names no file"


def test_every_runbook_belongs_to_an_alert():
    alerts = {a["alert"] for a in alerting_rules()}
    orphans = set(runbook_pages()) - alerts
    assert not orphans, f"runbooks without an alert: {sorted(orphans)}"


def test_the_index_lists_every_runbook():
    index = (RUNBOOKS / "README.md").read_text()
    for name in runbook_pages():
        assert f"]({name}.md)" in index, f"docs/runbooks/README.md does not link {name}.md"


def test_every_runbook_has_the_sections_and_names_its_alert():
    for name, page in runbook_pages().items():
        text = page.read_text()
        assert text.startswith(f"# {name}\n"), f"{page.name} does not start with '# {name}'"
        for s in SECTIONS:
            assert s in text, f"{page.name} lacks '{s}'"
        assert "```sh" in text, f"{page.name} has no command to confirm the alert"


def logged_events():
    events = set()
    for src in (REPO / "src").rglob("*.c"):
        events |= set(re.findall(r'LNK_LOG(?:_ERRNO)?\(\w+,[^;]*?"\w+",\s*"(\w+)"', src.read_text(),
                                 re.S))
    return events


def test_log_events_the_runbooks_name_exist():
    events = logged_events()
    assert {"degraded", "recovered", "request", "click_write_failed"} <= events, events
    for page in RUNBOOKS.glob("*.md"):
        named = set(re.findall(r'\.?event\s*==\s*"(\w+)"', page.read_text()))
        unknown = named - events
        assert not unknown, f"{page.name} filters on log events linkd never writes: {unknown}"
