"""Produce a JSON Lines file to a topic or print a topic's records: a thin entry point to the toolbox's client
commands (deploy/local/stack/cli.py), runnable as a plain script where only deploy/local is at hand (the image
test mounts it into the container).

  python deploy/local/kafka_tool.py --bootstrap HOST:PORT produce --topic input FILE
  python deploy/local/kafka_tool.py --bootstrap HOST:PORT consume --topic result [--count N] [--from-beginning]
"""

import sys

from stack.cli import main  # deploy/local/stack: this script's directory is first on sys.path

if __name__ == "__main__":
    sys.exit(main())
