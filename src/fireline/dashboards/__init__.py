"""Dashboards generated from specs (Grafana)."""
