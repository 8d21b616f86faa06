"""Helpers every page uses: the cached engine, the signed-in actor, role gates, errors, tables."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.auth import Actor, UserStore
from core.config import Settings, load_settings
from core.errors import LeadScoringError
from core.export import csv_bytes
from core.words import header, is_count, month_label, when  # noqa: F401 (pages import them from here)
from core.warehouse import Warehouse, open_warehouse


@dataclass(frozen=True)
class Engine:
    settings: Settings
    wh: Warehouse
    users: UserStore


@st.cache_resource(show_spinner="Opening the warehouse…")
def engine() -> Engine:
    settings = load_settings()
    wh = open_warehouse(settings)
    users = UserStore(settings.users_path)
    password = users.ensure_admin()
    if password:
        # Printed once, to the console of whoever started the app; never stored in clear.
        print("=" * 72, f"\nFirst start: created user 'admin' with password: {password}\n"
              f"(change it from Admin → Users; users file: {settings.users_path})\n" + "=" * 72, flush=True)
    return Engine(settings, wh, users)


def actor() -> Actor:
    a = st.session_state.get("actor")
    if a is None:
        st.error("Please sign in.")
        st.stop()
    return a


def require(permission: str) -> Actor:
    """Stop the page with a clear message when the role lacks ``permission`` (core enforces it too)."""
    a = actor()
    if not a.can(permission):
        st.error(f"Your role ({a.role}) cannot {permission.replace('_', ' ')}. Ask an admin if you need it.")
        st.stop()
    return a


def why_not(who: Actor, permission: str) -> str | None:
    """The tooltip of a button the role may not press (None when it may)."""
    if who.can(permission):
        return None
    from core.auth import PERMISSIONS

    allowed = ", ".join(r.replace("_", " ") for r in sorted(PERMISSIONS[permission]))
    return f"Your role ({who.role.replace('_', ' ')}) cannot {permission.replace('_', ' ')}; allowed: {allowed}."


@contextmanager
def user_errors():
    """Show the project's errors as st.error (no traceback)."""
    try:
        yield
    except LeadScoringError as exc:
        st.error(str(exc))


MISSING = "—"  # how every table shows a missing value (Streamlit's own is a grey "None")


def table(df: pd.DataFrame, file_name: str, column_config: dict | None = None, height: int | None = None) -> None:
    """A table with human headers (``column_config`` overrides; every other snake_case column gets a readable
    label, timestamps a readable format, fractions three decimals) and its CSV download."""
    config = {}
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]):
            config[c] = st.column_config.DatetimeColumn(header(c), format="D MMM YYYY, HH:mm")
        elif pd.api.types.is_float_dtype(df[c]):
            config[c] = st.column_config.NumberColumn(header(c), format="%.3f")
        elif pd.api.types.is_integer_dtype(df[c]) and is_count(c):
            config[c] = st.column_config.NumberColumn(header(c), format="localized")  # counts: 2,894
        else:
            config[c] = header(c)
    config.update(column_config or {})
    dataframe(df, config, height=height)
    st.download_button(f"Download {file_name}", csv_bytes(df), file_name=file_name, mime="text/csv",
                       key=f"dl_{file_name}")


def dataframe(df: pd.DataFrame, column_config: dict | None = None, height: int | None = None) -> None:
    """``st.dataframe`` as every page shows one: no index, "—" when missing, full width, :func:`percent_shown`."""
    shown, config = percent_shown(df, column_config or {})
    st.dataframe(shown, hide_index=True, placeholder=MISSING, width="stretch", column_config=config,
                 height=height or "auto")


def percent_shown(df: pd.DataFrame, column_config: dict) -> tuple[pd.DataFrame, dict]:
    """Streamlit's ``format="percent"`` drops trailing zeros ("5%" beside "2.85%" in one column): such fractions
    are shown ×100 with one decimal instead ("5.0%", "2.9%"), a progress bar's scale with them. The frame a page
    downloads is not this one: it keeps the fractions."""
    out, config = df.copy(), dict(column_config)
    for c, cfg in column_config.items():
        spec = cfg.get("type_config") if isinstance(cfg, dict) else None
        if spec and spec.get("format") == "percent" and c in df.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce") * 100
            config[c] = {**cfg, "type_config": {**spec, "format": "%.1f%%"} | {
                k: spec[k] * 100 for k in ("min_value", "max_value", "step") if spec.get(k) is not None}}
    return out, config


def progress_callback(status, bar):
    def update(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)
        status.update(label=message)
    return update


def flash(message: str) -> None:
    """A success message that survives the rerun after a write (shown by ``show_flash``)."""
    st.session_state["_flash"] = message


def show_flash() -> None:
    message = st.session_state.pop("_flash", None)
    if message:
        st.success(message)


def after_write() -> None:
    st.cache_data.clear()


def write_button(who: Actor, label: str, permission: str, do, done: str) -> None:
    """A button for one write: disabled with the reason when the role may not make it; on click the write runs,
    errors show as st.error, caches are cleared and ``done`` is shown after the rerun."""
    if st.button(label, disabled=not who.can(permission), help=why_not(who, permission)):
        with user_errors():
            do()
            after_write()
            flash(done)
            st.rerun()
