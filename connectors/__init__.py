"""Connectors: one module per transport or file format, each behind a small interface."""
