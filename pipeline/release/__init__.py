"""Releases: versions, changelog, git, artifacts."""
