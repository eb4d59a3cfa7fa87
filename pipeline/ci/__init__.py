"""Generated CI: job model, rendering, drift check."""
