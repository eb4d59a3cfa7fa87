"""GPUs: NVML inventory, leases, scheduling."""
