"""The `salesperf` command line."""
