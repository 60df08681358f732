"""On-device model monitoring (issue 17): the spec of what the firmware counts (spec.py), the numpy
mirror of its counters (stats.py), a reading (snapshot.py), the build's baseline (baseline.py), the
drift judgement (drift.py), the reading/replay loop (session.py) and monitor.html (report.py)."""
