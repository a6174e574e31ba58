"""`python -m autoslo.cli ...`: the same as the `autoslo` console command."""

from autoslo.cli import main

main()
