"""Salesforce both ways: config and secrets, the simple-salesforce client, the write-back payload, pull and
push with their ledgers, and a local HTTPS stand-in for tests and demos."""
