"""The bottom layer: errors, output, the one subprocess wrapper, settings fields. Imports nothing above it."""
