"""Labels and point-in-time features (the training table), the feature catalog and its guards."""
