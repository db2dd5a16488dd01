"""Errors a user can act on. The CLI prints them without a traceback and exits 2."""


class DlClsError(Exception):
    """A failure caused by input or state the user controls (bad file, existing run dir, ...)."""


class DataError(DlClsError):
    """Bad input data: carries every problem found, not only the first."""

    def __init__(self, problems: list[str], header: str = "data problems found"):
        self.problems = list(problems)
        lines = [f"{header} ({len(self.problems)}):"] + [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


# ---------------------------------------------------------------------------------------------- disk full
def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC / EDQUOT, or torch.save's form of it: a RuntimeError from its zip writer (inline_container.cc)."""
    import errno

    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, RuntimeError):
        text = str(exc)
        writer = "inline_container" in text and any(w in text for w in ("Writer", "write", "unexpected pos"))
        return "No space left" in text or writer
    return False


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KB'."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def disk_full_message(exc: BaseException) -> str:
    """One line: the file that did not fit (when known), the space left on its filesystem, what to do."""
    import shutil
    from pathlib import Path

    filename = getattr(exc, "filename", None)
    probe = Path(filename).resolve().parent if filename else Path.cwd()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = f"{human_bytes(shutil.disk_usage(probe).free)} free on the filesystem of {probe}"
    except OSError:
        free = f"free space of {probe} unknown"
    what = f"writing {filename}" if filename else "writing (file not known)"
    partial = getattr(exc, "partial_bytes", None)
    if partial:  # removed since, so the free space below does not count it
        what += f", {human_bytes(partial)} of it written before the disk filled"
    return (f"disk full {what} ({free}); what was written before is whole: free some space, then re-run the "
            "same command to resume")
