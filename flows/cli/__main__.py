"""`python -m flows.cli`: the `stylemotion` command line run as a module."""

import sys

from flows.cli import main

sys.exit(main())
