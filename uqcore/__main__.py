import sys

from uqcore.cli import main

sys.exit(main())
