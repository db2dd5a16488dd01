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


def seed_augraphy(seed: int) -> None:
    """Seed everything augraphy draws from. Parallel (prange) jitted code gives each numba thread its own RNG
    state that cannot be seeded from here, so numba runs single-threaded: parallelism comes from processes."""
    if numba.get_num_threads() != 1:
        numba.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    seed_numba(seed)
