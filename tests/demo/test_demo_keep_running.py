"""`calbridge demo --keep-running` as a person starts it: it plays the scenario, prints where
everything is, stays up, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_given_keep_running_when_the_scenario_ends_then_endpoints_are_printed_and_serve_until_ctrl_c() -> (
    None
):
    env = dict(os.environ, COLUMNS="100", PYTHONUNBUFFERED="1")
    for name in ("CALBRIDGE_AMQP_URL", "CALBRIDGE_DATABASE_URL"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "calbridge_app", "demo", "--keep-running", "--step-timeout", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if "Routes of the control API" in line:
                break
        text = "\n".join(lines)
        receiver = re.search(r"^\s+receiver\s+https://\S+\s+\(HTTPS: curl --cacert (\S+)\)$", text, re.M)
        metrics = re.search(r"^\s+metrics\s+(https://127\.0\.0\.1:\d+/metrics)$", text, re.M)
        control = re.search(r"^\s+sandbox control API\s+(http://127\.0\.0\.1:\d+/_control)$", text, re.M)
        assert receiver and metrics and control, text
        assert "Still running" in text and "curl -s -X POST" in text

        # The receiver serves HTTPS with a certificate the sandbox's CA signed
        trust = ssl.create_default_context(cafile=receiver.group(1))
        with urllib.request.urlopen(metrics.group(1), timeout=5, context=trust) as answer:
            assert answer.status == 200 and b"# TYPE" in answer.read()
        with urllib.request.urlopen(control.group(1), timeout=5) as answer:
            assert answer.status == 200

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) in (0, 1), text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
