"""`python -m motionscore.server.cli`: the `motionscore` command."""

import sys

from . import main

sys.exit(main())
