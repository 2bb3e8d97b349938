# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The flatcar.fips.report playbook, run as a user runs it: a real ansible-playbook in the
user's own directory, on a fleet of host trees brought into their states by the collection's own
modules (before, pending reboot, enabled), a host whose LUKS device cannot be read, and one that
cannot be reached. The outputs are parsed back, the JUnit file validated against
tests/files/junit.xsd, and the HTML page opened in a real headless Chromium.

Mocked, and why: /proc/sys/crypto/fips_enabled and /proc/cmdline are files in each tree (this
machine cannot reboot into fips=1; the VM tier proves the kernel layer).
"""

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest
import target_python
import xmlschema
from test_fips_facts import HERE, JUNIT_XSD, Host

BIN = os.path.dirname(sys.executable)
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, keys):
    """The inventory of a mixed fleet, and the environment to run Ansible with."""
    base = tmp_path_factory.mktemp("fleet")
    names = ("before", "pending", "enabled", "unreadable")
    hosts = {name: Host(str(base / name), keys) for name in names}
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
               ANSIBLE_LOCAL_TEMP=str(base / "ansible-local"),
               ANSIBLE_REMOTE_TMP=str(base / "ansible-remote"),
               ANSIBLE_HOST_KEY_CHECKING="0", **hosts["before"].env)

    def play(name, **extra):
        cmd = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
               os.path.join(HERE, "playbooks", name), "-e", json.dumps(extra)]
        proc = subprocess.run(cmd, env=dict(env, ANSIBLE_PYTHON_INTERPRETER=target_python.PYTHON),
                              capture_output=True, text=True, check=False, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    for name in ("pending", "enabled", "unreadable"):
        h = hosts[name]
        play("kernel_args.yml", grub_cfg=h.root + "/oem/grub.cfg",
             proc_cmdline=h.root + "/proc/cmdline", present=["fips=1"])
        play("openssl_fips.yml", root=h.root)
        play("sshd_crypto.yml", root=h.sshd.root)
        play("luks_pbkdf.yml", state="pbkdf2", device=h.luks, passphrase="data",
             pbkdf_iterations=1000, header_backup=h.root + "/luks.header")
    hosts["enabled"].boot(fips=True)
    hosts["unreadable"].boot(fips=True)
    group = {}
    for name, h in hosts.items():
        luks = [h.luks] if name != "unreadable" else [h.root + "/proc"]  # a directory: unreadable
        options = dict(grub_cfg=h.root + "/oem/grub.cfg", proc_cmdline=h.root + "/proc/cmdline",
                       fips_enabled_path=h.root + "/proc/fips_enabled",
                       openssl_cnf=h.root + "/etc/ssl/openssl.cnf",
                       fipsmodule_cnf=h.root + "/etc/ssl/fipsmodule.cnf",
                       module=h.openssl.module, system_fips_path=h.root + "/etc/system-fips",
                       sshd_config=h.sshd.main, luks_devices=luks,
                       os_release=h.root + "/etc/os-release",
                       secure_boot_efivar=h.root + "/sys/SecureBoot",
                       cryptsetup=h.cryptsetup)
        group[name] = dict(ansible_connection="local",
                           ansible_python_interpreter=target_python.PYTHON,
                           fips_report_options=options)
    # Nothing listens on port 1 of the loopback address: the connection is refused at once.
    group["unreachable"] = dict(ansible_connection="ssh", ansible_host="127.0.0.1",
                                ansible_port=1, ansible_user="nobody")
    inventory = base / "inventory.json"  # JSON is YAML: the YAML inventory plugin reads it
    inventory.write_text(json.dumps({"flatcar": {"hosts": group}}))
    return dict(inventory=str(inventory), env=env, hosts=hosts)


def report(fleet, cwd, *args, env=None):
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", fleet["inventory"],
           "flatcar.fips.report", *args]
    return subprocess.run(cmd, env=dict(fleet["env"], **(env or {})), cwd=str(cwd),
                          capture_output=True, text=True, check=False, timeout=600)


def test_report_in_the_users_directory(fleet, tmp_path):
    """The README's command, run from the user's directory: the report lands there (it used to
    land in the installed collection's playbooks/ directory)."""
    proc = report(fleet, tmp_path, "-e", "fips_report_dir=./fips-report")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "fips-report"
    assert sorted(os.listdir(out)) == ["report.html", "report.json", "report.junit.xml",
                                       "report.md"]
    assert "5 hosts, 1 compliant" in proc.stdout, proc.stdout[-3000:]
    data = json.loads((out / "report.json").read_text())
    assert {h: v["status"] for h, v in data["hosts"].items()} == dict(
        before="disabled", pending="pending_reboot", enabled="enabled", unreadable="unknown",
        unreachable="unknown")
    assert data["meta"]["collection"].startswith("flatcar.fips ")
    assert data["meta"]["generated"].endswith("Z")
    info = data["hosts"]["enabled"]["info"]
    assert info["os"].startswith("Flatcar Container Linux") and info["fips_provider"]
    assert info["openssl"] and info["kernel"]
    unreadable = data["hosts"]["unreadable"]
    assert unreadable["layers"]["luks"] == "unknown"
    assert "is a directory" in json.dumps(unreadable["checks"])
    assert "unreachable" in data["hosts"]["unreachable"]["errors"]["facts"]
    markdown = (out / "report.md").read_text()
    assert "| enabled | enabled | pass | pass | pass | pass | pass |" in markdown
    assert "## unreachable (unknown)" in markdown and "Connection refused" in markdown
    # the default directory is ./fips-report too, relative to where the user is
    again = tmp_path / "elsewhere"
    again.mkdir()
    proc = report(fleet, again)
    assert proc.returncode == 0 and (again / "fips-report" / "report.html").exists()


def test_junit_marks_unknown_failed_and_validates(fleet, tmp_path):
    proc = report(fleet, tmp_path)
    assert proc.returncode == 0, proc.stdout
    junit = tmp_path / "fips-report" / "report.junit.xml"
    xmlschema.XMLSchema(JUNIT_XSD).validate(str(junit))
    root = xmlschema.XMLResource(str(junit)).root  # parsed with entities disabled
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["enabled"].get("failures") == "0" and suites["enabled"].get("errors") == "0"
    assert suites["unreadable"].get("failures") != "0"  # unknown is a failure, not skipped
    assert suites["unreachable"].get("errors") == "1"
    assert root.find(".//skipped") is None
    relaxed = tmp_path / "relaxed"
    proc = report(fleet, tmp_path, "-e", "fips_report_dir=%s" % relaxed,
                  "-e", "fips_report_unknown_as=skipped")
    root = xmlschema.XMLResource(str(relaxed / "report.junit.xml")).root
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["unreadable"].get("skipped") != "0"
    assert suites["unreadable"].get("failures") == "0"


def test_fail_switch_for_ci(fleet, tmp_path):
    proc = report(fleet, tmp_path, "-e", "fips_report_fail_on_noncompliant=true")
    assert proc.returncode != 0
    assert "Not compliant: before (disabled); pending (pending_reboot); unreachable (unknown); " \
           "unreadable (unknown)" in proc.stdout
    assert (tmp_path / "fips-report" / "report.json").exists()  # written before failing


def test_controller_files_never_use_become(fleet, tmp_path):
    """With become on for the play (to a user that cannot even be become), the gathering
    fails on the hosts, which the report says, and the report is still written by the
    controller's own user."""
    proc = report(fleet, tmp_path, "--become", "--become-user", "nobody",
                  "--become-method", "su", "-l", "before,enabled")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "fips-report"
    for name in os.listdir(out):
        assert os.stat(out / name).st_uid == os.getuid()
    data = json.loads((out / "report.json").read_text())
    assert set(data["hosts"]) == {"before", "enabled"}
    assert all("facts" in h["errors"] for h in data["hosts"].values())


def test_report_from_the_fact_cache_without_connecting(fleet, tmp_path):
    cache = tmp_path / "facts"
    env = dict(ANSIBLE_CACHE_PLUGIN="ansible.builtin.jsonfile",
               ANSIBLE_CACHE_PLUGIN_CONNECTION=str(cache))
    first = report(fleet, tmp_path, "-e", "fips_report_dir=./live", env=env)
    assert first.returncode == 0, first.stdout
    # Every host is now unreachable: a report from the cache must not try to connect.
    hosts = json.loads(open(fleet["inventory"]).read())
    for h in hosts["flatcar"]["hosts"].values():
        h.update(ansible_connection="ssh", ansible_host="127.0.0.1", ansible_port=1)
    offline = tmp_path / "offline.json"
    offline.write_text(json.dumps(hosts))
    cmd = [os.path.join(BIN, "ansible-playbook"), "-i", str(offline), "flatcar.fips.report",
           "-e", "fips_report_from_cache=true", "-e", "fips_report_dir=./cached"]
    proc = subprocess.run(cmd, env=dict(fleet["env"], **env), cwd=str(tmp_path),
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "unreachable=0" in proc.stdout and "Connection refused" not in proc.stdout
    live = json.loads((tmp_path / "live" / "report.json").read_text())
    cached = json.loads((tmp_path / "cached" / "report.json").read_text())
    assert cached["meta"]["source"] == "Ansible's fact cache"
    assert {h: v["status"] for h, v in cached["hosts"].items()} == \
        {h: v["status"] for h, v in live["hosts"].items()}


class MatrixText(HTMLParser):
    """The text of the host-by-layer matrix, row by row, from the DOM the browser built."""

    def __init__(self):
        super().__init__()
        self.rows, self.row, self.cell, self.in_matrix = [], None, None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("id", "matrix") in attrs:
            self.in_matrix = True
        elif self.in_matrix and tag == "tr":
            self.row = []
        elif self.in_matrix and tag in ("td", "th") and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_matrix = False
        elif tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row:
            self.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_html_page_in_a_real_browser(fleet, tmp_path):
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: 'make integration' installs it")
    proc = report(fleet, tmp_path, "-e", json.dumps({"fips_report_formats": ["html"]}))
    assert proc.returncode == 0, proc.stdout
    page = tmp_path / "fips-report" / "report.html"
    assert sorted(os.listdir(tmp_path / "fips-report")) == ["report.html"]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=%s" % (tmp_path / "chromium"), "--hide-scrollbars",
             "--window-size=1400,1000"]
    shot = tmp_path / "report.png"
    run = subprocess.run([CHROMIUM, *flags, "--screenshot=%s" % shot, page.as_uri()],
                         capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0 and shot.stat().st_size > 20000, run.stderr
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, check=False, timeout=120)
    assert dom.returncode == 0, dom.stderr
    parser = MatrixText()
    parser.feed(dom.stdout)
    text = {row[0]: row[1:] for row in parser.rows[1:]}
    assert parser.rows[0][:7] == ["host", "status", "system", "kernel", "openssl", "sshd", "luks"]
    assert text["enabled"][:6] == ["enabled", "pass", "pass", "pass", "pass", "pass"]
    assert text["pending"][:3] == ["pending_reboot", "pass", "fail"]
    assert text["unreadable"][0] == "unknown" and text["unreadable"][5] == "unknown"
    assert text["unreachable"][0] == "unknown"
