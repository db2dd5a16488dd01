"""The files stages hand to one another in the work dir: run dirs and their state, the current augment set and
pseudo-label sets (schemas, checked reads, pointers)."""
