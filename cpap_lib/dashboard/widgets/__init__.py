"""Widgets the pages share: charts, fields, messages and background work, device comparison, theme."""
