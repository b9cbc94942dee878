"""Spec-driven Beacon API fixture generator for valwatch (see ../README.md)."""
