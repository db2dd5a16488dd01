"""`dl-cls runs`: the ledger of every run and ensemble in a work dir."""
