"""Command-line user errors (``python -m sims`` and ``python -m proofs``): one line on stderr, exit status 2,
no traceback, and nothing run. Each case is checked before any experiment or proof starts, so these tests
are fast (the experiment name is validated first; a real registered name is used so only ``--out`` is wrong)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from proofs.__main__ import main as proofs_main
from sims.harness.cli import check_out_dir
from sims.harness.cli import main as sims_main


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _bad_out_dirs(tmp_path):
    f = tmp_path / "a_file"
    f.write_text("x")
    return {"existing file": str(f), "under a file": str(f / "sub"), "empty": "", "blank": "  ",
            "impossible": "/proc/theorylab_no_such_dir/out"}


@pytest.mark.parametrize("case", ["existing file", "under a file", "empty", "blank", "impossible"])
def test_sims_run_bad_out_is_usage_error(case, tmp_path, capsys):
    out = _bad_out_dirs(tmp_path)[case]
    assert sims_main(["run", "jepa", "--scale", "quick", "--out", out, "--no-progress"]) == 2
    assert "--out" in _one_line_error(capsys)


@pytest.mark.parametrize("case", ["existing file", "empty", "impossible"])
def test_sims_report_bad_out_is_usage_error(case, tmp_path, capsys):
    out = _bad_out_dirs(tmp_path)[case]
    assert sims_main(["report", "--out", out, "--only", "jepa", "--no-progress"]) == 2
    assert "--out" in _one_line_error(capsys)


def test_sims_unknown_experiment_is_usage_error(capsys):
    assert sims_main(["run", "no_such_experiment"]) == 2
    _one_line_error(capsys)
    assert sims_main(["report", "--only", "no_such_experiment"]) == 2
    _one_line_error(capsys)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_dir_is_refused(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="--out.*not writable"):
            check_out_dir("--out", d)
    finally:
        d.chmod(0o700)


def test_check_out_dir_accepts_and_creates(tmp_path):
    d = tmp_path / "new" / "nested"
    assert check_out_dir("--out", d) == d and d.is_dir()
    assert check_out_dir("--out", d) == d  # an existing directory is fine (re-running resumes)
    assert list(d.iterdir()) == []  # the write probe leaves nothing behind


def test_proofs_unknown_module_is_usage_error(capsys):
    assert proofs_main(["no_such_paper", "--quiet"]) == 2
    assert "no_such_paper" in _one_line_error(capsys)


@pytest.mark.parametrize("case", ["existing file", "under a file", "empty", "impossible"])
@pytest.mark.parametrize("flag", ["--markdown", "--latex"])
def test_proofs_bad_output_dir_is_usage_error(flag, case, tmp_path, capsys):
    out = _bad_out_dirs(tmp_path)[case]
    assert proofs_main(["lidar", "--quiet", flag, out]) == 2
    assert flag in _one_line_error(capsys)


def test_no_traceback_through_the_real_entry_points(tmp_path):
    """The ``python -m`` entry points themselves (not only ``main``) exit 2 with one stderr line."""
    f = tmp_path / "a_file"
    f.write_text("x")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    for cmd in (["-m", "sims", "run", "jepa", "--out", str(f)], ["-m", "proofs", "--markdown", str(f), "lidar"]):
        r = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 2, (cmd, r.stderr)
        assert r.stderr.strip().startswith("error: ") and "Traceback" not in r.stderr, r.stderr
