"""cargo-gpu-pipeline: release engineering for Rust + CUDA Cargo workspaces."""

__version__ = "0.1.0"
