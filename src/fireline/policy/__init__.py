"""Error-budget policy: tiers by budget remaining, automated actions, exclusions and the deploy gate."""
