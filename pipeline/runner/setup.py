"""`pipeline runner setup`: the shell script that prepares a GPU runner host, rendered for review.

The tool never runs a privileged step itself: it prints (or writes) a bash script
that an administrator reads and runs as root. The script is idempotent (every step
first looks whether its setting is already in place), has a ``--check`` mode that
only says what it would change, an ``--undo`` mode that puts back what it changed
(it keeps the original values under /var/lib/cargo-gpu-pipeline), and installs a
systemd unit that runs it again at boot, since governors, persistence mode and
clock locks do not survive a reboot. Every configured value that reaches the
script was validated by :mod:`pipeline.runner.settings` (names by strict
patterns, numbers as integers), so it cannot carry shell syntax.

`runner setup --check` compares the host with the script's intent through the
same facts and checks as `runner check`, plus the files the script installs.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.runner import host
from pipeline.runner.checks import INFO, MISMATCH, OK, Finding, Report, check
from pipeline.runner.host import HostFacts
from pipeline.runner.settings import RunnerSettings

UNIT_NAME = "cargo-gpu-pipeline-runner.service"
INTENT_CHECKS = ("cpu.governor", "cpu.hugepages", "gpu.nvml", "gpu.persistence", "gpu.locked-graphics",
                 "gpu.locked-memory", "gpu.app-graphics", "gpu.app-memory")


def sysctl_drop_in(settings: RunnerSettings) -> str:
    return ("# cargo-gpu-pipeline runner setup: huge pages reserved at boot\n"
            f"vm.nr_hugepages = {settings.hugepages}")


def unit_text() -> str:
    return "\n".join([
        "[Unit]",
        "Description=cargo-gpu-pipeline GPU runner settings (CPU governor, GPU persistence and clock locks)",
        "After=systemd-modules-load.service nvidia-persistenced.service",
        "",
        "[Service]",
        "Type=oneshot",
        f"ExecStart=/{host.SETUP_SCRIPT} --apply",
        "RemainAfterExit=yes",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ])


def _clock_cases(settings: RunnerSettings) -> str:
    """One `case` arm per configured model, longest name first (the longest contained name applies)."""
    arms = []
    for model in sorted(settings.clocks, key=len, reverse=True):
        clocks = settings.clocks[model]
        if not clocks.any:
            continue
        arms.append(f'      *"{model}"*) lock_clocks "$index" {clocks.graphics} {clocks.memory} '
                    f"{clocks.application_graphics} {clocks.application_memory} ;;")
    arms.append('      *) say "gpu $index ($name): no clocks configured for this model" ;;')
    return "\n".join(arms)


def render(settings: RunnerSettings, source: str) -> str:
    """The script for this configuration; ``source`` names the Cargo.toml it comes from."""
    persistence = "1" if settings.persistence else "0"
    return _TEMPLATE.format(
        source=source,
        governor=settings.governor,
        hugepages=settings.hugepages,
        persistence=persistence,
        sysctl_file=f"/{host.SYSCTL_DROP_IN}",
        sysctl_text=sysctl_drop_in(settings),
        unit_name=UNIT_NAME,
        unit_file=f"/{host.UNIT_FILE}",
        unit_text=unit_text(),
        installed=f"/{host.SETUP_SCRIPT}",
        clock_cases=_clock_cases(settings),
    )


def intent_report(settings: RunnerSettings, facts: HostFacts) -> Report:
    """The host against what the script would set: the runner checks it touches, and its files."""
    findings = [f for f in check(settings, facts).findings if f.check in INTENT_CHECKS and f.status != INFO]
    files = facts.setup_files
    hint = "run the script from `pipeline runner setup` as root"
    if settings.hugepages:
        expected = sysctl_drop_in(settings)
        status = OK if files.sysctl_drop_in == expected else MISMATCH
        actual = "missing" if files.sysctl_drop_in is None else "as rendered" if status == OK else "different"
        findings.append(Finding("setup.sysctl", f"/{host.SYSCTL_DROP_IN}", status, "as rendered", actual, hint))
    expected_unit = unit_text()
    status = OK if files.unit == expected_unit and files.script else MISMATCH
    if files.unit is None:
        actual = "missing"
    elif files.unit != expected_unit:
        actual = "different"
    else:
        actual = "installed" if files.script else f"unit present, /{host.SETUP_SCRIPT} missing"
    findings.append(Finding("setup.unit", f"/{host.UNIT_FILE}", status, "installed (reapplies at boot)", actual, hint))
    return Report(tuple(findings), settings.strict, settings.enforce, facts.root)


def write_script(path: Path, text: str) -> None:
    from pipeline.foundation.errors import OperationFailed

    try:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o755)
        tmp.replace(path)
    except OSError as exc:
        raise OperationFailed(f"runner setup: cannot write {path}: {exc.strerror or exc}",
                              "pass -o a path in a writable directory, or leave -o out to print the script") from None


_TEMPLATE = r"""#!/usr/bin/env bash
# cargo-gpu-pipeline-runner-setup
# GPU runner host setup, rendered by `pipeline runner setup` from
# [workspace.metadata.pipeline.runner] in {source}.
# Review it, then run it as root:
#   sudo bash THIS_SCRIPT           apply (idempotent: a setting already in place is left alone)
#   sudo bash THIS_SCRIPT --check   say what apply would change; changes nothing (exit 1 if anything)
#   sudo bash THIS_SCRIPT --undo    put back what apply changed and remove the boot unit
# apply installs itself as {installed} with the systemd unit
# {unit_name}, which runs it again at every boot: the CPU governor, GPU
# persistence mode and clock locks do not survive a reboot.
# CARGO_GPU_PIPELINE_ROOT=DIR runs it against a copy of the host's files under DIR (a test or
# an image build): paths are taken under DIR and root is not required.
set -euo pipefail

ROOT=${{CARGO_GPU_PIPELINE_ROOT:-}}

GOVERNOR='{governor}'
HUGEPAGES={hugepages}
PERSISTENCE={persistence}
STATE_DIR=$ROOT/var/lib/cargo-gpu-pipeline
SYSCTL_FILE=$ROOT{sysctl_file}
UNIT_NAME={unit_name}
UNIT_FILE=$ROOT{unit_file}
INSTALLED=$ROOT{installed}
CLOCK_TOLERANCE_MHZ=15
MODE=apply
pending=0

SYSCTL_TEXT='{sysctl_text}'
UNIT_TEXT='{unit_text}'

usage() {{
  printf 'usage: %s [--apply | --check | --undo]\n' "$0"
}}

case "${{1:---apply}}" in
  --apply) MODE=apply ;;
  --check) MODE=check ;;
  --undo) MODE=undo ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

say() {{
  printf '%s\n' "$*"
}}

# Run a command that changes the host; --check only says it.
change() {{
  pending=$((pending + 1))
  if [ "$MODE" = check ]; then
    say "would run: $*"
  else
    say "running: $*"
    "$@"
  fi
}}

# Write VALUE into FILE (a /sys knob or a config file) unless it already holds it.
put() {{
  local file=$1 value=$2
  if [ -f "$file" ] && [ "$(cat "$file")" = "$value" ]; then
    return 0
  fi
  pending=$((pending + 1))
  if [ "$MODE" = check ]; then
    say "would write $file"
    return 0
  fi
  say "writing $file"
  if [[ "$file" == "$ROOT/sys/"* || "$file" == "$ROOT/proc/"* ]]; then
    printf '%s\n' "$value" >"$file"  # a kernel knob: written in place
  else
    mkdir -p "$(dirname "$file")"
    printf '%s\n' "$value" >"$file.tmp"
    mv -f "$file.tmp" "$file"
  fi
}}

# Keep the value a setting had before apply changed it (the first one only), for --undo.
remember() {{
  local name=$1 value=$2
  [ "$MODE" = apply ] || return 0
  mkdir -p "$STATE_DIR"
  [ -f "$STATE_DIR/$name" ] || printf '%s\n' "$value" >"$STATE_DIR/$name"
}}

recalled() {{
  cat "$STATE_DIR/$1" 2>/dev/null || true
}}

governor_files() {{
  local file
  for file in "$ROOT"/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor; do
    [ -e "$file" ] && printf '%s\n' "$file"
  done
  return 0
}}

apply_governor() {{
  [ -n "$GOVERNOR" ] || return 0
  local file current found=0
  while IFS= read -r file; do
    found=1
    current=$(cat "$file")
    if [ "$current" != "$GOVERNOR" ]; then
      remember governor "$current"
      put "$file" "$GOVERNOR"
    fi
  done < <(governor_files)
  [ "$found" = 1 ] || say "skip governor: no cpufreq in /sys (a VM or container hides it)"
}}

apply_hugepages() {{
  [ "$HUGEPAGES" -gt 0 ] || return 0
  local current
  current=$(cat "$ROOT/proc/sys/vm/nr_hugepages")
  put "$SYSCTL_FILE" "$SYSCTL_TEXT"
  if [ "$current" -lt "$HUGEPAGES" ]; then
    remember nr_hugepages "$current"
    change sysctl -w "vm.nr_hugepages=$HUGEPAGES"
  fi
}}

near() {{
  local actual=$1 wanted=$2
  [[ "$actual" =~ ^[0-9]+$ ]] || return 1
  [ $((actual > wanted ? actual - wanted : wanted - actual)) -le "$CLOCK_TOLERANCE_MHZ" ]
}}

query() {{
  nvidia-smi -i "$1" --query-gpu="$2" --format=csv,noheader,nounits | tr -d ' '
}}

# lock_clocks INDEX GRAPHICS MEMORY APP_GRAPHICS APP_MEMORY (MHz; 0 leaves that clock alone)
lock_clocks() {{
  local index=$1 graphics=$2 memory=$3 app_graphics=$4 app_memory=$5
  if [ "$graphics" -gt 0 ] && ! near "$(query "$index" clocks.gr)" "$graphics"; then
    change nvidia-smi -i "$index" -lgc "$graphics,$graphics"
  fi
  if [ "$memory" -gt 0 ] && ! near "$(query "$index" clocks.mem)" "$memory"; then
    change nvidia-smi -i "$index" -lmc "$memory,$memory"
  fi
  if [ "$app_graphics" -gt 0 ]; then
    if [ "$(query "$index" clocks.applications.graphics)" != "$app_graphics" ] ||
      [ "$(query "$index" clocks.applications.memory)" != "$app_memory" ]; then
      change nvidia-smi -i "$index" -ac "$app_memory,$app_graphics"
    fi
  fi
}}

gpu_list() {{
  nvidia-smi --query-gpu=index,name,persistence_mode --format=csv,noheader
}}

apply_gpus() {{
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    say "skip GPU steps: nvidia-smi not found (install the NVIDIA driver)"
    return 0
  fi
  local index name mode
  while IFS=, read -r index name mode; do
    name=${{name# }}
    mode=${{mode# }}
    if [ "$PERSISTENCE" = 1 ] && [ "$mode" != Enabled ]; then
      remember "persistence-$index" "$mode"
      change nvidia-smi -i "$index" -pm 1
    fi
    case "$name" in
{clock_cases}
    esac
  done < <(gpu_list)
}}

apply_unit() {{
  if ! command -v systemctl >/dev/null 2>&1; then
    say "skip boot unit: no systemctl (run $INSTALLED at boot some other way)"
    return 0
  fi
  if [ ! -f "$0" ] || ! grep -qx '# cargo-gpu-pipeline-runner-setup' "$0"; then
    say "skip boot unit: run the script from a file (bash FILE), not from a pipe"
    return 0
  fi
  if ! cmp -s "$0" "$INSTALLED"; then
    pending=$((pending + 1))
    if [ "$MODE" = check ]; then
      say "would install $INSTALLED"
    else
      say "installing $INSTALLED"
      mkdir -p "$(dirname "$INSTALLED")"
      install -m 0755 "$0" "$INSTALLED"
    fi
  fi
  local before=$pending
  put "$UNIT_FILE" "$UNIT_TEXT"
  if [ "$pending" != "$before" ]; then
    change systemctl daemon-reload
  fi
  if ! systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
    change systemctl enable "$UNIT_NAME"
  fi
}}

undo() {{
  local file value index
  if [ -f "$UNIT_FILE" ]; then
    systemctl disable "$UNIT_NAME" 2>/dev/null || true
    rm -f "$UNIT_FILE"
    systemctl daemon-reload 2>/dev/null || true
    say "removed $UNIT_FILE"
  fi
  rm -f "$INSTALLED"
  if command -v nvidia-smi >/dev/null 2>&1; then
    while IFS=, read -r index _; do
      nvidia-smi -i "$index" -rgc >/dev/null 2>&1 || true
      nvidia-smi -i "$index" -rmc >/dev/null 2>&1 || true
      nvidia-smi -i "$index" -rac >/dev/null 2>&1 || true
      if [ -f "$STATE_DIR/persistence-$index" ]; then
        nvidia-smi -i "$index" -pm 0 || true
      fi
    done < <(gpu_list)
    say "reset clock locks and application clocks"
  fi
  value=$(recalled governor)
  if [ -n "$value" ]; then
    while IFS= read -r file; do
      printf '%s\n' "$value" >"$file"
    done < <(governor_files)
    say "governor back to $value"
  fi
  if [ -f "$SYSCTL_FILE" ]; then
    rm -f "$SYSCTL_FILE"
    say "removed $SYSCTL_FILE"
  fi
  value=$(recalled nr_hugepages)
  if [ -n "$value" ]; then
    sysctl -w "vm.nr_hugepages=$value"
  fi
  rm -rf "$STATE_DIR"
}}

if [ "$MODE" != check ] && [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  say "run this as root (sudo bash $0 ${{1:-}}); --check needs no privileges" >&2
  exit 1
fi

if [ "$MODE" = undo ]; then
  undo
  exit 0
fi

apply_governor
apply_hugepages
apply_gpus
apply_unit

if [ "$MODE" = check ]; then
  if [ "$pending" -gt 0 ]; then
    say "$pending change(s) pending"
    exit 1
  fi
  say "nothing to change"
elif [ "$pending" -eq 0 ]; then
  say "nothing to change: the host already matches"
fi
"""
