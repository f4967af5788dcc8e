"""``python -m firstcall``: the same as the ``firstcall`` command (used by ``serve`` for its
children, so it works from a virtualenv that is not activated)."""

import sys

from firstcall.cli import main

sys.exit(main())
