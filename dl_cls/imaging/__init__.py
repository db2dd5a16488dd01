"""Image code shared by the stages, on plain numpy/OpenCV: page geometry (skew, deskew, turns), per-image
statistics, the test-like degradation and captioned image grids."""
