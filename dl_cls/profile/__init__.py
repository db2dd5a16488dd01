"""The profile stage: image statistics of folders side by side (train vs test vs test-like), and a test-like
corruption config fitted to an unlabelled test folder. Reads images, writes a table, plots and a YAML config;
imports only the lower layers (imgstats, orient, testlike, config, io, viz)."""
