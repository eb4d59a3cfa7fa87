"""CUDA kernels: discovery, nvcc, cache, load test."""
