import sys

from helpers.memory.validate import main

sys.exit(main())
