import sys

from ganaug.cli import main

sys.exit(main())
