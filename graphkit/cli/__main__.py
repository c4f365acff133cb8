"""``python -m graphkit.cli``."""

import sys

from . import main

sys.exit(main())
