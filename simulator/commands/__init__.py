"""The commands: the command line and what it runs (run, check, step, explain,
sweep), with the summary, the results and the views they write. The only code that
may import both ``models`` and ``plots``."""
