"""Adapters to external programs (promtool, amtool); the pure core never imports these."""
