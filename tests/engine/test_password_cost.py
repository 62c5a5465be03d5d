"""Stored passwords are argon2id hashes at the cost the product promises, not the test suite's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_real_process_stores_passwords_as_argon2id_at_64_mib_and_three_passes():
    # In a process of its own: the suite's conftest lowers the cost for the tests in this one.
    out = subprocess.run(
        [sys.executable, "-c", "from engine.people import hash_password; print(hash_password('s3cret'))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert out.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), out
    checked = subprocess.run(
        [
            sys.executable, "-c",
            f"from engine.people import check_password; print(check_password({out!r}, 's3cret'), "
            f"check_password({out!r}, 'S3cret'))",
        ],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert checked == ["True", "False"]
