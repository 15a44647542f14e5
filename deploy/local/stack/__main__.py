"""`python -m deploy.local.stack --help`."""

import sys

from .cli import main

sys.exit(main())
