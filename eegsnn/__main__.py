import sys

from eegsnn.cli import main

sys.exit(main())
