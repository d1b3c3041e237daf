"""On call as teams run it: people, schedules of rotation layers, overrides, incident roles,
response times, and acting on incidents from Slack and PagerDuty (docs/oncall.md).

rotation.py and stats.py are the pure core; models.py the tables; service.py the database side;
slack.py and pagerduty.py the integrations; api.py the routes; commands.py the CLI.
"""
