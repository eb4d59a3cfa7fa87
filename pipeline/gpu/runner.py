"""``pipeline gpu run --gpus N -- CMD``: run a command on N leased GPUs and return its exit code."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from pipeline.foundation import proc
from pipeline.foundation.errors import OperationFailed, UsageError
from pipeline.foundation.output import log
from pipeline.gpu.leases import acquire, lease_dir
from pipeline.gpu.nvml import Inventory, visible
from pipeline.gpu.settings import GpuSettings

NO_GPU_HINT = "run this on a machine with an NVIDIA GPU and driver (`pipeline gpu info` shows what NVML sees)"


def leasable(inventory: Inventory, count: int, what: str) -> list[str]:
    """UUIDs that may be leased here, after checking that ``count`` of them can ever be free."""
    if not inventory.available:
        raise OperationFailed(f"{what}: {inventory.reason}", NO_GPU_HINT)
    uuids = [gpu.uuid for gpu in visible(inventory)]
    if count < 1:
        raise UsageError(f"{what}: --gpus {count}: must be at least 1", "pass --gpus 1 or more")
    if count > len(uuids):
        raise UsageError(
            f"{what}: --gpus {count}, but this host has {len(uuids)} usable GPU(s)",
            "ask for fewer GPUs, or check CUDA_VISIBLE_DEVICES and `pipeline gpu info`",
        )
    return uuids


def exit_status(returncode: int) -> int:
    """A child killed by signal N exits like a shell reports it: 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def run_command(
    command: Sequence[str], count: int, inventory: Inventory, settings: GpuSettings, timeout: float | None = None
) -> int:
    if not command:
        raise UsageError("gpu run: no command given", "write it after `--`: pipeline gpu run --gpus 1 -- cargo test")
    uuids = leasable(inventory, count, "gpu run")
    shown = shlex.join(command)
    wait = settings.lease_timeout if timeout is None else timeout
    # The holder record names the program only: the command line may carry tokens.
    lease = acquire(lease_dir(settings.lease_dir), uuids, count, timeout=wait, command="pipeline gpu run",
                    progress=log)
    assert lease is not None  # no should_stop given: acquire either leases or raises
    with lease:
        log(f"gpu run: leased {lease.cuda_visible_devices}; running `{shown}`")
        result = proc.run(list(command), env={"CUDA_VISIBLE_DEVICES": lease.cuda_visible_devices,
                                              "PIPELINE_GPU_LEASE": lease.cuda_visible_devices},
                          check=False, capture=False)
    return exit_status(result.returncode)
