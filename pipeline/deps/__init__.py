"""Dependency health: duplicate versions and security advisories."""
