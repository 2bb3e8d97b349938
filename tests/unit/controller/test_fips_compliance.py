# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compliance filter: pass, fail, missing data, layers not gathered, user checks.

Controller-side code: 'make units' runs this directory in its own pytest process, because
importing ansible's controller packages (ansible.errors) switches module_utils' warnings to the
controller's display, which would hide the warnings the in-process module tests assert on.
"""

import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.flatcar.fips.plugins.filter import fips_compliance as fc
from ansible_collections.flatcar.fips.plugins.filter import fips_report as fr
from ansible_collections.flatcar.fips.plugins.filter.ssh_key_info import ssh_key_info
from ansible_collections.flatcar.fips.plugins.plugin_utils import compliance

ENABLED = {
    "gathered": ["kernel", "openssl", "sshd", "luks"],
    "system": {"flatcar": True, "oem_grub_cfg_ignored": False},
    "kernel": {"fips_configured": True, "fips_enabled": 1},
    "openssl": {"module_present": True, "fipsmodule_cnf": {"verified": True},
                "openssl_cnf": {"fips_configured": True, "default_properties_fips": True},
                "provider_active": True, "md5_refused": True, "other_providers_active": []},
    "system_fips_marker": True,
    "sshd": {"config_ok": True, "non_approved": {},
             "host_keys": [{"path": "/k", "fips_usable": True}]},
    "luks": {"argon2_keyslots": {}, "unreadable": {}},
    "cryptsetup": {"fips_mode": True},
}


def by_id(results):
    return {r["id"]: r for r in results}


def test_shipped_checks_all_pass_on_an_enabled_host():
    results = fc.fips_compliance(ENABLED)
    assert len(results) == len(fc.default_checks()) >= 12
    assert all(r["passed"] is True for r in results), [r for r in results if not r["passed"]]


def test_failures_say_what_was_found():
    facts = dict(ENABLED, kernel={"fips_configured": True, "fips_enabled": 0},
                 sshd={"non_approved": {"Ciphers": ["chacha20-poly1305@openssh.com"]},
                       "host_keys": [{"fips_usable": False}]})
    results = by_id(fc.fips_compliance(facts))
    assert results["kernel_fips_running"]["passed"] is False
    assert results["kernel_fips_running"]["reason"] == "expected 1, found 0"
    assert results["sshd_algorithms"]["passed"] is False
    assert results["sshd_host_key"]["passed"] is False
    assert results["kernel_fips_configured"]["passed"] is True


def test_true_is_not_one():
    check = dict(id="x", layer="kernel", title="t", query="kernel.fips_enabled", expect=True,
                 remediation="r")
    assert fc.fips_compliance(ENABLED, checks=[check])[0]["passed"] is False


def test_missing_data_is_unknown_never_a_pass():
    facts = dict(ENABLED, kernel={"fips_configured": True, "fips_enabled": None}, sshd={})
    results = by_id(fc.fips_compliance(facts))
    assert results["kernel_fips_running"]["passed"] is None
    assert "no data" in results["kernel_fips_running"]["reason"]
    assert results["sshd_host_key"]["passed"] is None
    assert "no data" in results["sshd_host_key"]["reason"]


@pytest.mark.parametrize("openssl, missing", [
    (dict(fipsmodule_cnf=dict(path="/etc/ssl/fipsmodule.cnf", present=False, verified=None),
          module="/usr/lib64/ossl-modules/fips.so", module_present=True),
     "/etc/ssl/fipsmodule.cnf"),
    (dict(fipsmodule_cnf=dict(path="/etc/ssl/fipsmodule.cnf", present=True, verified=None),
          module="/usr/lib64/ossl-modules/fips.so", module_present=False),
     "/usr/lib64/ossl-modules/fips.so"),
])
def test_nothing_to_verify_names_the_missing_file(openssl, missing):
    facts = dict(ENABLED, openssl=dict(ENABLED["openssl"], **openssl))
    result = by_id(fc.fips_compliance(facts))["openssl_fipsmodule_verified"]
    assert result["passed"] is None
    assert result["reason"] == "not verified, this file is missing: " + missing


def test_layers_not_gathered_are_unknown():
    facts = {k: v for k, v in ENABLED.items() if k not in ("sshd", "luks", "cryptsetup")}
    facts["gathered"] = ["kernel", "openssl"]
    results = by_id(fc.fips_compliance(facts))
    assert results["sshd_algorithms"]["passed"] is None
    assert results["sshd_algorithms"]["reason"] == "the sshd layer was not gathered"
    assert results["kernel_fips_running"]["passed"] is True


def test_extra_checks_add_and_replace():
    extra = [dict(id="aes256_only", layer="sshd", title="AES-256 only",
                  query="sshd.effective.Ciphers", expect=["aes256-gcm@openssh.com"],
                  remediation="sshd_crypto policy"),
             dict(id="system_fips_marker", layer="openssl", title="no marker wanted",
                  query="system_fips_marker", expect=False, remediation="-")]
    facts = dict(ENABLED, sshd=dict(ENABLED["sshd"], effective={"Ciphers":
                                                                ["aes256-gcm@openssh.com"]}))
    results = fc.fips_compliance(facts, extra_checks=extra)
    assert results[-1]["id"] == "aes256_only" and results[-1]["passed"] is True
    marker = by_id(results)["system_fips_marker"]
    assert marker["title"] == "no marker wanted" and marker["passed"] is False
    assert len(results) == len(fc.default_checks()) + 1


def test_hostvars_shape_is_accepted():
    assert fc.fips_compliance({"flatcar_fips": ENABLED})[0]["passed"] is True


@pytest.mark.parametrize(("facts", "checks", "message"), [
    ("not a dict", None, "expected ansible_facts.flatcar_fips"),
    (ENABLED, [{"id": "x"}], "lacks layer, title, query, expect, remediation"),
    (ENABLED, ["x"], "must be a dict"),
])
def test_bad_input(facts, checks, message):
    with pytest.raises(AnsibleFilterError, match=message):
        fc.fips_compliance(facts, checks=checks)


def test_report_assembles_hosts_and_totals():
    hostvars = {
        "a": {"ansible_facts": {"flatcar_fips": ENABLED}},
        "b": {"ansible_facts": {"flatcar_fips": dict(ENABLED, kernel={"fips_configured": False,
                                                                      "fips_enabled": 0})}},
        "c": {},
    }
    report = fr.fips_report(["a", "b", "c"], hostvars)
    assert report["hosts"]["a"]["layers"] == dict(system="pass", kernel="pass", openssl="pass",
                                                  sshd="pass", luks="pass")
    assert report["hosts"]["a"]["status"] == "enabled"
    assert report["hosts"]["b"]["layers"]["kernel"] == "fail"
    assert report["hosts"]["b"]["status"] == "partial"
    assert report["hosts"]["c"]["status"] == "unknown" and not report["hosts"]["c"]["reachable"]
    assert report["totals"]["hosts"] == 3 and report["totals"]["compliant"] == 1
    assert report["totals"]["failed"] == 2
    assert report["totals"]["checks"] == len(fc.default_checks()) * 2
    assert report["noncompliant"] == ["b", "c"]


# --- ssh_key_info ------------------------------------------------------------------------------

def test_ssh_key_info(keys):
    def pub(name):
        with open(keys.path(name) + ".pub") as f:
            return f.read()

    assert ssh_key_info(pub("client_ecdsa")) == dict(type="ecdsa-sha2-nistp256", bits=256,
                                                     fips_usable=True)
    assert ssh_key_info(pub("client_ed25519")) == dict(type="ssh-ed25519", bits=256,
                                                       fips_usable=False)
    assert ssh_key_info("no key here") == dict(type=None, bits=None, fips_usable=False)
    with pytest.raises(AnsibleFilterError):
        ssh_key_info(None)


def test_two_reads_of_one_run_merge_into_whole_facts():
    """fips_facts with earlier_read (the role after changing OpenSSL, without a reboot): the
    layers read again replace the earlier read's, with what fips_facts reads with them and their
    errors; the others stay; judged as a whole, nothing is "not gathered"."""
    earlier = copy.deepcopy(ENABLED)
    earlier.update(system_fips_marker=False, cryptsetup={"fips_mode": False}, status="partial",
                   duration=2.0, errors={"openssl.update_guard": "old", "cryptsetup": "old",
                                         "sshd.passwd_file": "kept", "system.os_release": "x"})
    fresh = {"system": dict(ENABLED["system"], os_version="4593.2.1"),
             "openssl": ENABLED["openssl"], "luks": ENABLED["luks"],
             "system_fips_marker": True, "cryptsetup": {"fips_mode": True},
             "errors": {"luks": "new"}, "gathered": ["openssl", "luks"], "duration": 0.5}
    merged = compliance.merge_reads(earlier, fresh)
    assert merged["read_again"] == ["openssl", "luks"]
    assert merged["gathered"] == ["kernel", "openssl", "sshd", "luks"]
    assert merged["system_fips_marker"] is True and merged["cryptsetup"] == {"fips_mode": True}
    assert merged["sshd"] == earlier["sshd"] and merged["kernel"] == earlier["kernel"]
    assert merged["system"]["os_version"] == "4593.2.1" and merged["duration"] == 0.5
    assert merged["errors"] == {"sshd.passwd_file": "kept", "luks": "new"}
    assert "status" not in merged  # the earlier verdict is dropped: judged again, as a whole
    results = fc.fips_compliance(merged)
    assert all(r["passed"] is True for r in results), [r for r in results if not r["passed"]]
    # the partial read alone would leave kernel and sshd unknown ("not gathered")
    alone = fc.fips_compliance(fresh)
    assert any(r["passed"] is None for r in alone)
