"""Write the bad-input corpus files under tests/bad_inputs/ (run from anywhere).

Every file is a small, realistic mistake made from the good fixtures (``tests/fixtures/sen2/good``
and ``tests/fixtures/cases/good.csv``): a zip cut short by a failed download, a CSV saved as
UTF-16 or Latin-1 by a spreadsheet, dates Excel turned into serial numbers, a hand-edited YAML
with tabs or duplicate keys, and so on. ``cases.yaml`` lists what each one must produce. The
output is deterministic (fixed zip timestamps, no randomness), so re-running leaves git clean:
``.venv/bin/python tests/bad_inputs/make_corpus.py``.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
ZIP_NAME = "education-health-and-care-plans_2025.zip"
FOLDERS = ("sen2", "cases", "configs")


def good_requests() -> str:
    """The good 2025-style ``requests.csv`` (BOM removed), as text."""
    with zipfile.ZipFile(FIXTURES / "sen2" / "good" / ZIP_NAME) as zf:
        return zf.read("data/requests.csv").decode("utf-8-sig")


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2025, 7, 1, 10, 15, 0))  # stable bytes
            info.compress_type = method
            zf.writestr(info, data)
    return buf.getvalue()


def _cell(text: str, row: int, col: int, value: str) -> str:
    """``text`` with the cell at 0-based data ``row`` (after the header) and ``col`` replaced."""
    lines = text.splitlines()
    cells = lines[row + 1].split(",")
    cells[col] = value
    lines[row + 1] = ",".join(cells)
    return "\n".join(lines) + "\n"


def sen2_csvs() -> dict[str, bytes]:
    """One broken loose ``requests.csv`` per case (validated with ``ehcp data validate``)."""
    text = good_requests()
    header = text.splitlines()[0].split(",")
    received = header.index("requests_received_in_year")
    not_assess = header.index("requests_decided_not_to_assess")
    period = header.index("time_period")
    leeds = 2  # third data row: Leeds 2021
    out = {
        "utf16": text.encode("utf-16"),
        # Latin-1 with a pound sign, as Excel on Windows saves "CSV" by default.
        "latin1_pound": _cell(text, leeds, header.index("la_name"), "Leeds (£)").encode("latin-1"),
        "semicolon": text.replace(",", ";").encode(),
        "tab_delimited": text.replace(",", "\t").encode(),
        "renamed_header": text.replace("requests_received_in_year", "Requests received", 1).encode(),
        "missing_header": ("\n".join(text.splitlines()[1:]) + "\n").encode(),
        "text_in_count": _cell(text, leeds, received, "about 800").encode(),
        "negative_count": _cell(text, leeds, not_assess, "-300").encode(),
        "decimal_count": _cell(text, leeds, received, "810.5").encode(),
        "huge_count": _cell(text, leeds, received, "9" * 40).encode(),
        # Excel shows a big count in scientific notation and saves it that way.
        "excel_scientific_count": _cell(text, 0, received, "9.33E+04").encode(),
        # Excel read the year as a date and saved it back as one.
        "excel_mangled_year": _cell(text, leeds, period, "01/01/2021").encode(),
        "duplicated_rows": (text + text.splitlines()[leeds + 1] + "\n").encode(),
        # The LA name pasted into the code column.
        "unknown_la": _cell(text, leeds, header.index("new_la_code"), "Leeds").encode(),
        # A national row whose code would climb out of a batch output folder.
        "country_code_path": _cell(text, 0, header.index("country_code"), "../../escaped").encode(),
        # An LA name that would make a path of a file name built from it.
        "name_with_slash": _cell(text, leeds, header.index("la_name"), "Leeds/../../x").encode(),
        # Excel dropped the leading zero of a DfE code (080 -> 80).
        "excel_dropped_zero": _cell(text, leeds, header.index("old_la_code"), "80").encode(),
        "empty": b"",
        "header_only": (text.splitlines()[0] + "\n").encode(),
        "binary_garbage": bytes(range(256)) * 4,
    }
    return out


def sen2_zips() -> dict[str, bytes]:
    """Broken DfE zips (loaded by ``ehcp data show``/``export`` from their folder)."""
    good = (FIXTURES / "sen2" / "good" / ZIP_NAME).read_bytes()
    text = good_requests()
    header = text.splitlines()[0].split(",")
    stored = zip_bytes({"data/requests.csv": text.encode()}, zipfile.ZIP_STORED)
    # Flip bytes inside the stored member: the zip opens but the CRC check fails on read.
    start = stored.index(b"2021,Calendar year")
    crc_bad = stored[:start] + b"X" * 10 + stored[start + 10:]
    # A "zip bomb": the directory says requests.csv unpacks to almost 4 GB.
    bomb = bytearray(zip_bytes({"data/requests.csv": text.encode()}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = bytes(bomb).index(signature) + offset
        bomb[at : at + 4] = (0xFFFFFFF0).to_bytes(4, "little")
    return {
        "zip_bomb": bytes(bomb),
        "truncated_zip": good[: len(good) * 2 // 3],
        "not_a_zip": b"<html><body>Sign in to continue</body></html>\n",
        "empty_zip": b"",
        "crc_error_zip": crc_bad,
        "zip_without_sen2_csv": zip_bytes({"readme.txt": b"nothing here\n"}),
        "zip_utf16_csv": zip_bytes({"data/requests.csv": text.encode("utf-16")}),
        "zip_negative_count": zip_bytes({"data/requests.csv": _cell(
            text, 2, header.index("requests_decided_not_to_assess"), "-300").encode()}),
    }


def case_extracts() -> dict[str, bytes]:
    """Broken case-level extracts (``ehcp cases validate`` / ``summary``)."""
    text = (FIXTURES / "cases" / "good.csv").read_text()
    lines = text.splitlines()
    header = lines[0].split(",")
    col = header.index

    def cell(row: int, name: str, value: str) -> bytes:
        return _cell(text, row, col(name), value).encode()

    return {
        "utf16.csv": text.encode("utf-16"),
        "latin1_pound.csv": _cell(text, 1, col("setting"), "independent £60k").encode("latin-1"),
        "excel_serial_date.csv": cell(0, "request_date", "45299"),
        "excel_us_date.csv": cell(2, "final_date", "09/30/2024"),
        "excel_text_month_date.csv": cell(0, "decision_date", "14-Feb-24"),
        "final_before_request.csv": cell(0, "final_date", "2023-05-20"),
        "decision_before_request.csv": cell(1, "decision_date", "2023-12-01"),
        "future_date.csv": cell(7, "request_date", "2099-12-02"),
        "missing_case_id_column.csv": ("\n".join(
            ",".join(line.split(",")[1:]) for line in lines) + "\n").encode(),
        "renamed_request_date.csv": text.replace("request_date", "date_of_request", 1).encode(),
        "duplicate_case_id.csv": cell(1, "case_id", "C001"),
        "duplicated_row.csv": (text + lines[1] + "\n").encode(),
        "text_in_age.csv": cell(0, "age", "seven"),
        "negative_age.csv": cell(0, "age", "-7"),
        "huge_age.csv": cell(0, "age", "9" * 30),
        "unknown_need.csv": cell(0, "primary_need", "Autism??"),
        "unknown_decision.csv": cell(1, "decision", "maybe"),
        # Excel saves formatted-but-empty rows as lines of commas.
        "excel_blank_rows.csv": (text + ("," * (len(header) - 1) + "\n") * 2).encode(),
        "all_rows_bad.csv": ("\n".join([lines[0], *(line.replace(",2024-", ",2099-", 1)
                                                     for line in lines[1:])]) + "\n").encode(),
        "empty.csv": b"",
        "header_only.csv": (lines[0] + "\n").encode(),
        "tab_delimited.csv": text.replace(",", "\t").encode(),
        "corrupt.parquet": b"PAR1" + bytes(range(200)) + b"not really parquet",
    }


CAPACITY = (FIXTURES / "capacity" / "tiny.yaml").read_text()
SCENARIOS = (FIXTURES / "scenarios" / "small.yaml").read_text()


def alias_bomb() -> str:
    levels = ["&a [" + ", ".join(["x"] * 9) + "]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        levels.append(f"&{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "[" + ", ".join(levels) + "]"


def configs() -> dict[str, str]:
    """Broken capacity / scenario / batch YAML (``ehcp simulate|run|batch --config``)."""
    return {
        "unknown_key.yaml": CAPACITY.replace("  seed: 7\n", "  seed: 7\n  sede: 8\n"),
        "wrong_type.yaml": CAPACITY.replace("requests_per_year: 300", "requests_per_year: lots"),
        "tabs.yaml": CAPACITY.replace("  years: 1", "\tyears: 1"),
        "duplicate_key.yaml": CAPACITY.replace("  seed: 7\n", "  seed: 7\n  seed: 8\n"),
        # Would run a shell command with an unsafe loader; no ehcp_pwned file proves it never ran.
        "python_object.yaml": "comment: !!python/object/apply:os.system ['touch ehcp_pwned']\n"
        + CAPACITY,
        "python_name_tag.yaml": CAPACITY.replace("seed: 7", "seed: !!python/name:os.system"),
        "huge_value.yaml": CAPACITY.replace("requests_per_year: 300", "requests_per_year: 1e300"),
        "negative_fte.yaml": CAPACITY.replace("fte: 3}", "fte: -3}"),
        "bad_date.yaml": CAPACITY.replace("start: 2025-04-01", "start: 2025-13-01"),
        "empty.yaml": "",
        "list_not_mapping.yaml": "- simulation\n- staff\n",
        "not_yaml.yaml": "simulation: {start: [2025-04-01\nstaff: }}\n",
        # A "billion laughs" alias bomb: 9**7 strings if anything expanded it.
        "alias_bomb.yaml": CAPACITY.replace("requests_per_year: 300", "requests_per_year: "
                                            + alias_bomb()),
        "nan_value.yaml": CAPACITY.replace("requests_per_year: 300", "requests_per_year: .nan"),
        "huge_fte.yaml": CAPACITY.replace("fte: 3}", "fte: 1.0e+308}"),
        # Scenario-file (ehcp run) cases, from the small scenario fixture.
        "run_tabs.yaml": SCENARIOS.replace("  n_paths: 5\n", "\tn_paths: 5\n", 1),
        "run_duplicate_scenario.yaml": SCENARIOS + "  extra_2_eps:\n    description: again\n",
        "run_unknown_key.yaml": SCENARIOS.replace(
            "  forecast_years: 2\n", "  forecast_years: 2\n  forcast_years: 3\n"),
        "run_python_object.yaml": "report: !!python/object/apply:os.system ['touch ehcp_pwned']\n",
        "run_unknown_la.yaml": SCENARIOS.replace(
            "  la: Leeds\n", "  la: Gotham City\n"),
        # Batch settings: a zero horizon, an unknown model and an unknown measure.
        "batch_h0.yaml": "forecast:\n  horizon: 0\nscenarios:\n  file: null\n",
        "batch_unknown_model.yaml": "forecast:\n  model: crystal_ball\nscenarios:\n  file: null\n",
        "batch_unknown_measure.yaml": "forecast:\n  measures: [happiness]\nscenarios:\n  file: null\n",
        "batch_unknown_key.yaml": "forcast:\n  horizon: 2\n",
        "batch_python_object.yaml": "forecast: !!python/object/new:subprocess.Popen "
                                    "[['touch', 'ehcp_pwned']]\n",
    }


def corpus() -> dict[str, bytes]:
    """Every corpus file by its path relative to this folder."""
    files = {f"sen2/{case}/requests.csv": data for case, data in sen2_csvs().items()}
    files |= {f"sen2/{case}/{ZIP_NAME}": data for case, data in sen2_zips().items()}
    files |= {f"cases/{name}": data for name, data in case_extracts().items()}
    files |= {f"configs/{name}": text.encode() for name, text in configs().items()}
    return files


def main() -> None:
    for sub in FOLDERS:
        shutil.rmtree(HERE / sub, ignore_errors=True)
    for rel, data in corpus().items():
        (HERE / rel).parent.mkdir(parents=True, exist_ok=True)
        (HERE / rel).write_bytes(data)


if __name__ == "__main__":
    main()
