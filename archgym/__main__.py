"""``python -m archgym``: the same command line as ``archgym``."""

from archgym.cli import main

raise SystemExit(main())
