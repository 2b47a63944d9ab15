"""`python -m kanglu.sandbox`: the same as `kanglu sandbox`."""

import sys

from kanglu.sandbox.cli import main

sys.exit(main())
