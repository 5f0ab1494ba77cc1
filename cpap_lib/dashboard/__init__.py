"""Voilà dashboards built from ipywidgets containers and bqplot charts.

- :mod:`.pages`: what a notebook in ``notebooks/`` builds and displays.
  Staff: :mod:`.pages.monitor` = :mod:`.pages.overview` (ward cards) +
  :mod:`.pages.station` (one room); bedside: :mod:`.pages.bedside`;
  researchers: :mod:`.pages.explorer` (:class:`~.pages.explorer.SignalExplorer`).
- :mod:`.widgets`: pieces the pages share: :mod:`.widgets.charts`
  (:class:`~.widgets.charts.FlowChart`, :class:`~.widgets.charts.TrendChart`),
  :mod:`.widgets.fields` (validation and formatting), :mod:`.widgets.common`
  (message bar, escaping, background tasks, debouncing, error wrappers),
  :mod:`.widgets.device_comparison` (ResMed device scoring beside ours),
  :mod:`.widgets.theme` (CSS, headers).
- :mod:`.runtime`: how pages run: :mod:`.runtime.voila_app` (the one place
  Voilà is configured and started, with its page template in ``share/``),
  :mod:`.runtime.poller` (self-refreshing pages), :mod:`.runtime.connection`
  (the server from the environment).

Submodules are imported on demand, so importing one dashboard does not pay
for the others.
"""
