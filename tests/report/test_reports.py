"""Report formats: CSV, SARIF, JUnit, Markdown and HTML of a realistic scan with a hostile device.

Each format is parsed the way its consumer parses it (csv.reader, JSON + the official SARIF
schema, xml.etree, html.parser, headless Chromium) and the hostile strings are checked there.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import DATA

from scanner.history.results import load_result
from scanner.judge.policy import load_policy
from scanner.judge.waivers import Waiver
from scanner.knowledge.paths import recorded_scan_path
from scanner.model import (
    Destination,
    Device,
    Evidence,
    Finding,
    Reference,
    ScanError,
    ScanResult,
)
from scanner.pipeline import judge, resolve
from scanner.report import (
    FORMATS,
    RenderOptions,
    csv_report,
    html_report,
    junit,
    markdown_report,
    render,
    sarif,
)

SARIF_SCHEMA = DATA / "schemas" / "sarif-schema-2.1.0.json"  # OASIS, unchanged
CHROMIUM = Path("/usr/bin/chromium")

HOSTILE_IP = "198.51.100.66"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://x","y")'
ANSI = "\x1b[31m"
OSC = "\x1b]0;title\x07"
NOT_UTF8 = "\\xff\\xfe"  # what decode_untrusted makes of bytes ff fe
HOSTILE_MESSAGE = (f"+1 {ANSI}red{OSC} {NOT_UTF8} -1 @SUM(1) {SCRIPT} [x](http://evil.example) "
                   "![i](http://evil.example/i.png) | www.evil.example")


def flows() -> list[Destination]:
    """Observed traffic to documentation-range servers; owners and countries as ownership.yaml has them."""
    def dest(device_ip: str, ip: str, port: int, company: str, parent: str | None, country: str,
             jurisdictions: list[str]) -> Destination:
        return Destination(device_ip=device_ip, ip=ip, port=port, transport="tcp", company=company,
                           parent_company=parent or company, country=country, jurisdictions=jurisdictions,
                           sources=["flows", "ownership"],
                           evidence=[Evidence("flows", f"{device_ip} -> {ip}:{port}/tcp: 42 connection(s)")])
    return [
        dest("198.51.100.14", "203.0.113.20", 443, "Amazon Data Services European Sovereign Cloud GmbH",
             "Amazon.com, Inc.", "DE", ["DE", "US"]),
        dest("198.51.100.30", "203.0.113.30", 443, "Google LLC", "Alphabet Inc.", "US", ["US"]),
        dest("198.51.100.33", "203.0.113.40", 8883, "Hetzner Online GmbH", None, "DE", ["DE"]),
        dest("198.51.100.34", "203.0.113.50", 443, "Huawei Technologies Co., Ltd.",
             "Huawei Investment & Holding Co., Ltd.", "CN", ["CN"]),
    ]


def lab_result() -> ScanResult:
    """The recorded lab scan with vendor-cloud and observed destinations, judged with two waivers."""
    result = load_result(str(recorded_scan_path()))
    result.destinations = flows()
    resolve(result)  # adds the fingerprint database's cloud endpoints (Hik-Connect, Easy4ip, Xovis)
    today = dt.date.today()
    waivers = [
        Waiver("cleartext-management", "198.51.100.14", "Management VLAN reachable from the NOC only; "
               "HTTPS migration scheduled", "CISO J. de Vries", today + dt.timedelta(days=120), "NET-142",
               "waivers.yaml", 2),
        Waiver("unidentified-device", "198.51.100.37", "Lab test device", "Network team",
               today - dt.timedelta(days=30), None, "waivers.yaml", 9),
    ]
    return judge(result, load_policy("eu-gdpr-baseline"), waivers)


def hostile_result() -> ScanResult:
    """lab_result plus a device whose every string tries to break a report format."""
    result = lab_result()
    result.devices.append(Device(HOSTILE_IP, mac="00:11:22:33:44:66", hostname="@SUM(1)", vendor=SCRIPT,
                                 model=IMG + ANSI, firmware=FORMULA + NOT_UTF8, device_class="camera"))
    result.destinations.append(Destination(HOSTILE_IP, host="www.evil.example", ip="203.0.113.66", port=443,
                                           company=SCRIPT + OSC, country="CN", jurisdictions=["CN"]))
    result.findings.append(Finding("banned-vendor", "high", "Equipment from a banned vendor", HOSTILE_IP,
                                   HOSTILE_MESSAGE, evidence=[Evidence("http-get:80/", "-1 " + IMG + ANSI)],
                                   references=[Reference("GDPR", "https://eur-lex.europa.eu/eli/reg/2016/679/oj"),
                                               Reference("evil", "javascript:alert(1)")]))
    result.findings.append(Finding("cleartext-management", "medium", "Management interface without encryption",
                                   HOSTILE_IP, "=1+1 " + OSC, waived=True,
                                   waiver={"justification": "-2 " + SCRIPT, "approver": "@CISO",
                                           "expires": "2099-01-01"}))
    result.errors.append(ScanError("probe", f"http 80: {SCRIPT}{ANSI}", HOSTILE_IP))
    return result


@pytest.fixture(scope="module")
def hostile() -> ScanResult:
    return hostile_result()


# --- registry ---------------------------------------------------------------------------------

def test_every_format_is_registered_and_renders(hostile: ScanResult) -> None:
    assert {"csv", "sarif", "junit", "markdown", "html"} <= set(FORMATS)
    for fmt in FORMATS:
        text = render(hostile, fmt, RenderOptions())
        assert text and text.encode("utf-8")


def test_lone_surrogates_from_a_hand_edited_result_cannot_break_a_report() -> None:
    result = ScanResult.from_dict(json.loads(json.dumps(hostile_result().to_dict())
                                             .replace("MultiTech", "Multi\\ud800Tech")))
    assert any("\ud800" in (d.vendor or "") for d in result.devices)
    for fmt in ("csv", "sarif", "junit", "markdown", "html"):
        assert render(result, fmt).encode("utf-8"), fmt


# --- CSV --------------------------------------------------------------------------------------

def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_defuses_formulas_and_keeps_device_strings(hostile: ScanResult) -> None:
    for kind in csv_report.KINDS:
        table = rows(csv_report.render_kind(hostile, kind))
        sizes = {"findings": len(hostile.findings), "devices": len(hostile.devices),
                 "destinations": len(hostile.destinations)}
        assert len(table) == 1 + sizes[kind]
        assert all(len(row) == len(table[0]) for row in table)
        for row in table:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (kind, cell)
    findings = {r[0]: dict(zip(rows(csv_report.render(hostile))[0], r)) for r in rows(csv_report.render(hostile))[1:]}
    bad = next(r for r in findings.values() if r["device_ip"] == HOSTILE_IP and r["severity"] == "high")
    assert bad["message"] == "'" + HOSTILE_MESSAGE  # intact, ANSI and \xff\xfe included, behind an apostrophe
    assert bad["device"] == f"{SCRIPT} {IMG}{ANSI}"
    assert bad["evidence"] == "http-get:80/: -1 " + IMG + ANSI
    waived = next(r for r in findings.values() if r["device_ip"] == HOSTILE_IP and r["waived"] == "yes")
    assert waived["message"].startswith("'=1+1") and waived["waiver_justification"] == "'-2 " + SCRIPT
    assert waived["waiver_approver"] == "'@CISO"
    devices = {r[0]: r for r in rows(csv_report.render_kind(hostile, "devices"))}
    assert devices[HOSTILE_IP][2:6] == ["'@SUM(1)", SCRIPT, IMG + ANSI, "'" + FORMULA + NOT_UTF8]


def test_csv_is_rfc4180_and_findings_by_default(hostile: ScanResult) -> None:
    text = csv_report.render(hostile)
    assert text == csv_report.render_kind(hostile, "findings") == render(hostile, "csv")
    assert text.startswith("id,severity,rule,") and text.endswith("\r\n")
    assert render(hostile, "csv", RenderOptions(csv_kind="destinations")).startswith("device_ip,host,ip,port")
    with pytest.raises(ValueError):
        csv_report.render_kind(hostile, "waivers")


# --- SARIF ------------------------------------------------------------------------------------

def test_sarif_validates_against_the_official_schema(hostile: ScanResult) -> None:
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text())
    doc = json.loads(sarif.render(hostile))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_sarif_has_what_github_code_scanning_needs(hostile: ScanResult) -> None:
    doc = json.loads(sarif.render(hostile))
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert doc["version"] == "2.1.0" and driver["name"] == "cityscan" and driver["version"]
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == sorted({f.rule for f in hostile.findings})
    for rule in driver["rules"]:
        found = [f for f in hostile.findings if f.rule == rule["id"]]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
        assert len(rule["fullDescription"]["text"]) <= 1024
        assert rule["helpUri"] == found[0].references[0].url
        assert found[0].references[0].url in rule["help"]["markdown"]
        assert "security" in rule["properties"]["tags"]
        worst = max((f.severity for f in found), key=["info", "low", "medium", "high", "critical"].index)
        assert rule["properties"]["security-severity"] == {"high": "8.0", "medium": "5.5", "low": "3.0"}[worst]
    assert len(run["results"]) == len(hostile.findings)
    for res, f in zip(run["results"], hostile.findings):
        assert res["ruleId"] == f.rule and driver["rules"][res["ruleIndex"]]["id"] == f.rule
        assert res["level"] == {"critical": "error", "high": "error", "medium": "warning", "low": "note"}[f.severity]
        assert res["partialFingerprints"]["cityscan/v1"] == f.id
        loc = res["locations"][0]
        assert loc["physicalLocation"]["artifactLocation"]["uri"] == "cityscan-inventory"  # built-in policy
        assert loc["logicalLocations"][0]["name"] == f.device_ip
        assert bool(res.get("suppressions")) == f.waived
    waived = [r for r in run["results"] if r.get("suppressions")]
    assert {"CISO J. de Vries" in r["suppressions"][0]["justification"] for r in waived} == {True, False}
    assert all(r["suppressions"][0]["kind"] == "external" for r in waived)


def test_sarif_fingerprints_are_stable_and_device_text_inert(hostile: ScanResult) -> None:
    again = ScanResult.from_dict(json.loads(json.dumps(hostile.to_dict())))
    first, second = json.loads(sarif.render(hostile)), json.loads(sarif.render(again))
    prints = [r["partialFingerprints"] for r in first["runs"][0]["results"]]
    assert prints == [r["partialFingerprints"] for r in second["runs"][0]["results"]]
    assert [p["cityscan/v1"] for p in prints] == [f.id for f in hostile.findings]
    assert len({p["primaryLocationLineHash"] for p in prints}) == len(prints)  # one GitHub alert per finding
    text = sarif.render(hostile)
    assert "\x1b" not in json.loads(text)["runs"][0]["results"][-2]["message"]["text"]
    assert "\\u001b" not in text  # escapes are shown as \x1b text, never sent on as ESC
    bad = next(r for r in first["runs"][0]["results"] if r["message"]["text"].startswith("+1"))
    assert "\\[x\\](http://evil.example)" in bad["message"]["text"]  # no SARIF embedded link


def test_sarif_points_at_a_relative_policy_file(hostile: ScanResult) -> None:
    result = ScanResult.from_dict(hostile.to_dict())
    result.scan.policy = {"name": "city", "sha256": "0" * 64, "files": ["policies/city policy.yaml"]}
    uri = json.loads(sarif.render(result))["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert uri["artifactLocation"]["uri"] == "policies/city%20policy.yaml"


# --- JUnit ------------------------------------------------------------------------------------

def cases(text: str) -> list[ET.Element]:
    return list(ET.fromstring(text.encode("utf-8")).iter("testcase"))


def test_junit_one_case_per_rule_and_device(hostile: ScanResult) -> None:
    text = junit.render_junit(hostile, fail_on="high")
    root = ET.fromstring(text.encode("utf-8"))
    all_cases = cases(text)
    keys = [(c.get("classname"), c.get("name")) for c in all_cases]
    assert len(keys) == len(set(keys)), "GitLab keeps only the first of duplicate classname+name"
    rules = {f.rule for f in hostile.findings}
    assert {c.get("classname") for c in all_cases} >= {f"cityscan.{r}" for r in rules}
    assert all(c.get("classname", "").startswith("cityscan.") for c in all_cases)
    assert int(root.get("tests", "0")) == len(all_cases)
    failures = [c for c in all_cases if c.find("failure") is not None]
    assert int(root.get("failures", "0")) == len(failures)
    expect = {(f"cityscan.{f.rule}", f.device_ip) for f in hostile.findings
              if not f.waived and f.severity in ("high", "critical")}
    assert {(c.get("classname"), c.get("name", "").split(" ")[0]) for c in failures} == expect
    passing = [c for c in all_cases if len(c) == 0]
    assert passing, "evaluated rule/device pairs without findings are passing test cases"
    below = [c for c in all_cases if c.find("system-out") is not None]
    assert below and all("Below the --fail-on high threshold" in (c.findtext("system-out") or "") for c in below)
    skipped = [c.find("skipped") for c in all_cases if c.find("skipped") is not None]
    assert skipped and all((s.get("message") or "").startswith(("waived: ", "not assessable: "))
                           for s in skipped if s is not None)
    unassessed = {r["id"] for r in hostile.rules if r["status"] == "not-assessable"}
    assert all(c.find("skipped") is not None for c in all_cases
               if c.get("classname", "")[len("cityscan."):] in unassessed and len(c) == 0) is True
    errors = [c for c in all_cases if c.find("error") is not None]
    assert len(errors) == len({(e.target, e.stage) for e in hostile.errors}) and root.get("errors") == str(len(errors))


def test_junit_threshold(hostile: ScanResult) -> None:
    def failing(fail_on: str) -> int:
        return sum(1 for c in cases(junit.render_junit(hostile, fail_on=fail_on)) if c.find("failure") is not None)
    assert failing("none") == 0
    assert 0 < failing("high") < failing("medium") <= failing("low")
    assert render(hostile, "junit", RenderOptions(fail_on="medium")) == junit.render_junit(hostile, "medium")
    assert junit.render(hostile) == junit.render_junit(hostile, "high")


def test_junit_device_strings_are_legal_xml(hostile: ScanResult) -> None:
    text = junit.render_junit(hostile, fail_on="high")
    assert "\x1b" not in text and "\x07" not in text
    mine = [c for c in cases(text) if (c.get("name") or "").startswith(HOSTILE_IP)
            and c.get("classname") != junit.ERRORS_CLASS]
    assert mine and all(c.get("name") == f"{HOSTILE_IP} ({SCRIPT} {IMG}\\x1b[31m)" for c in mine)
    failure = next(c.find("failure") for c in mine if c.find("failure") is not None)
    assert failure is not None and SCRIPT in (failure.text or "") and "\\x1b]0;title\\x07" in (failure.text or "")
    assert NOT_UTF8 in (failure.text or "")


# --- Markdown ---------------------------------------------------------------------------------

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def test_markdown_escapes_device_strings(hostile: ScanResult) -> None:
    text = markdown_report.render(hostile)
    assert "<script" not in text and "<img" not in text and "\x1b" not in text
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in text
    assert "](http://evil" not in text and "\\[x\\]\\(http\\://evil.example\\)" in text
    assert "\\!\\[i\\]" in text and not re.search(r"(?<!\\)!(?<!\\)\[", text)  # no image syntax
    assert "www.evil" not in text and "www\\.evil" in text
    assert "javascript:" not in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    widths = Counter(len(UNESCAPED_PIPE.findall(line)) for line in table)
    assert set(widths) == {3, 4, 7}, widths  # summary rows: 2 cells; rules: 3; devices: 6, whatever a device says
    assert "## cityscan report" in text and "#### High" in text and "### Devices" in text


# --- HTML -------------------------------------------------------------------------------------

class Parsed(HTMLParser):
    """Tags, attributes and text of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Parsed:
    page = Parsed()
    page.feed(text)
    page.close()
    return page


def assert_inert(page: Parsed) -> None:
    names = {tag for tag, _ in page.tags}
    assert not names & {"img", "iframe", "object", "embed", "link", "base", "form", "image", "use"}, names
    scripts = [a for tag, a in page.tags if tag == "script"]
    assert len(scripts) <= 1 and all(not a for a in scripts)  # only the report's own inline script
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert "src" not in attrs and "xlink:href" not in attrs, (tag, attrs)
        if "href" in attrs:
            assert (attrs["href"] or "").startswith(("#", "https://", "http://")), attrs


def test_html_is_inert_and_escapes_device_strings(hostile: ScanResult) -> None:
    text = html_report.render(hostile)
    page = parse(text)
    assert_inert(page)
    csp = [a for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    script = text.split("<script>", 1)[1].split("</script>", 1)[0]  # the one script: sorting and filtering
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert csp and csp[0]["content"] == ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                         f"script-src 'sha256-{digest}'")
    assert "fetch" not in script and "XMLHttpRequest" not in script and "src" not in script
    body = "".join(page.text)
    assert SCRIPT in body and IMG + "\\x1b[31m" in body  # shown as text
    assert "\x1b" not in text and "\x07" not in text
    assert "javascript:" not in [a.get("href") for _, a in page.tags]
    assert "Equipment from a banned vendor" in body and "CISO J. de Vries" in body


def test_html_has_the_auditor_sections(hostile: ScanResult) -> None:
    page = parse(html_report.render(hostile))
    body = " ".join(page.text)
    for words in ("Summary", "About this scan", "Device inventory", "Where the data goes", "Findings", "Waivers",
                  "Scan errors", "eu-gdpr-baseline", hostile.scan.policy["sha256"] if hostile.scan.policy else "",
                  "China (CN)", "Germany (DE)", "United States (US)", "Hetzner Online GmbH", "expired", "active"):
        assert words in body, words
    assert sum(1 for t, _ in page.tags if t == "svg") >= 1
    refs = {a["href"] for t, a in page.tags if t == "a" and not (a.get("href") or "#").startswith("#")}
    assert {r.url for f in hostile.findings for r in f.references if r.url.startswith("https://")} <= refs
    for f in hostile.findings:
        assert f.id in body


def test_html_without_destinations_says_so() -> None:
    result = load_result(str(recorded_scan_path()))
    result.destinations = []  # as in a scan without captured traffic of devices with no known clouds
    body = " ".join(parse(html_report.render(result)).text)
    assert "No data destinations were found" in body


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium not installed (CI: apt-get install -y chromium)")
def test_html_in_headless_chromium(hostile: ScanResult, tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(html_report.render(hostile), encoding="utf-8")
    dom = chromium("--dump-dom", page_file.as_uri(), tmp=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = parse(dom.stdout)
    assert_inert(page)
    body = " ".join(page.text)
    assert SCRIPT in body and "Equipment from a banned vendor" in body
    assert all(f.id in body for f in hostile.findings)
    # the CSP let the report's own script run (and only it): it added a filter box to each long table
    assert sum(1 for tag, a in page.tags if tag == "input" and a.get("class") == "filter") == 2
    png = tmp_path / "report.png"
    shot = chromium(f"--screenshot={png}", "--window-size=1280,2000", page_file.as_uri(), tmp=tmp_path)
    assert shot.returncode == 0 and png.is_file(), shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
