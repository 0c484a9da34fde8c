"""`calbridge demo`: the whole system against the sandbox in one process, playing a scripted
scenario as people on both sides and checking that every change arrives.

- `scenario`: the script, as data (who acts where, what must then be seen);
- `runner`: plays it, measures latency, judges the run (pure apart from the injected people);
- `people`: act on and read the sandbox's calendars through its control API;
- `stack`: starts and stops the services in-process; `provision`: connections, calendars, pairs;
- `render`: the terminal output; `session`: one run, end to end.
"""
