"""Errors a user can act on. The CLI prints them without a traceback and exits 2."""


class DlClsError(Exception):
    """A failure caused by input or state the user controls (bad file, existing run dir, ...)."""


class DataError(DlClsError):
    """Bad input data: carries every problem found, not only the first."""

    def __init__(self, problems: list[str], header: str = "data problems found"):
        self.problems = list(problems)
        lines = [f"{header} ({len(self.problems)}):"] + [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))
