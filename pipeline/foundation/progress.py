"""Progress of long work (nvcc jobs, cargo stages, release builds), on stderr only.

Three modes, chosen by :func:`choose_mode`:

* ``rich``: stderr is a terminal and ``$CI`` is unset: a live ``rich`` progress bar (count,
  elapsed time, what is running). Work whose child tools write to the terminal themselves
  (cargo draws its own bar) gets styled start and finish lines instead of a live display,
  which would be torn by the child's output (``live=False``).
* ``plain``: in CI (``$CI`` set) or when stderr is not a terminal: one line per finished job, and
  a heartbeat line naming what is still running whenever nothing was printed for
  :data:`HEARTBEAT_SECONDS`, so a CI log never sits silent through a long compile.
* ``off``.

stdout is never touched: ``--json`` output stays one document. Counts come from the one
``total`` the caller passes and the ``count`` of each finished job, so a caller that reports the
same numbers in its summary cannot disagree with its progress lines.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Literal, TextIO

Mode = Literal["rich", "plain", "off"]

HEARTBEAT_SECONDS = 10.0
RUNNING_SHOWN = 4  # labels named in a heartbeat or the live display; the rest are counted

# The open reporters, outermost first. Work nests (a release gate runs a cargo stage, which
# has its own reporter): only the innermost one heartbeats, as it names the more precise work,
# and only one may hold rich's live display (rich allows one per console).
_OPEN: list[Progress] = []
_OPEN_LOCK = threading.Lock()


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    """``$CI`` is set to anything but ``""``, ``0`` or ``false`` (GitHub, GitLab and most CI set ``CI=true``)."""
    value = (os.environ if env is None else env).get("CI", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def rich_available() -> bool:
    try:
        import rich.progress  # noqa: F401
    except ImportError:
        return False
    return True


def choose_mode(enabled: bool | None = None, *, stream: TextIO | None = None,
                env: Mapping[str, str] | None = None) -> Mode:
    """``enabled=False``: off; otherwise rich on an interactive terminal (when rich is importable), else plain."""
    if enabled is False:
        return "off"
    stream = sys.stderr if stream is None else stream
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        terminal = False
    if in_ci(env) or not terminal:
        return "plain"
    return "rich" if rich_available() else "plain"


def escape(text: str) -> str:
    """``text`` safe inside rich markup: a feature set label ``[default]`` is not a style tag."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 60 else f"{int(value // 60)} min {int(value % 60)} s"


class Progress:
    """Progress of ``total`` units of work (None: unknown) under ``title`` (``cuda``, ``release gates``).

    ``started(label)`` when a job begins, ``finished(label, count=...)`` when it ends (``count``:
    how many units it completed). Thread-safe: jobs may start and finish on pool threads.
    ``announce``: a line when a job starts too; ``lines=False``: no line per job (the caller prints
    its own), only the heartbeat. ``clock`` and ``background=False`` let tests drive the
    heartbeat with :meth:`tick`.
    """

    def __init__(
        self,
        title: str,
        total: int | None,
        *,
        verb: str = "finished",
        mode: Mode | None = None,
        enabled: bool | None = None,
        stream: TextIO | None = None,
        console: Any = None,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: float = HEARTBEAT_SECONDS,
        live: bool = True,
        announce: bool = False,
        lines: bool = True,
        background: bool = True,
    ) -> None:
        self.title, self.total, self.verb = title, total, verb
        self.stream = sys.stderr if stream is None else stream
        if console is not None and mode is None:
            mode = "rich"
        self.mode: Mode = mode or choose_mode(enabled, stream=self.stream)
        if self.mode == "rich" and console is None and not rich_available():
            self.mode = "plain"
        self.done = 0
        self._clock, self._heartbeat, self._live, self._announce = clock, heartbeat, live, announce
        self._background, self._lines = background, lines
        self._running: dict[str, float] = {}  # label -> start time, in start order
        self._lock = threading.Lock()
        self._started = clock()
        self._last_line = self._started
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._console = console
        self._bar: Any = None
        self._task: Any = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Progress:
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> None:
        with _OPEN_LOCK:
            if any(p._bar is not None for p in _OPEN):
                self._live = False
            _OPEN.append(self)
        if self.mode == "rich":
            self._open_rich()
        elif self.mode == "plain" and self._background and self._heartbeat > 0:
            self._thread = threading.Thread(target=self._beat, name=f"progress:{self.title}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        with _OPEN_LOCK:
            if self in _OPEN:
                _OPEN.remove(self)
            outer = _OPEN[-1] if _OPEN else None
        if outer is not None:
            outer._quiet_since_now()

    def _quiet_since_now(self) -> None:
        # The inner reporter just printed its last line: no heartbeat right after it.
        with self._lock:
            self._last_line = self._clock()

    def _innermost(self) -> bool:
        with _OPEN_LOCK:
            return not _OPEN or _OPEN[-1] is self or self not in _OPEN

    # -- events ------------------------------------------------------------------------------

    def started(self, label: str) -> None:
        with self._lock:
            self._running[label] = self._clock()
            if not self._lines:
                pass
            elif self.mode == "plain" and self._announce:
                self._write(f"{self.title}: {self._count(self.done + 1)}{label} ...")
            elif self.mode == "rich":
                if self._bar is not None:
                    self._refresh_rich()
                elif self._announce:
                    self._console.print(f"[bold cyan]{escape(self.title)}[/] {escape(self._count(self.done + 1))}"
                                        f"{escape(label)} ...", highlight=False)

    def finished(self, label: str, *, count: int = 1, ok: bool = True, seconds: float | None = None,
                 note: str = "") -> None:
        """``label`` ended; ``seconds`` defaults to the time since its ``started`` (none shown if it never started)."""
        with self._lock:
            begun = self._running.pop(label, None)
            if seconds is None and begun is not None:
                seconds = self._clock() - begun
            self.done += count
            verb = self.verb if ok else "failed"
            tail = (f" ({_seconds(seconds)})" if seconds is not None else "") + (f": {note}" if note else "")
            if not self._lines:
                pass
            elif self.mode == "plain":
                self._write(f"{self.title}: {self._count(self.done)}{verb} {label}{tail}")
            elif self.mode == "rich":
                if self._bar is not None:
                    if not ok:
                        self._bar.console.print(f"[red]failed[/] {escape(label)}{escape(tail)}", highlight=False)
                    self._refresh_rich(advance=count)
                else:
                    mark = "[green]ok[/]" if ok else "[bold red]FAIL[/]"
                    self._console.print(f"[bold cyan]{escape(self.title)}[/] {escape(self._count(self.done))}{mark} "
                                        f"{escape(label)}{escape(tail)}", highlight=False)

    def tick(self) -> None:
        """Print a heartbeat if nothing was printed for the heartbeat interval (plain mode)."""
        with self._lock:
            if self.mode != "plain" or self._heartbeat <= 0:
                return
            now = self._clock()
            if not self._innermost():  # the nested reporter speaks for the work
                self._last_line = now
                return
            if now - self._last_line < self._heartbeat:
                return
            self._write(self.heartbeat_line(now))

    def heartbeat_line(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        elapsed = _seconds(now - self._started)
        if not self._running:
            return f"{self.title}: {self._count(self.done, done=True)}working ({elapsed} so far)"
        named = [f"{label} ({_seconds(now - begun)})" for label, begun in list(self._running.items())[:RUNNING_SHOWN]]
        more = len(self._running) - len(named)
        return (f"{self.title}: {self._count(self.done, done=True)}still running after {elapsed}: "
                + ", ".join(named) + (f" and {more} more" if more > 0 else ""))

    # -- internals ---------------------------------------------------------------------------

    def _count(self, n: int, done: bool = False) -> str:
        if self.total is None:
            return f"[{n} done] " if done and n else ""
        return f"[{n}/{self.total}] "

    def _write(self, line: str) -> None:
        self._last_line = self._clock()
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed (a daemon, a broken pipe): progress is not worth failing for
            pass

    def _beat(self) -> None:
        while True:
            with self._lock:
                wait = max(0.05, self._last_line + self._heartbeat - self._clock())
            if self._stop.wait(wait):
                return
            self.tick()

    def _open_rich(self) -> None:
        from rich.console import Console

        if self._console is None:
            self._console = Console(file=self.stream)
        if not self._live:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        columns: list[Any] = [SpinnerColumn(), TextColumn("[bold cyan]{task.description}")]
        if self.total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        columns += [TimeElapsedColumn(), TextColumn("{task.fields[running]}")]
        self._bar = Bar(*columns, console=self._console, transient=False)
        self._task = self._bar.add_task(escape(self.title), total=self.total, running="")
        self._bar.start()

    def _refresh_rich(self, advance: int = 0) -> None:
        labels = list(self._running)
        running = ", ".join(labels[:RUNNING_SHOWN]) + (f" +{len(labels) - RUNNING_SHOWN}" if len(labels) > RUNNING_SHOWN
                                                        else "")
        self._bar.update(self._task, advance=advance, running=escape(running))
