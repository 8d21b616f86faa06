"""Lead scoring engine for RevOps teams: the core that both the control panel and `python -m core` use."""

__version__ = "0.1.0"
