"""The engine: what any discrete-event model of RPC services could reuse.

An environment with background events, a message bus with oslo.messaging's call, cast
and reply, worker pools on topic queues, time-weighted monitors, max-min bandwidth
sharing over a topology, the trace recorder, named random streams, distributions,
units, name ranges, statistics, YAML loading with line numbers and the validation
helpers that turn a schema's errors into one clear line.

Nothing here knows Nova: modules import only the standard library, simpy, numpy,
networkx, pyyaml, pydantic and each other (``tests/test_architecture.py`` checks it).
"""
