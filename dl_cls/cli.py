"""The `dl-cls` command: one subcommand per stage.

Each subcommand lives in its stage's module, imported only when it runs (so `dl-cls check-data` does not pay
for importing torch). A module defines `add_arguments(parser)` and `run(args) -> int`.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys

from dl_cls.core.errors import DlClsError, disk_full_message, is_disk_full
from dl_cls.core.procs import Terminated, on_sigterm_interrupt

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "sample": ("dl_cls.data.sample_cli", "generate the embedded sample dataset (competition format)"),
    "check-data": ("dl_cls.data.check_cli", "validate a data dir and print a summary"),
    "folds": ("dl_cls.data.folds_cli", "write WORK/folds.csv (stratified k-fold over train IDs)"),
    "augment": ("dl_cls.augment.cli", "offline augmentation: WORK/aug/<preset>_x<scale>/"),
    "config": ("dl_cls.train.config_cli", "the resolved training config of MODEL and where each value came from"),
    "train": ("dl_cls.train.cli", "k-fold training of one model config: WORK/runs/<name>/"),
    "merge-folds": ("dl_cls.train.merge_cli", "merge folds trained in separate processes into oof/test_probs"),
    "predict": ("dl_cls.train.predict_cli", "test probabilities for an image folder with a run's models + TTA"),
    "sweep-fraction": ("dl_cls.train.sweep_cli", "train on fractions of the augmented set; table + plot"),
    "ensemble": ("dl_cls.ensemble.cli", "voting / stacking / specialists over runs -> submission.csv"),
    "pseudo": ("dl_cls.pseudo.cli", "pseudo-label confident test images with an ensemble: WORK/pseudo/<name>/"),
    "runs": ("dl_cls.ledger.cli", "ledger of every run and ensemble in WORK: settings, scores, state; --csv, --plot"),
    "report": ("dl_cls.report.cli", "confusion matrix, per-class F1, confused pairs, error gallery"),
    "check-submission": ("dl_cls.ensemble.check_cli", "validate a submission.csv against sample_submission"),
    "score": ("dl_cls.report.score_cli", "macro F1 of a submission against a labels CSV"),
    "ocr": ("dl_cls.ocr.cli", "read the documents (OCR, orientation-normalised); --classes: OCR expert run"),
    "orient": ("dl_cls.ocr.orient_cli", "page turn x mirror model learned from the train pages: WORK/runs/orient-*/"),
    "profile": ("dl_cls.profile.cli", "image statistics of folders side by side; --fit a test-like config"),
}


class _OncePerCommand(logging.Filter):
    """A warning repeated word for word within one command is said once (train loads its data dir twice, and
    the label-fix note came with each load)."""

    def __init__(self):
        super().__init__()
        self.said: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        message = record.getMessage()
        if message in self.said:
            return False
        self.said.add(message)
        return True


def _say_once(logger: logging.Logger) -> None:
    """A fresh filter per command: main() may run several commands in one process (the tests do)."""
    for old in [f for f in logger.filters if isinstance(f, _OncePerCommand)]:
        logger.removeFilter(old)
    logger.addFilter(_OncePerCommand())


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: dl-cls COMMAND [options]   (dl-cls COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # albumentations must not try the network on import
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("dl_cls").setLevel(logging.INFO)
    _say_once(logging.getLogger("dl_cls"))
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from dl_cls import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"dl-cls: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, help_ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"dl-cls {name}: not implemented yet", file=sys.stderr)
        return 3
    parser = argparse.ArgumentParser(prog=f"dl-cls {name}", description=help_)
    module.add_arguments(parser)
    args = parser.parse_intermixed_args(rest)  # key=value overrides may come before or after options
    on_sigterm_interrupt()  # SIGTERM stops a stage as Ctrl-C does (a background job ignores SIGINT)
    return _run(name, module, args)


def _run(name: str, module, args) -> int:
    """Run one stage; what a user can act on is one line on stderr and an exit code, never a traceback."""
    try:
        code = int(module.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except DlClsError as exc:
        print(f"dl-cls {name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated): say how to go on, as both stop alike
        stopped = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
        print(f"dl-cls {name}: {stopped}; {_resume_hint(module, args)}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:  # `dl-cls folds | head`: the reader left; not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (OSError, RuntimeError) as exc:  # a path it cannot write, a full disk: one line
        line = _os_error_line(exc)
        if line is None:
            raise
        print(f"dl-cls {name}: error: {line}", file=sys.stderr)
        return 2


def _resume_hint(module, args) -> str:
    """How to go on after a stop: the stage's own words (train without --name would start a new run), else the
    rule every stage keeps (finished work is kept, re-running does the rest)."""
    hint = getattr(module, "resume_hint", None)
    return hint(args) if hint else "re-run the same command to resume"


# a path the command may not or cannot write: read-only filesystem (EROFS), permissions (EACCES, EPERM)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)
PATH_ERRORS = (IsADirectoryError, NotADirectoryError, FileExistsError)


def _os_error_line(exc: BaseException) -> str | None:
    """The one line for an OS error a user can act on (a path it cannot use, a full disk), else None."""
    if is_disk_full(exc):  # ENOSPC, or torch.save's RuntimeError for it
        return disk_full_message(exc)
    if isinstance(exc, PATH_ERRORS) or (isinstance(exc, OSError) and exc.errno in NOT_WRITABLE):
        return _path_message(exc)
    return None


def _path_message(exc: OSError) -> str:
    """A path the command could not use; a dangling link is named as such (mkdir calls it 'File exists')."""
    path = exc.filename
    if path and os.path.islink(path) and not os.path.exists(path):
        return (f"{path} is a symbolic link to {os.readlink(path)}, which does not exist (a dangling link): create "
                "what it points to, or give another path")
    if exc.errno == errno.EROFS:
        return f"{path or '?'}: {exc.strerror} (the filesystem is mounted read-only: give a path on a writable one)"
    return f"{path or '?'}: {exc.strerror} (check the path and its permissions)"


if __name__ == "__main__":
    sys.exit(main())
