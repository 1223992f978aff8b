"""Units are case-sensitive and mean what the SI and the IEC say: ``b`` bits, ``B``
bytes, ``k M G T P`` powers of 1000, ``Ki Mi Gi Ti Pi`` powers of 1024. Every
expected value is worked out by hand (in bytes, bytes per second, seconds, events
per second); a spelling that could mean two things is refused, in one line that names
the unit and the text and lists the accepted forms."""
from __future__ import annotations

import pytest

from simulator.engine.units import UNITS, DurationError, duration, duration_or_zero, in_unit, to_base

SIZES = {
    "1 B": 1, "1 byte": 1, "3 bytes": 3, "1 kB": 1000, "1 MB": 10 ** 6, "20 GB": 2 * 10 ** 10,
    "1 TB": 10 ** 12, "1 PB": 10 ** 15, "1 KiB": 1024, "1 MiB": 2 ** 20, "1 GiB": 2 ** 30,
    "1 TiB": 2 ** 40, "1 PiB": 2 ** 50, "2 Mbyte": 2 * 10 ** 6, "1 Gibytes": 2 ** 30,
    "8 b": 1, "8 bit": 1, "16 bits": 2, "8 kbit": 1000, "8 Mb": 10 ** 6, "8 Gbit": 10 ** 9,
    "8 Gb": 10 ** 9, "1 Gbit": 125_000_000, "8 Tbits": 10 ** 12, "8 Gib": 2 ** 30,
    "8 Kibit": 1024, "0.5 GiB": 2 ** 29, "1.5 kB": 1500, "20GiB": 20 * 2 ** 30,
    "  2 MiB  ": 2 * 2 ** 20, "1e3 B": 1000, "-1 GB": -(10 ** 9),
}

BANDWIDTHS = {
    "10 Gb/s": 1.25e9, "10 Gbit/s": 1.25e9, "10 Gbps": 1.25e9, "10 Gbits/s": 1.25e9,
    "10 GB/s": 1e10, "10 GBps": 1e10, "10 Gbyte/s": 1e10, "1 MiB/s": 2 ** 20, "1 MiBps": 2 ** 20,
    "8 Gibit/s": 2 ** 30, "8 Gib/s": 2 ** 30, "8 Gibps": 2 ** 30, "8 bit/s": 1, "8 bps": 1,
    "1 B/s": 1, "5 B/s": 5, "8 b/s": 1, "8 kbps": 1000, "8 kbit/s": 1000, "1 kB/s": 1000,
    "1 kBps": 1000, "8 Mbps": 10 ** 6, "8 Mbit/s": 10 ** 6, "1 MB/s": 10 ** 6, "1 MBps": 10 ** 6,
    "8 Tbps": 10 ** 12, "1 TB/s": 10 ** 12, "1 KiB/s": 1024, "8 Kibps": 1024, "1 GiB/s": 2 ** 30,
    "1 GiBps": 2 ** 30, "1 bytes/s": 1, "1250 MB/s": 1.25e9, "100Gbps": 1.25e10,
}

TIMES = {
    "1500 ms": 1.5, "250 ms": 0.25, "1 s": 1, "12 s": 12, "3 sec": 3, "1 second": 1, "2 seconds": 2,
    "2 min": 120, "1 minute": 60, "90 minutes": 5400, "1 h": 3600, "1h": 3600, "2 hour": 7200,
    "3 hours": 10800, "1 d": 86400, "2.5 d": 216000, "1 day": 86400, "2 days": 172800,
}

RATES = {
    "2/h": 2 / 3600, "1/30 min": 1 / 1800, "2 per hour": 2 / 3600, "1 per day": 1 / 86400,
    "1/12h": 1 / 43200, "3 per 30 min": 3 / 1800, "5/s": 5, "1/500 ms": 2, "6 per minute": 0.1,
    "1/2 d": 1 / 172800,
}


@pytest.mark.parametrize("text, expected", SIZES.items())
def test_sizes(text, expected):
    assert to_base(text, "size") == expected


@pytest.mark.parametrize("text, expected", BANDWIDTHS.items())
def test_bandwidths(text, expected):
    assert to_base(text, "bandwidth") == expected


@pytest.mark.parametrize("text, expected", TIMES.items())
def test_times(text, expected):
    assert to_base(text, "time") == expected


@pytest.mark.parametrize("text, expected", RATES.items())
def test_rates(text, expected):
    assert to_base(text, "rate") == pytest.approx(expected, rel=1e-15)


def test_bits_and_bytes_differ_by_eight():
    """The bug this replaces: lower-casing made "10 Gb/s" 80 Gbit/s and "10 GBps" 10 Gbit/s."""
    assert to_base("10 Gb/s", "bandwidth") == to_base("10 Gbps", "bandwidth") == 1.25e9
    assert to_base("10 GBps", "bandwidth") == to_base("10 GB/s", "bandwidth") == 8 * 1.25e9
    assert in_unit("10 Gb/s", "gbps") == 10 and in_unit("10 GBps", "gbps") == 80
    assert in_unit("1 GB", "gb") == pytest.approx(10 ** 9 / 2 ** 30)


def test_in_unit_keeps_its_keys_and_passes_numbers_through():
    assert set(UNITS) == {"gbps", "mibps", "gb", "mb", "s", "per_s"}
    for key in UNITS:
        assert in_unit(7, key) == 7 and in_unit(2.5, key) == 2.5
    assert in_unit("1 Gbit/s", "gbps") == 1.0
    assert in_unit("1250 MB/s", "gbps") == 10.0
    assert in_unit("1 GiB/s", "mibps") == 1024
    assert in_unit("64 GiB", "mb", integral=True) == 65536
    assert in_unit("1 TiB", "gb", integral=True) == 1024
    assert in_unit("2 min", "s") == 120
    assert in_unit("2/h", "per_s") == 2 / 3600
    with pytest.raises(ValueError, match="not a whole number of MiB"):
        in_unit("1.5 KiB", "mb", integral=True)


# spelling, kind, what the message must say besides the unit and the text
REFUSED = [
    ("10 KB", "size", ["K is not an SI prefix", "kB (kilobytes)", "KiB (kibibytes)"]),
    ("10 Kb", "size", ["K is not an SI prefix", "kbit (kilobits)", "Kib (kibibits)"]),
    ("10 kb", "size", ["ambiguous", "kbit (kilobits) or kB (kilobytes)"]),
    ("10 mb", "size", ["m is milli", "did you mean Mb (megabits) or MB (megabytes)?"]),
    ("10 gb", "size", ["upper-case", "did you mean Gb (gigabits) or GB (gigabytes)?"]),
    ("10 tb", "size", ["upper-case", "Tb (terabits) or TB (terabytes)"]),
    ("10 mib", "size", ["m is milli", "Mib (mebibits) or MiB (mebibytes)"]),
    ("10 GIB", "size", ["case-sensitive", "Gib (gibibits) or GiB (gibibytes)"]),
    ("10 kiB", "size", ["KiB (kibibytes)"]),
    ("10 MBYTE", "size", ["Mbyte (megabytes)"]),
    ("10 GB/s", "size", ["'GB/s' is a bandwidth, not a size"]),
    ("10 s", "size", ["'s' is a time, not a size"]),
    ("10 parsecs", "size", []),
    ("10 mbps", "bandwidth", ["m is milli", "Mbps (megabits per second) or MBps (megabytes per second)"]),
    ("10 GBPS", "bandwidth", ["case-sensitive", "Gbps (gigabits per second) or GBps (gigabytes per second)"]),
    ("10 Kbps", "bandwidth", ["K is not an SI prefix", "kbps (kilobits per second)", "Kibps"]),
    ("10 KB/s", "bandwidth", ["K is not an SI prefix", "kB/s", "KiB/s"]),
    ("10 kb/s", "bandwidth", ["ambiguous", "kbps (kilobits per second) or kB/s (kilobytes per second)"]),
    ("10 gbps", "bandwidth", ["upper-case", "Gbps", "GBps"]),
    ("10 Gbit/S", "bandwidth", ["Gbit/s (gigabits per second)"]),
    ("10 Gbit/sec", "bandwidth", ["per second only", "Gbit/s"]),
    ("10 GB/min", "bandwidth", ["per second only", "GB/s"]),
    ("10 GiB", "bandwidth", ["'GiB' is a size, not a bandwidth", "GiB/s"]),
    ("10 Gbit", "bandwidth", ["is a size, not a bandwidth", "Gbit/s"]),
    ("3 S", "time", ["did you mean s (seconds)?"]),
    ("3 Min", "time", ["did you mean min (minutes)?"]),
    ("3 H", "time", ["did you mean h (hours)?"]),
    ("3 D", "time", ["did you mean d (days)?"]),
    ("3 MS", "time", ["did you mean ms (milliseconds)?"]),
    ("3 m", "time", ["ambiguous", "write min for minutes"]),
    ("3 M", "time", ["write min for minutes"]),
    ("3 mins", "time", ["did you mean min?"]),
    ("3 hrs", "time", ["did you mean h?"]),
    ("3 GiB", "time", ["'GiB' is a size, not a time"]),
    ("3 fortnights", "time", []),
    ("2/H", "rate", ["did you mean h (hours)?"]),
    ("1/30 Min", "rate", ["did you mean min (minutes)?"]),
    ("2 per m", "rate", ["write min for minutes"]),
    ("2 per fortnight", "rate", []),
]

FORMS = {"size": "sizes are B, kB, MB, GB, TB, PB (powers of 1000) or KiB, MiB, GiB, TiB, PiB",
         "bandwidth": "bandwidths are a size per second: Gbit/s, Gb/s or Gbps in bits, GB/s or GBps",
         "time": "times are ms, s, sec, second(s), min, minute(s), h, hour(s), d, day(s)",
         "rate": "rates are a number per time such as 2/h, 1/30 min or 2 per hour, in ms, s,"}


@pytest.mark.parametrize("text, kind, says", REFUSED)
def test_refused_spellings_say_why_and_what_is_accepted(text, kind, says):
    with pytest.raises(ValueError) as exc:
        to_base(text, kind)
    msg = str(exc.value)
    unit = text.split("per ")[-1].split("/")[-1].split()[-1] if kind == "rate" else text.split()[1]
    label = "time" if kind == "rate" else kind
    assert f"unknown {label} unit {unit!r} in {text!r}" in msg
    assert FORMS[kind] in msg
    for part in says:
        assert part in msg
    assert "\n" not in msg


def test_in_unit_refusals_are_one_line_with_the_key_unit():
    with pytest.raises(ValueError) as exc:
        in_unit("10 gb", "gb")
    msg = str(exc.value)
    assert "unknown size unit 'gb' in '10 gb'" in msg and "Gb (gigabits) or GB (gigabytes)" in msg
    assert msg.endswith("expected a number of GiB or a quantity such as '20 GiB'") and "\n" not in msg


@pytest.mark.parametrize("text, kind", [("1e400 GiB", "size"), ("1e400 s", "time"), ("1e300 PiB", "size"),
                                        ("1e400 Gbps", "bandwidth"), ("1e400/h", "rate"),
                                        ("1e308 d", "time")])
def test_overflow_is_too_large_not_inf(text, kind):
    with pytest.raises(ValueError, match="too large"):
        to_base(text, kind)


@pytest.mark.parametrize("text", ["nan s", "inf s", "-inf GiB", "NaN min"])
def test_not_finite_is_not_a_number(text):
    kind = "size" if "GiB" in text else "time"
    with pytest.raises(ValueError, match="is not a finite number"):
        to_base(text, kind)


@pytest.mark.parametrize("text, kind", [("ten s", "time"), ("10", "size"), ("", "time"),
                                        ("GiB", "size"), ("2 per", "rate"), ("1_000 s", "time")])
def test_not_a_quantity(text, kind):
    with pytest.raises(ValueError, match="is not a"):
        to_base(text, kind)


@pytest.mark.parametrize("text, expected", [("1h", 3600), ("90", 90), ("0.5", 0.5), ("90 min", 5400),
                                            ("2.5 d", 216000), ("250 ms", 0.25), ("1e3", 1000),
                                            (" 2 hours ", 7200)])
def test_duration(text, expected):
    assert duration(text) == expected


@pytest.mark.parametrize("text, says", [("0", "expected seconds > 0"), ("-3", "expected seconds > 0"),
                                        ("0 s", "expected seconds > 0"), ("5 parsecs", "'parsecs'"),
                                        ("1 H", "did you mean h"), ("1e400", "too large"),
                                        ("nan", "not a finite number"), ("", "not a number")])
def test_duration_refusals(text, says):
    import argparse

    with pytest.raises(DurationError) as exc:
        duration(text)
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, argparse.ArgumentTypeError)
    assert says in str(exc.value) and "\n" not in str(exc.value)


def test_duration_or_zero():
    assert duration_or_zero("0") == 0 and duration_or_zero("10 min") == 600
    with pytest.raises(DurationError, match="expected seconds >= 0"):
        duration_or_zero("-1")


def test_cli_until_takes_a_duration():
    from simulator.commands.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["run", "x.yaml", "--until", "1h"]).until == 3600
    assert parser.parse_args(["run", "x.yaml", "--until", "90"]).until == 90
    assert parser.parse_args(["run", "x.yaml", "--until", "2.5 d"]).until == 216000
    assert parser.parse_args(["run", "x.yaml"]).until is None
    assert parser.parse_args(["sweep", "--warmup", "10 min"]).warmup == 600
    assert parser.parse_args(["sweep", "--warmup", "0"]).warmup == 0


@pytest.mark.parametrize("argv, says", [
    (["run", "x.yaml", "--until", "0"], "expected seconds > 0 or a duration such as 1h"),
    (["run", "x.yaml", "--until", "5 parsecs"], "unknown time unit 'parsecs' in '5 parsecs'"),
    (["run", "x.yaml", "--until", "1 H"], "did you mean h (hours)?"),
    (["sweep", "--warmup", "-5"], "expected seconds >= 0"),
])
def test_cli_refuses_a_bad_duration_in_one_line(capsys, argv, says):
    from simulator.commands.cli import build_parser

    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1, err
    assert "argument --" in err


def test_cli_help_says_until_takes_a_duration(capsys):
    from simulator.commands.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--until DURATION" in out and "in seconds or a duration such as 1h" in out
