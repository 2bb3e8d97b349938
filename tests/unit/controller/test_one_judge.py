# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One judge, no false pass: the verdict from the checks-as-data, three-valued, and the report
built from it in four formats (the example under docs/report-example is generated here).

Each test named after a finding reproduces it; on the code before this change each failed.
"""

import datetime
import json
import os
import re

import pytest
import xmlschema
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.flatcar.fips.plugins.filter import fips_compliance as fc
from ansible_collections.flatcar.fips.plugins.filter.fips_report import facts_and_error
from ansible_collections.flatcar.fips.plugins.plugin_utils import compliance, report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
EXAMPLE_DIR = os.path.join(ROOT, "docs", "report-example")
XSD = os.path.join(ROOT, "tests", "files", "junit.xsd")
GENERATED = datetime.datetime(2026, 12, 3, 9, 0, 0, tzinfo=datetime.timezone.utc)


def flatcar(**layers):
    """Facts of a Flatcar host in FIPS mode, as fips_facts returns them; ``layers`` override."""
    facts = {
        "gathered": ["kernel", "openssl", "sshd", "luks"],
        "system": {"os_id": "flatcar", "os_version": "4081.2.0", "flatcar": True,
                   "os_name": "Flatcar Container Linux by Kinvolk 4081.2.0 (Oklo)",
                   "secure_boot": False, "oem_grub_cfg_ignored": False},
        "kernel": {"fips_configured": True, "fips_enabled": 1, "release": "6.6.60-flatcar",
                   "cmdline_args": ["root=LABEL=ROOT", "fips=1"], "init_args": []},
        "openssl": {"version": "3.3.2", "provider_version": "3.0.9", "module_present": True,
                    "fipsmodule_cnf": {"verified": True}, "provider_active": True,
                    "openssl_cnf": {"fips_configured": True, "default_properties_fips": True},
                    "md5_refused": True, "other_providers_active": [],
                    "providers_active": ["base", "fips"]},
        "system_fips_marker": True,
        "sshd": {"config_ok": True, "config_error": None, "non_approved": {},
                 "host_keys": [{"path": "/etc/ssh/ssh_host_ecdsa_key", "fips_usable": True}]},
        "luks": {"devices": {}, "argon2_keyslots": {}, "unreadable": {}},
        "cryptsetup": {"version": "2.7.5", "fips_mode": True},
        "errors": {},
    }
    for key, value in layers.items():
        facts[key] = dict(facts[key], **value) if isinstance(value, dict) else value
    return facts


def mixed_fleet():
    """Enabled, pending reboot, disabled, unreadable (LUKS), unreachable."""
    pending = flatcar(kernel={"fips_enabled": 0, "cmdline_args": ["root=LABEL=ROOT"]})
    disabled = flatcar(
        kernel={"fips_configured": False, "fips_enabled": 0, "cmdline_args": ["root=LABEL=ROOT"]},
        openssl={"openssl_cnf": {"fips_configured": False, "default_properties_fips": False},
                 "provider_active": False, "md5_refused": False, "provider_version": None,
                 "other_providers_active": ["default"], "providers_active": ["default"]},
        system_fips_marker=False,
        sshd={"non_approved": {"Ciphers": ["chacha20-poly1305@openssh.com"]}},
        cryptsetup={"fips_mode": False})
    unreadable = flatcar(luks={"unreadable": {"/dev/vda": "cannot read /dev/vda: Operation "
                                                          "not permitted"}},
                         errors={"sshd": "sshd -T -f /etc/ssh/sshd_config failed (sshd's runtime "
                                         "directory is missing, not a configuration problem): "
                                         "Missing privilege separation directory: /run/sshd"},
                         sshd={"config_ok": False, "non_approved": None, "host_keys": None,
                               "config_error": {"cause": "runtime_directory",
                                                "message": "Missing privilege separation "
                                                           "directory: /run/sshd"}})
    return {"node-1.example": (flatcar(), None),
            "node-2.example": (pending, None),
            "node-3.example": (disabled, None),
            "node-4.example": (unreadable, None),
            "node-5.example": (None, "unreachable: Failed to connect to the host via ssh: "
                                     "Connection timed out")}


def parse(text):
    """Parse XML with entities disabled (xmlschema's resource loader)."""
    return xmlschema.XMLResource(text).root


def by_id(results):
    return {r["id"]: r for r in results}


# --- findings ----------------------------------------------------------------------------------

def test_a_host_without_python_in_check_mode_is_unknown_with_the_reason():
    # flatcar.fips.report --check with fips_bootstrap_python: the gathering is skipped on a host
    # that has no Python yet; facts cached from an earlier run must not stand in for it
    hostvars = {"fresh": {"python_bootstrap_pending": True,
                          "fips_report__gathered": {"skipped": True, "changed": False},
                          "ansible_facts": {"flatcar_fips": flatcar()}},
                "old": {"fips_report__gathered": {"failed": True, "msg": "boom"},
                        "ansible_facts": {"flatcar_fips": flatcar()}},
                "good": {"fips_report__gathered": {"changed": False},
                         "ansible_facts": {"flatcar_fips": flatcar()}}}
    facts, error = facts_and_error(hostvars, "fresh")
    assert facts is None and error.startswith("no Python on the host yet")
    assert facts_and_error(hostvars, "old") == (None, "failed: boom")
    facts, error = facts_and_error(hostvars, "good")
    assert error is None and facts == flatcar()
    data = report.build({name: facts_and_error(hostvars, name) for name in hostvars}, None, [],
                        "failure")
    assert data["totals"]["compliant"] == 1 and sorted(data["noncompliant"]) == ["fresh", "old"]


def test_unreadable_luks_device_is_unknown_not_a_pass():
    facts = flatcar(luks={"unreadable": {"/dev/vda": "Operation not permitted"}})
    result = by_id(fc.fips_compliance(facts))["luks_pbkdf2"]
    assert result["passed"] is None
    assert "could not be read" in result["reason"] and "/dev/vda" in result["reason"]
    verdict = compliance.verdict(facts)
    assert verdict["status"] == "unknown" and verdict["layers"]["luks"] == "unknown"


def test_junit_unknown_is_a_failure_unless_opted_out():
    hosts = {"h": (flatcar(luks={"unreadable": {"/dev/vda": "EPERM"}}), None)}
    strict = parse(report.render_junit(report.build(hosts)))
    case = next(c for c in strict.iter("testcase") if "luks_pbkdf2" in c.get("name"))
    assert case.find("failure") is not None and case.find("skipped") is None
    assert case.find("failure").get("message").startswith("unknown:")
    assert strict.get("failures") == "1"
    relaxed = parse(report.render_junit(report.build(hosts, unknown_as="skipped")))
    case = next(c for c in relaxed.iter("testcase") if "luks_pbkdf2" in c.get("name"))
    assert case.find("skipped") is not None and relaxed.get("failures") == "0"


def test_sshd_runtime_directory_is_not_a_config_problem():
    facts = mixed_fleet()["node-4.example"][0]
    results = by_id(fc.fips_compliance(facts))
    assert results["sshd_config_valid"]["passed"] is False
    assert results["sshd_algorithms"]["passed"] is None
    assert "not a configuration problem" in results["sshd_algorithms"]["reason"]
    assert "runtime_directory" in results["sshd_config_valid"]["remediation"]


def test_a_typo_in_a_user_check_is_an_error_naming_it():
    bad = dict(id="site_aes", layer="sshd", title="t", query="sshd.effective.[Ciphers",
               expect=[], remediation="r")
    with pytest.raises(AnsibleFilterError, match=r"check site_aes: query .* does not parse"):
        fc.fips_compliance(flatcar(), extra_checks=[bad])
    with pytest.raises(AnsibleFilterError, match="check site_aes: layer 'ssh' is not one of"):
        fc.fips_compliance(flatcar(), extra_checks=[dict(bad, layer="ssh",
                                                         query="sshd.effective")])
    with pytest.raises(AnsibleFilterError, match="check site_aes has unknown keys expected"):
        fc.fips_compliance(flatcar(), extra_checks=[dict(bad, query="sshd", expected=1)])


def test_no_raw_jmespath_exception_as_reason():
    check = dict(id="n", layer="sshd", title="t", query="length(sshd.config_ok)", expect=1,
                 remediation="r")
    reason = fc.fips_compliance(flatcar(), checks=[check])[0]["reason"]
    assert reason.endswith("length() got true (boolean), expected string or array or object")
    assert "\n" not in reason and "^" not in reason


def test_no_check_id_or_remediation_twice():
    """One judge: the shipped checks are the only place ids and remediations are written."""
    checks = compliance.shipped_checks()
    ids = [c["id"] for c in checks]
    assert len(ids) == len(set(ids))
    with open(os.path.join(ROOT, "plugins", "modules", "fips_facts.py")) as f:
        module = f.read()
    code = module.split('"""\n\nimport', 1)[1]  # past the docs
    assert "problem" not in code and "remediation" not in code  # the module does not judge
    for check in checks:
        assert check["title"] not in code, check["id"]


def test_status_from_checks():
    fleet = mixed_fleet()
    statuses = {name: report.host_entry(f, e)["status"] for name, (f, e) in fleet.items()}
    assert statuses == {"node-1.example": "enabled", "node-2.example": "pending_reboot",
                        "node-3.example": "disabled", "node-4.example": "partial",
                        "node-5.example": "unknown"}


def test_layers_not_gathered_do_not_decide_the_status():
    facts = flatcar(gathered=["kernel"])
    verdict = compliance.verdict(facts)
    assert verdict["status"] == "enabled" and "sshd" not in verdict["layers"]
    assert verdict["problems"] == []


# --- the report --------------------------------------------------------------------------------

def example_report():
    return report.build(mixed_fleet(), generated=GENERATED,
                        source="synthetic facts of a mixed fleet (tests/unit/controller)")


def test_report_carries_what_an_auditor_needs():
    data = example_report()
    meta = data["meta"]
    assert meta["generated"] == "2026-12-03T09:00:00Z"
    assert re.match(r"flatcar\.fips \d+\.\d+\.\d+$", meta["collection"])
    node = data["hosts"]["node-1.example"]
    assert node["info"] == dict(os="Flatcar Container Linux by Kinvolk 4081.2.0 (Oklo)",
                                os_version="4081.2.0", flatcar=True, kernel="6.6.60-flatcar",
                                openssl="3.3.2", fips_provider="3.0.9")
    md = report.render_markdown(data)
    for text in ("Generated 2026-12-03T09:00:00Z", "node-5.example (unknown)",
                 "Connection timed out", "Missing privilege separation directory",
                 "| luks | every LUKS keyslot uses PBKDF2 | unknown |"):
        assert text in md, text
    assert data["noncompliant"] == ["node-2.example", "node-3.example", "node-4.example",
                                    "node-5.example"]


def test_junit_is_schema_valid_and_counts(tmp_path):
    text = report.render_junit(example_report())
    path = tmp_path / "r.xml"
    path.write_text(text)
    xmlschema.XMLSchema(XSD).validate(str(path))
    root = parse(text)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["node-1.example"].get("failures") == "0"
    assert suites["node-5.example"].get("errors") == "1"
    assert int(suites["node-4.example"].get("failures")) >= 2  # unknown counts


def test_example_report_in_docs_is_current():
    """docs/report-example is this test's output; regenerate with FLATCAR_FIPS_REGENERATE=1."""
    data = example_report()
    rendered = {report.FILE_NAMES[f]: report.RENDERERS[f](data) for f in report.FORMATS}
    if os.environ.get("FLATCAR_FIPS_REGENERATE"):
        report.write(data, EXAMPLE_DIR)
    for name, text in rendered.items():
        path = os.path.join(EXAMPLE_DIR, name)
        assert os.path.exists(path), "%s is missing: FLATCAR_FIPS_REGENERATE=1 make units" % path
        with open(path, encoding="utf-8") as f:
            assert f.read() == text, "%s is stale: FLATCAR_FIPS_REGENERATE=1 make units" % path
    assert json.loads(rendered["report.json"])["totals"]["hosts"] == 5


def test_html_is_self_contained():
    page = report.render_html(example_report())
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert 'id="matrix"' in page and page.count("<tr><th scope=\"row\">") == 5


def test_shipped_checks_file_is_valid():
    with open(compliance.DEFAULT_CHECKS) as f:
        compliance.merge(yaml.safe_load(f))
