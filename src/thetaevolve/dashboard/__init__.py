"""The live dashboard: a local web page over one or more runs, read-only.

An observer: it opens the runs' stores read-only, follows their append-only rows by a
cursor and pushes the new rows to the page as server-sent events; it never writes and never
slows a run. Layout:

* ``runstore``    read-only SQLite access and the cursor queries
* ``eventlog``    following ``metrics.jsonl`` by byte offset
* ``liveness``    running / finished / stopped, without touching the writer's lock
* ``run_info``    what a run directory says about itself (task, record, trust level)
* ``follower``    one run's cursor, totals and recent deltas
* ``encode``      rows as compact columns for the browser
* ``program_view`` one program with its diffs and verdict
* ``watcher``     the threads that poll the followers and prepare snapshots
* ``runs``        ``DashboardRuns``: the runs shown, and what each route answers
* ``handler``     HTTP: routes, the event stream, how answers are sent
* ``server``      ``Dashboard``: those runs served from a socket (builds the handler's server)
* ``command``     the CLI: ``thetaevolve dashboard`` and ``run --dashboard``
* ``static/``     the page: plain JavaScript modules and CSS, shipped in the package

Import ``thetaevolve.dashboard.server.Dashboard`` to serve from Python; this package itself
imports nothing, so the CLI stays quick to start.
"""
