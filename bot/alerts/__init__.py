"""What a person can shape about their alerts: subscription options, mutes, digest periods.

options.py    `digest=`, `tz=`, `format=`: the OPTIONS grammar and AlertOptions (pure)
schedule.py   DigestSchedule: `daily@HH:MM` / `weekly@DAY@HH:MM` and the next due instant
mute_terms.py `FILTER for 6h` / `FILTER until 2026-12-01`: what a mute command asks for (pure)
targets.py    which subscription of a channel wins for a brief, and whether it is muted (pure)
digest_lines.py  a period's briefs grouped by topic and split into messages that fit (pure)
"""
