# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flatcar.fips.ignition_config: every rendered config passes Debian's ignition-validate (spec
3.3.0; its Ignition 2.14 refuses 3.4.0) and the JSON schema of its spec (../shared/data/ignition,
copied into tests/files/ignition); bad input fails naming it. What real Ignition makes of the
config on a root file system is in tests/integration/test_ignition.py."""

import base64
import json
import os
import shutil
import subprocess
import urllib.parse

import jsonschema
import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.flatcar.fips.plugins.filter.ignition_config import ignition_config
from ansible_collections.flatcar.fips.plugins.module_utils import algorithms, fips_guard
from ansible_collections.flatcar.fips.plugins.plugin_utils import ignition

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "files", "ignition")


def schema(spec):
    with open(os.path.join(SCHEMAS, "ignition-v%s.schema.json" % spec[:3])) as f:
        return json.load(f)


def decode(source):
    head, _sep, data = source.partition(",")
    if head.endswith(";base64"):
        return base64.b64decode(data).decode()
    return urllib.parse.unquote(data)


def files_of(config):
    return {f["path"]: (decode(f["contents"]["source"]), f["mode"])
            for f in config["storage"]["files"]}


def validate(config, tmp_path):
    path = tmp_path / "config.ign"
    path.write_text(json.dumps(config))
    tool = shutil.which("ignition-validate")
    if tool is None:
        pytest.fail("ignition-validate is not installed (Debian's ignition package; make setup)")
    return subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("variables", [
    {},
    {"fips_mode_sshd_allow_hmac_sha1": True, "fips_mode_openssl_update_guard": False},
    {"fips_mode_sshd_policy": {"ciphers": ["aes256-gcm@openssh.com"]},
     "fips_mode_update_guard_accept_unverified_usr": True,
     "fips_mode_reboot_ok": True, "fips_mode_known_hosts": "learn"},  # ignored: run-time only
])
def test_valid_for_ignition_and_the_schema(variables, tmp_path):
    config = ignition_config(variables)
    jsonschema.validate(config, schema("3.3.0"))
    proc = validate(config, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    newer = ignition_config(variables, spec="3.4.0")
    assert newer["ignition"]["version"] == "3.4.0"
    jsonschema.validate(newer, schema("3.4.0"))
    # Debian's Ignition 2.14 knows 3.3.0 at most: say so rather than pretend it validated
    assert "unsupported config version" in validate(newer, tmp_path).stderr


def test_what_the_config_carries():
    config = ignition_config({})
    assert config["kernelArguments"] == {"shouldExist": ["fips=1"], "shouldNotExist": ["fips=0"]}
    files = files_of(config)
    assert sorted(files) == sorted([ignition.SYSTEM_FIPS, ignition.OPENSSL_CNF,
                                    algorithms.DROP_IN, ignition.GUARD_SCRIPT])
    assert all(f["overwrite"] is True for f in config["storage"]["files"])
    cnf, mode = files[ignition.OPENSSL_CNF]
    assert mode == 0o644
    assert cnf.rstrip().endswith(".include /etc/ssl/fipsmodule.cnf")
    assert "default_properties = fips=yes" in cnf and "base = base_sect" in cnf
    assert "\ndefault = default_sect" not in cnf  # the default provider is not loaded
    drop_in, mode = files[algorithms.DROP_IN]
    assert mode == 0o600 and "chacha20" not in drop_in
    assert drop_in == algorithms.drop_in_text(algorithms.policy_lists())
    script, mode = files[ignition.GUARD_SCRIPT]
    assert mode == 0o755 and script.startswith("#!/bin/sh")
    assert "ACCEPT_UNVERIFIED=0" in script
    unit = config["systemd"]["units"][0]
    assert unit == {"name": fips_guard.UNIT_NAME, "enabled": True,
                    "contents": fips_guard.unit(ignition.FIPS_SO, ignition.GUARD_SCRIPT)}
    assert "Before=sysinit.target sshd.socket" in unit["contents"]


def test_options_shape_it():
    sha1 = files_of(ignition_config({"fips_mode_sshd_allow_hmac_sha1": True}))
    assert "hmac-sha1" in sha1[algorithms.DROP_IN][0]
    policy = {"fips_mode_sshd_policy": {"Ciphers": ["aes256-gcm@openssh.com"]}}
    assert "\nCiphers aes256-gcm@openssh.com\n" in files_of(ignition_config(policy))[
        algorithms.DROP_IN][0]
    without = ignition_config({"fips_mode_openssl_update_guard": False})
    assert without["systemd"]["units"] == []
    assert ignition.GUARD_SCRIPT not in files_of(without)
    accept = files_of(ignition_config({"fips_mode_update_guard_accept_unverified_usr": "yes"}))
    assert "ACCEPT_UNVERIFIED=1" in accept[ignition.GUARD_SCRIPT][0]


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(variables={"fips_mode_bogus": 1}), "unknown option fips_mode_bogus"),
    (dict(variables={"sshd_policy": {}}), "unknown option sshd_policy"),
    (dict(variables={"fips_mode_sshd_policy": {"Ciphers": ["chacha20-poly1305@openssh.com"]}}),
     "chacha20-poly1305@openssh.com is not FIPS-approved for Ciphers"),
    (dict(variables={"fips_mode_sshd_policy": {"Kex": ["ecdh-sha2-nistp256"]}}),
     "Kex is not one of"),
    (dict(variables={"fips_mode_sshd_allow_hmac_sha1": "maybe"}),
     "fips_mode_sshd_allow_hmac_sha1 must be a boolean"),
    (dict(variables={"fips_mode_state": "disabled"}), "renders the enabled state only"),
    (dict(variables={}, spec="3.5.0"), "spec: '3.5.0' is not supported (3.3.0, 3.4.0)"),
    (dict(variables={}, output="yaml"), "output: 'yaml' is not one of config, butane"),
    (dict(variables={}, release="lts-2023"), "the stock openssl.cnf is shipped for stable"),
    (dict(variables={}, openssl_cnf_stock="[unterminated\n"), "openssl_cnf_stock"),
])
def test_bad_input_names_what_is_wrong(kwargs, message):
    variables = kwargs.pop("variables")
    with pytest.raises(AnsibleFilterError) as e:
        ignition_config(variables, **kwargs)
    assert message in str(e.value)


BASE = {"ignition": {"version": "3.3.0"},
        "kernelArguments": {"shouldExist": ["console=ttyS0"]},
        "passwd": {"users": [{"name": "core",
                              "sshAuthorizedKeys": ["ecdsa-sha2-nistp256 AAAA x"]}]},
        "storage": {"files": [{"path": "/etc/hostname", "mode": 420,
                               "contents": {"source": "data:,node-1"}}]},
        "systemd": {"units": [{"name": "app.service", "enabled": True,
                               "contents": "[Service]\nExecStart=/bin/true\n"}]}}


def test_merged_into_the_users_config(tmp_path):
    merged = ignition_config({}, base=BASE)
    jsonschema.validate(merged, schema("3.3.0"))
    assert validate(merged, tmp_path).returncode == 0
    assert merged["passwd"] == BASE["passwd"]
    assert merged["kernelArguments"]["shouldExist"] == ["console=ttyS0", "fips=1"]
    assert merged["storage"]["files"][0]["path"] == "/etc/hostname"
    units = [u["name"] for u in merged["systemd"]["units"]]
    assert units == ["app.service", fips_guard.UNIT_NAME]
    assert BASE["storage"]["files"][0]["path"] == "/etc/hostname"  # the input is not changed
    assert len(BASE["storage"]["files"]) == 1


@pytest.mark.parametrize(("change", "message"), [
    (lambda b: b["storage"]["files"].append({"path": "/etc/ssl/openssl.cnf"}),
     "already writes /etc/ssl/openssl.cnf"),
    (lambda b: b["systemd"]["units"].append({"name": fips_guard.UNIT_NAME}),
     "already writes %s" % fips_guard.UNIT_NAME),
    (lambda b: b["kernelArguments"].update(shouldNotExist=["fips=1"]),
     "would both keep and remove fips=1"),
    (lambda b: b["ignition"].update(version="3.4.0"), "the user's config is spec 3.4.0"),
])
def test_conflicts_with_the_users_config(change, message):
    base = json.loads(json.dumps(BASE))
    change(base)
    with pytest.raises(AnsibleFilterError) as e:
        ignition_config({}, base=base)
    assert message in str(e.value)


def test_butane_says_the_same():
    for spec, version in (("3.3.0", "1.0.0"), ("3.4.0", "1.1.0")):
        text = ignition_config({}, output="butane", spec=spec)
        assert text.startswith("# Generated by flatcar.fips.ignition_config")
        butane = yaml.safe_load(text)
        assert butane["variant"] == "flatcar" and butane["version"] == version
        assert butane["kernel_arguments"] == {"should_exist": ["fips=1"],
                                              "should_not_exist": ["fips=0"]}
        config = ignition_config({}, spec=spec)
        assert {f["path"]: (f["contents"]["inline"], f["mode"])
                for f in butane["storage"]["files"]} == files_of(config)
        assert butane["systemd"]["units"] == config["systemd"]["units"]
    assert "    mode: 0755\n" in text  # octal, as Butane sources write modes
