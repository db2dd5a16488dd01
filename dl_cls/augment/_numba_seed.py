"""Seed numba's own RNGs: jitted code (augraphy's DirtyRollers, Folding, ...) draws from numba's per-thread
states, which `random.seed` / `np.random.seed` called from Python never touch. In nopython mode `random` and
`np.random` have separate states, so both are seeded."""
import random

import numba
import numpy as np


@numba.njit(cache=True)
def seed_numba(seed):
    random.seed(seed)
    np.random.seed(seed)
