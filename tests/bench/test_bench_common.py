"""Shared bench helpers: option parsing, fits, interleaving, and measurements isolated in a child process
(results come back, a memory cap turns into "does not fit", a time cap into "over time cap")."""

from __future__ import annotations

import pytest

from lm2.bench.common import (
    interleaved,
    linear_fit,
    markdown_table,
    parse_ints,
    parse_list,
    peak_rss_mib,
    run_isolated,
)


def test_parse_lengths_with_suffixes_and_errors_name_the_option():
    assert parse_ints("1k,4k,1M,300") == [1024, 4096, 2**20, 300]
    with pytest.raises(ValueError, match="--lengths"):
        parse_ints("1k,lots", "--lengths")
    with pytest.raises(ValueError, match="unknown \\['gpt'\\]"):
        parse_list("lm2,gpt", ["lm2", "rmt"], "--models")


def test_linear_fit_recovers_a_line_and_its_log_log_slope():
    xs = [1024, 4096, 16384, 65536]
    fit = linear_fit(xs, [2e-6 * x + 0.5 for x in xs])
    assert fit["slope"] == pytest.approx(2e-6) and fit["intercept"] == pytest.approx(0.5)
    assert fit["r2"] == pytest.approx(1.0)
    assert linear_fit(xs, [3e-9 * x * x for x in xs])["loglog_slope"] == pytest.approx(2.0)


def test_interleaved_rotates_the_order_and_times_every_round():
    calls = []
    times = interleaved({n: (lambda n=n: calls.append(n)) for n in "abc"}, repeats=3, warmup=1)
    assert calls == list("abc" + "abc" + "bca" + "cab")
    assert all(len(t) == 3 and min(t) >= 0 for t in times.values())


def test_markdown_table_shape():
    lines = markdown_table(["a", "b"], [[1, 2], [3, 4]]).splitlines()
    assert lines[0] == "| a | b |" and lines[1] == "|---|---|" and len(lines) == 4


def test_isolated_run_returns_the_child_result_and_its_peak():
    out = run_isolated("tests.bench.probes:allocate", {"mib": 64}, threads=1)
    assert out == {"status": "ok", "sum": 10.0, "threads": 1}
    assert peak_rss_mib() > 0


def test_isolated_run_reports_does_not_fit_under_a_memory_cap():
    out = run_isolated("tests.bench.probes:allocate", {"mib": 2048}, threads=1, memory_cap_gib=0.25)
    assert out["status"] == "does not fit"


def test_isolated_run_reports_over_time_cap():
    out = run_isolated("tests.bench.probes:allocate", {"mib": 1, "seconds": 30}, threads=1, timeout_s=2)
    assert out["status"] == "over time cap"


def test_isolated_run_raises_a_childs_bug_with_its_traceback():
    with pytest.raises(RuntimeError, match="a bug inside the measurement"):
        run_isolated("tests.bench.probes:fail", {}, threads=1)
