"""Experiments that prove the lift (spec §8, §9.4): design and power, lead-level blocked assignment,
dials, readouts with SRM, delta-method ratio metrics, CMH, CUPED-style adjustment and sequential looks,
and the A/A test that shows the statistics are honest."""
