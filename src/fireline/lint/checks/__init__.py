"""The checks, one module per check or per small group of checks that read the same thing."""
