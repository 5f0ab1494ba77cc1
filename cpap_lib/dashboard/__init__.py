"""Voilà dashboards built from ipywidgets containers and bqplot charts.

Shared pieces:

- :mod:`.common`: message bar, HTML escaping, background tasks, debouncing,
  error wrappers for observers.
- :mod:`.charts`: :class:`~.charts.FlowChart` (decimated in the kernel,
  zoom re-decimates, breaths and events marked, PNG) and
  :class:`~.charts.TrendChart` (the night's trends).

Pages (each notebook in ``notebooks/`` only imports, builds and displays one):

- staff: :mod:`.overview` (ward cards), :mod:`.station` (one room),
  :mod:`.monitor`; bedside: :mod:`.bedside`;
- researchers: :mod:`.explorer` (:class:`~.explorer.SignalExplorer`), with
  :mod:`.device_comparison` for ResMed device data.

:mod:`.voila_app` starts Voilà with the project's settings. Submodules are
imported on demand, so importing one dashboard does not pay for the others.
"""
