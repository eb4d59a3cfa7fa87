"""The git pre-push hook."""
