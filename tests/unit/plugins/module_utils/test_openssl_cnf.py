# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenSSL configuration parser/renderer and the FIPS rules built on it."""

import os

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import openssl_cnf as oc

HERE = os.path.dirname(os.path.abspath(__file__))
FLATCAR_STOCK = os.path.join(HERE, "..", "..", "..", "files", "openssl.cnf.flatcar")
DEBIAN_STOCK = "/usr/lib/ssl/openssl.cnf"  # installed with Debian's openssl (make setup)
FIPSMODULE = "/etc/ssl/fipsmodule.cnf"

# Flatcar's documented FIPS configuration (also what kola's misc.fips writes), plus fips=yes.
DOCUMENTED = """config_diagnostics = 1
openssl_conf = openssl_init

.include /etc/ssl/fipsmodule.cnf

[openssl_init]
providers = provider_sect
alg_section = algorithm_sect

[provider_sect]
fips = fips_sect
base = base_sect

[base_sect]
activate = 1

[algorithm_sect]
default_properties = fips=yes
"""
SHIPPED_FIPSMODULE = """[fips_sect]
activate = 1
install-version = 1
conditional-errors = 1
security-checks = 1
module-mac = 5E:DB:4D:D1:86:FA
"""


def read(path):
    with open(path) as f:
        return f.read()


@pytest.mark.parametrize("path", [FLATCAR_STOCK, DEBIAN_STOCK])
def test_stock_files_round_trip(path):
    text = read(path)
    assert oc.OpenSSLCnf(text).render() == text


def test_reading_the_flatcar_stock_file():
    cnf = oc.OpenSSLCnf(read(FLATCAR_STOCK))
    assert cnf.get(oc.DEFAULT, "openssl_conf") == "openssl_init"
    assert cnf.get(oc.DEFAULT, "HOME") == "."
    assert cnf.items("provider_sect") == {"default": "default_sect"}
    # inline comments are not part of values; $dir is kept as written
    assert cnf.get("ca", "default_ca") == "CA_default"
    assert cnf.get("CA_default", "certs") == "$dir/certs"
    assert cnf.get("default_sect", "activate") is None  # commented out
    assert "req_distinguished_name" in cnf.sections()


@pytest.mark.parametrize(("text", "section", "key", "value"), [
    ("a = 1\n[s]\nb = 2\n", "s", "b", "2"),
    ("[ spaced ]\nk=v\n", "spaced", "k", "v"),
    ("[s]\nk = first\nk = second\n", "s", "k", "second"),
    ("[s]\nk = \"quoted # not a comment\" # comment\n", "s", "k", '"quoted # not a comment"'),
    ("[s]\nk = a\\#b\n", "s", "k", "a\\#b"),
    ("[s]\nk = one \\\n  two\n", "s", "k", "one   two"),
    ("[s]\r\nk = v\r\n", "s", "k", "v"),
    ("[default]\nk = v\n", oc.DEFAULT, "k", "v"),
    ("k = v", oc.DEFAULT, "k", "v"),
    ("[s]\nsection::name = x\n", "s", "section::name", "x"),
])
def test_values(text, section, key, value):
    cnf = oc.OpenSSLCnf(text)
    assert cnf.get(section, key) == value
    assert cnf.render() == text


def test_include_forms_and_keys_after_an_include():
    cnf = oc.OpenSSLCnf("a = 1\n.include /x.cnf\nb = 2\n.include=/y.cnf\n[s]\nc = 3\n")
    assert [p for p, _line in cnf.includes()] == ["/x.cnf", "/y.cnf"]
    # b lands in whatever section /x.cnf opened last, not in the default section
    assert cnf.get(oc.DEFAULT, "a") == "1"
    assert cnf.get(oc.DEFAULT, "b") is None
    assert cnf.get("s", "c") == "3"


@pytest.mark.parametrize(("text", "line"), [
    ("[s]\nno equal sign here\n", 2),
    ("a = 1\n\n# c\n[s\n", 4),
])
def test_errors_name_the_line(text, line):
    with pytest.raises(oc.OpenSSLCnfError) as e:
        oc.OpenSSLCnf(text)
    assert e.value.lineno == line
    assert str(e.value).startswith("line %d: " % line)


def test_set_edits_in_place_and_appends_where_the_section_is():
    cnf = oc.OpenSSLCnf("# head\na = 1\n\n[s]\nb = 2  # why\n\n[t]\nc = 3\n")
    assert cnf.set("s", "b", "9") is True
    assert cnf.set("s", "new", "x") is True
    assert cnf.set(oc.DEFAULT, "z", "0") is True
    assert cnf.set("t", "c", "3") is False
    assert cnf.render() == "# head\na = 1\nz = 0\n\n[s]\nb = 9\nnew = x\n\n[t]\nc = 3\n"


def test_default_section_key_goes_before_an_include():
    cnf = oc.OpenSSLCnf("a = 1\n.include /x.cnf\n[s]\n")
    cnf.set(oc.DEFAULT, "b", "2")
    assert cnf.render() == "a = 1\nb = 2\n.include /x.cnf\n[s]\n"


def test_enable_fips_on_the_flatcar_stock_file():
    text = read(FLATCAR_STOCK)
    cnf = oc.OpenSSLCnf(text)
    changes = oc.enable_fips(cnf, FIPSMODULE)
    out = cnf.render()
    assert "[provider_sect] default removed (only fips and base may be loaded)" in changes
    assert out.rstrip().endswith(".include /etc/ssl/fipsmodule.cnf")
    # every line of the stock file is still there, except the default provider entry
    kept = [line for line in text.splitlines() if line != "default = default_sect"]
    rendered = out.splitlines()
    assert all(line in rendered for line in kept)
    status = oc.fips_status(oc.OpenSSLCnf(out), FIPSMODULE, oc.OpenSSLCnf(SHIPPED_FIPSMODULE))
    assert status["fips_enabled"] is True
    assert status["activated"] == ["base", "fips"]
    assert status["default_properties_fips"] is True
    assert status["config_diagnostics"] == "1"
    # a second pass changes nothing
    again = oc.OpenSSLCnf(out)
    assert oc.enable_fips(again, FIPSMODULE) == []
    assert again.render() == out


def test_enable_fips_on_debians_stock_file():
    cnf = oc.OpenSSLCnf(read(DEBIAN_STOCK))
    oc.enable_fips(cnf, FIPSMODULE)
    status = oc.fips_status(oc.OpenSSLCnf(cnf.render()), FIPSMODULE,
                            oc.OpenSSLCnf(SHIPPED_FIPSMODULE))
    assert status["fips_enabled"] is True


def test_the_documented_configuration_is_left_as_it_is():
    cnf = oc.OpenSSLCnf(DOCUMENTED)
    assert oc.enable_fips(cnf, FIPSMODULE) == []
    assert cnf.render() == DOCUMENTED


def test_enable_fips_on_an_empty_file():
    cnf = oc.OpenSSLCnf("")
    oc.enable_fips(cnf, FIPSMODULE)
    out = cnf.render()
    assert out.startswith("openssl_conf = openssl_init\nconfig_diagnostics = 1\n")
    assert oc.fips_status(oc.OpenSSLCnf(out), FIPSMODULE,
                          oc.OpenSSLCnf(SHIPPED_FIPSMODULE))["fips_enabled"] is True


def test_existing_section_names_are_followed():
    text = ("openssl_conf = my_init\n[my_init]\nproviders = my_providers\nssl_conf = ssl_sect\n"
            "[my_providers]\ndefault = d\nlegacy = l\n[d]\nactivate = 1\n[l]\nactivate = 1\n")
    cnf = oc.OpenSSLCnf(text)
    oc.enable_fips(cnf, FIPSMODULE)
    out = oc.OpenSSLCnf(cnf.render())
    assert out.items("my_providers") == {"fips": "fips_sect", "base": "base_sect"}
    assert out.get("my_init", "ssl_conf") == "ssl_sect"
    assert out.get("d", "activate") == "1"  # the section stays; it is no longer referenced


def test_a_misplaced_include_is_moved():
    text = "openssl_conf = openssl_init\n.include fipsmodule.cnf\nconfig_diagnostics = 1\n"
    cnf = oc.OpenSSLCnf(text)
    oc.enable_fips(cnf, FIPSMODULE)
    out = cnf.render()
    assert out.count(".include") == 1
    assert out.rstrip().endswith(".include /etc/ssl/fipsmodule.cnf")


def test_default_properties_merge_and_removal():
    text = DOCUMENTED.replace("fips=yes", "provider!=legacy")
    cnf = oc.OpenSSLCnf(text)
    oc.enable_fips(cnf, FIPSMODULE)
    assert cnf.get("algorithm_sect", "default_properties") == "fips=yes,provider!=legacy"
    oc.enable_fips(cnf, FIPSMODULE, default_properties_fips=False)
    assert cnf.get("algorithm_sect", "default_properties") == "provider!=legacy"


def test_status_of_a_non_fips_file():
    status = oc.fips_status(oc.OpenSSLCnf(read(FLATCAR_STOCK)), FIPSMODULE)
    assert status["fips_enabled"] is False
    assert status["includes_fipsmodule"] is False
    assert status["providers"] == ["default"]


def test_status_notices_a_default_provider():
    text = DOCUMENTED.replace("base = base_sect", "base = base_sect\ndefault = default_sect") + \
        "[default_sect]\nactivate = 1\n"
    status = oc.fips_status(oc.OpenSSLCnf(text), FIPSMODULE, oc.OpenSSLCnf(SHIPPED_FIPSMODULE))
    assert "default" in status["activated"]
    assert status["fips_enabled"] is False


def test_fips_section_of():
    assert oc.fips_section_of(oc.OpenSSLCnf(SHIPPED_FIPSMODULE)) == "fips_sect"
    assert oc.fips_section_of(oc.OpenSSLCnf("[x]\nactivate = 1\n")) is None
