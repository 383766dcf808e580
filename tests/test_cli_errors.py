"""The CLI's top-level handler: user errors are one line (exit 1); bugs say 'internal error' and keep the traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

import galssl.cli as cli
from galssl.errors import ConfigError


def _parser_running(func):
    def build_parser() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="galssl")
        parser.set_defaults(func=func)
        return parser
    return build_parser


def test_user_error_is_one_line_and_exit_1(monkeypatch, capsys):
    def fails(args):
        raise ConfigError("config error: surveys.sdss.pixel_scale_arcsec must be > 0 (got -0.4)")

    monkeypatch.setattr(cli, "build_parser", _parser_running(fails))
    with pytest.raises(SystemExit) as stop:
        cli.main([])
    assert stop.value.code == 1
    assert capsys.readouterr().err == ("galssl: error: config error: surveys.sdss.pixel_scale_arcsec must be > 0 "
                                       "(got -0.4)\n")


def test_bug_is_reported_as_internal_error_with_its_traceback_in_the_log(monkeypatch, capsys):
    def crashes(args):
        return {}["missing"]

    monkeypatch.setattr(cli, "build_parser", _parser_running(crashes))
    with pytest.raises(SystemExit) as stop:
        cli.main([])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")  # stderr is not a terminal: it is the log
    assert "return {}[\"missing\"]" in err
    assert err.rstrip().splitlines()[-1] == ("galssl: internal error (KeyError: 'missing'); please report it with "
                                             "the traceback above")


def test_real_command_with_bad_input_exits_1_with_one_line(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("seed: 1\nsurveys: {}\n")
    result = subprocess.run([sys.executable, "-m", "galssl.cli", "validate-config", str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "surveys" in result.stderr
