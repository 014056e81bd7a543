"""The thin `selfexec` command-line face: argument parsing and recipe loading only."""
