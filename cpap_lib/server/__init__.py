"""The sleep-lab REST server: FastAPI app, database, routes and a process launcher.

- :func:`cpap_lib.server.app.create_app` builds the app from :class:`~.settings.Settings`.
- :func:`cpap_lib.server.process.start_server` runs it in a child process
  (tests, benchmarks, ``cpap-lab demo``); ``cpap-lab serve`` runs it in the foreground.
"""
