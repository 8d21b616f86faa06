"""Data quality: reconciliation across sources (and, later, scorecards and leakage checks)."""
