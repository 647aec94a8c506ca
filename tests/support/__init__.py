"""Test helpers: fixture builders shared by unit and integration tests."""
