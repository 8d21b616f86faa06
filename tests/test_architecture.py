"""Project rules that keep the code honest: core never imports streamlit, pages stay thin, pins are exact,
the shipped contract equals shared/contract."""

from __future__ import annotations

import filecmp
import re

import pytest

from tests.conftest import ROOT


def test_core_never_imports_streamlit():
    for path in (ROOT / "core").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+streamlit", path.read_text(), re.M), path


def test_pages_are_thin():
    for path in (ROOT / "pages").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 150, path


def test_requirements_are_pinned():
    lines = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    reqs = [l for l in lines if l and not l.startswith("#")]
    assert reqs and all("==" in l for l in reqs)


def test_pages_render_nothing_by_accident():
    """Streamlit's magic writes the value of any bare expression: ``st.x() if c else st.y()`` printed a
    DeltaGenerator's help text under two Monitoring charts. Magic is off, and no page relies on it."""
    import ast

    assert re.search(r"^\[runner\][^\[]*magicEnabled\s*=\s*false", (ROOT / ".streamlit" / "config.toml").read_text(), re.M | re.S)
    for path in list((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        tree = ast.parse(path.read_text())
        bare = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, (ast.IfExp, ast.Name,
                                                                                                     ast.BoolOp))]
        assert not bare, f"{path.name}: bare expression(s) at line(s) {bare}"


def test_no_unsafe_html_in_pages():
    for path in list((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        assert "unsafe_allow_html" not in path.read_text(), path


@pytest.mark.parametrize("name", ["marketpro_columns.csv", "salesforce_lead_columns.csv",
                                  "salesforce_writeback_fields.csv", "cli.md"])
def test_shipped_contract_matches_shared(name):
    shared = ROOT.parent / "shared" / "contract" / name
    if not shared.exists():
        pytest.skip("shared/contract not next to this checkout")
    assert filecmp.cmp(shared, ROOT / "core" / "contract" / name, shallow=False)


def test_every_cli_verb_has_one_handler():
    """The CLI dispatches through two tables (verbs that need the warehouse and those that do not): each verb the
    parser accepts is in exactly one, and nothing else is."""
    import argparse

    from core import cli

    sub = next(a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    tables = [set(cli.WITHOUT_WAREHOUSE), set(cli.WITH_WAREHOUSE)]
    assert not tables[0] & tables[1]
    assert tables[0] | tables[1] == set(sub.choices)
