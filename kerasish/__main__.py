"""``python -m kerasish run CONFIG.yaml ...``: the same as the ``kerasish`` command."""

import sys

from kerasish.cli import main

sys.exit(main())
