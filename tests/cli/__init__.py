"""Tests of the `autoslo` command, mirroring autoslo/cli/."""
