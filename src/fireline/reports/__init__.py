"""SLO reports: how each service's SLOs did over a month, a week or the last N days (`fireline report`)."""
