"""The ground floor every stage stands on: user errors, file I/O, locks, progress, worker processes, typed configs
and the CLI options several commands share. Imports nothing else of dl_cls."""
