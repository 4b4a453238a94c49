"""``python -m nago ...`` is the ``nago`` command."""

import sys

from nago.cli import main

sys.exit(main())
