"""``python -m cpap_lib.cli``: the ``cpap-lab`` command line."""

import sys

from . import main

sys.exit(main())
