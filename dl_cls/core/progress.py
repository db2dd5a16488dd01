"""Progress of a long step, the way the trainer shows it: a tqdm bar when stderr is a terminal, and in a log file
(nohup, CI, `make ... 2>log`) a few plain lines instead of thousands of bar redraws."""
from __future__ import annotations

import sys
import time

QUARTERS = (0.25, 0.5, 0.75)


class Progress:
    """update(n) as work is done; a bar in a terminal, otherwise a line at each quarter and one at the end."""

    def __init__(self, total: int, desc: str, unit: str = "it", initial: int = 0, enabled: bool = True,
                 stream=None):
        self.total, self.desc, self.unit, self.done = int(total), desc, unit, int(initial)
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.total > 0
        self._start, self._t0, self._next = int(initial), time.perf_counter(), 0
        self._bar = None
        if self.enabled and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=self.done, desc=desc, unit=unit, file=self.stream,
                             smoothing=0.05, leave=False)
        while self._next < len(QUARTERS) and self.done >= QUARTERS[self._next] * self.total:
            self._next += 1  # a resumed step does not report the quarters it had already passed

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        while self.enabled and self._next < len(QUARTERS) and self.done >= QUARTERS[self._next] * self.total:
            self._next += 1
            if self.done < self.total:
                self._line(f"{self.done}/{self.total} {self.unit} ({100 * self.done // self.total}%)")

    def _line(self, what: str) -> None:
        elapsed = time.perf_counter() - self._t0
        rate = (self.done - self._start) / elapsed if elapsed > 0 else 0.0
        print(f"{self.desc}: {what}, {elapsed:.1f} s, {rate:.1f} {self.unit}/s", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled:
            self._line(f"{self.done}/{self.total} {self.unit} done")
            self.enabled = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
