#!/usr/bin/env python3
"""nova-resize-sim's command line. ``python run_sim.py --help`` for the commands."""
import sys

from simulator.commands.cli import main

if __name__ == "__main__":
    sys.exit(main())
