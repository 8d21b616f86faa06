"""Monitoring (spec §9): drift against a reference frozen at training, performance on matured cohorts only,
feed health, retrain triggers, tiered alerts and champion–challenger shadow scoring."""
