import sys

from postpipe.cli import main

sys.exit(main())
