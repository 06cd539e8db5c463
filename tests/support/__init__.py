"""Helpers every test folder shares (plain functions and classes; the fixtures live in conftest)."""
