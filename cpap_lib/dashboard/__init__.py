"""Voilà dashboards built from ipywidgets containers and bqplot charts.

- :mod:`.common`: message bar, HTML escaping, background tasks, error wrappers.
- :mod:`.charts`: :class:`~.charts.FlowChart` (decimated, zoomable flow) and
  :class:`~.charts.TrendChart` (the night's trends).
- :mod:`.explorer`: :class:`~.explorer.SignalExplorer` for researchers.

Submodules are imported on demand, so importing one dashboard does not pay
for the others.
"""
