"""Tools above the library layers: the demo, benchmarks, the soak run and the RealSense
command line. They may import any layer; no library module imports them."""
