"""``python -m processor.devkafka start|stop|status``."""

import sys

from processor.devkafka.cli import main

sys.exit(main())
