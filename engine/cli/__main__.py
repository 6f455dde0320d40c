"""`python -m engine.cli`: the `semzip` command."""
import sys

from engine.cli.cli import main

sys.exit(main())
