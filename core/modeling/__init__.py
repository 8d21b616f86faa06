"""Training that earns trust: time-ordered splits, selection, imbalance comparison, tuning, segment-aware
calibration, honest evaluation against baselines, backtests, and the model registry."""
