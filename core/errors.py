"""The one exception type for problems a user can cause and fix.

Its message names the file, row or column at fault and says what to do. The command line prints it and
exits 2 without a traceback; pages show it with `st.error`.
"""


class LeadScoringError(Exception):
    """A user-caused, user-fixable problem (bad file, missing column, no data yet, busy warehouse)."""


class WarehouseBusyError(LeadScoringError):
    """Another writer holds the warehouse; the caller should try again shortly."""


class PermissionDeniedError(LeadScoringError):
    """The signed-in user's role does not allow this action."""
