"""Alertmanager configuration: generation, and the route/inhibition model used to analyse it."""
