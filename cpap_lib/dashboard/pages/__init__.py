"""Pages: what each notebook in ``notebooks/`` builds and displays (monitor, overview, station, bedside, explorer)."""
