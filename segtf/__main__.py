import sys

from segtf.cli import main

sys.exit(main())
