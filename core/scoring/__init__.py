"""Daily scoring: calibrated probabilities, drivers, capacity-sized tiers and the degradation hierarchy."""
