# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OEM grub.cfg parser/renderer against real-shaped inputs.

Each case gives the file as a Flatcar image ships it (or as Ignition or a user left it), the
change asked for, the exact text expected back, and the kernel arguments GRUB would then pass.
"""

import re

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import grub_cfg

FIPS = ["fips=1"]

QEMU = '# Flatcar GRUB settings\n\nset oem_id="qemu"\nset linux_append="flatcar.autologin"\n'
QEMU_FIPS = (
    '# Flatcar GRUB settings\n\nset oem_id="qemu"\n'
    'set linux_append="$linux_append flatcar.autologin fips=1"\n'
)

EC2 = (
    "# Flatcar GRUB settings for EC2\n"
    "\n"
    'set oem_id="ec2"\n'
    "\n"
    "# Blacklist the Xen framebuffer module so it doesn't get loaded at boot\n"
    'set linux_append="modprobe.blacklist=xen_fbfront net.ifnames=0 '
    'nvme_core.io_timeout=4294967295"\n'
    "\n"
    'if [ "$grub_platform" = pc ]; then\n'
    '\tset linux_console="console=ttyS0,115200n8"\n'
    "\tserial com0 --speed=115200 --word=8 --parity=no\n"
    "\tterminal_input serial_com0\n"
    "\tterminal_output serial_com0\n"
    "fi\n"
)
EC2_FIPS = (
    "# Flatcar GRUB settings for EC2\n"
    "\n"
    'set oem_id="ec2"\n'
    "\n"
    "# Blacklist the Xen framebuffer module so it doesn't get loaded at boot\n"
    "\n"
    'if [ "$grub_platform" = pc ]; then\n'
    '\tset linux_console="console=ttyS0,115200n8"\n'
    "\tserial com0 --speed=115200 --word=8 --parity=no\n"
    "\tterminal_input serial_com0\n"
    "\tterminal_output serial_com0\n"
    "fi\n"
    'set linux_append="$linux_append modprobe.blacklist=xen_fbfront net.ifnames=0 '
    'nvme_core.io_timeout=4294967295 fips=1"\n'
)
EC2_ARGS = ["modprobe.blacklist=xen_fbfront", "net.ifnames=0", "nvme_core.io_timeout=4294967295"]

AZURE = (
    'set oem_id="azure"\n'
    'set linux_append="flatcar.autologin"\n'
    "\n"
    "# Azure only has a serial console.\n"
    "serial --unit=0 --speed=115200 --word=8 --parity=no\n"
    "terminal_input serial\n"
    "terminal_output serial\n"
    "\n"
    'if [ "$grub_cpu" = arm64 ]; then\n'
    '  set linux_console="console=tty1 console=ttyAMA0,115200n8"\n'
    "else\n"
    '  set linux_console="console=tty1 console=ttyS0,115200n8 earlyprintk=ttyS0,115200"\n'
    "fi\n"
)
AZURE_TAIL = 'set linux_append="$linux_append flatcar.autologin fips=1"\n'

VMWARE = '# Flatcar GRUB settings\n\nset oem_id="vmware"\n'
GCE = (
    "# Flatcar GRUB settings\n\n"
    'set oem_id="gce"\n\n'
    "# GCE only has a serial console.\n"
    'set linux_console="console=ttyS0,115200n8"\n'
    "serial com0 --speed=115200 --word=8 --parity=no\n"
    "terminal_input serial_com0\n"
    "terminal_output serial_com0\n"
)
PACKET = (
    "# Flatcar GRUB settings\n\n"
    'set oem_id="packet"\n'
    'set linux_append="flatcar.autologin"\n\n'
    'if [ "$grub_cpu" = i386 ]; then\n'
    '    set gfxpayload="1024x768x8,1024x768"\n'
    '    set linux_console="console=tty0 console=ttyS1,115200n8"\n'
    "fi\n"
)
PACKET_FIPS = (
    "# Flatcar GRUB settings\n\n"
    'set oem_id="packet"\n\n'
    'if [ "$grub_cpu" = i386 ]; then\n'
    '    set gfxpayload="1024x768x8,1024x768"\n'
    '    set linux_console="console=tty0 console=ttyS1,115200n8"\n'
    "fi\n"
    'set linux_append="$linux_append flatcar.autologin fips=1"\n'
)
IONOS = (
    "# Flatcar GRUB settings\n\n"
    'set oem_id="ionoscloud"\n'
    'set linux_append="flatcar.autologin ignition.config.device=OEM '
    'ignition.config.path=config/user-data"\n'
)
IONOS_ARGS = ["flatcar.autologin", "ignition.config.device=OEM",
              "ignition.config.path=config/user-data"]
# What Ignition's kargs helper leaves: the OEM line blanked, one consolidated line at the end.
IGNITION_REWRITTEN = (
    '# Flatcar GRUB settings\n\nset oem_id="qemu"\n\n'
    'set linux_append="$linux_append flatcar.autologin"\n'
)
IGNITION_REWRITTEN_FIPS = (
    '# Flatcar GRUB settings\n\nset oem_id="qemu"\n\n'
    'set linux_append="$linux_append flatcar.autologin fips=1"\n'
)
CONDITIONAL_APPEND = (
    'set oem_id="qemu"\n'
    'set linux_append="flatcar.autologin"\n'
    'if [ "$grub_platform" = efi ]; then\n'
    '    set linux_append="$linux_append console=ttyS1"\n'
    "fi\n"
)

# (id, input, present, absent, expected text, expected unconditional args, conditional args)
CASES = [
    ("qemu", QEMU, FIPS, [], QEMU_FIPS, ["flatcar.autologin", "fips=1"], []),
    ("ec2 with tab-indented console block", EC2, FIPS, [], EC2_FIPS, EC2_ARGS + FIPS, []),
    ("azure with if/else console block", AZURE, FIPS, [],
     AZURE.replace('set linux_append="flatcar.autologin"\n', "") + AZURE_TAIL,
     ["flatcar.autologin", "fips=1"], []),
    ("vmware with only oem_id", VMWARE, FIPS, [],
     VMWARE + 'set linux_append="$linux_append fips=1"\n', FIPS, []),
    ("gce with console but no linux_append", GCE, FIPS, [],
     GCE + 'set linux_append="$linux_append fips=1"\n', FIPS, []),
    ("packet with if block after the OEM line", PACKET, FIPS, [], PACKET_FIPS,
     ["flatcar.autologin", "fips=1"], []),
    ("ionoscloud with several args on the OEM line", IONOS, FIPS, [],
     '# Flatcar GRUB settings\n\nset oem_id="ionoscloud"\n'
     'set linux_append="$linux_append flatcar.autologin ignition.config.device=OEM '
     'ignition.config.path=config/user-data fips=1"\n',
     IONOS_ARGS + FIPS, []),
    ("empty file (bare metal)", "", FIPS, [],
     'set linux_append="$linux_append fips=1"\n', FIPS, []),
    ("only comments and blank lines", "# nothing here\n\n", FIPS, [],
     '# nothing here\n\nset linux_append="$linux_append fips=1"\n', FIPS, []),
    ("a file Ignition already rewrote", IGNITION_REWRITTEN, FIPS, [], IGNITION_REWRITTEN_FIPS,
     ["flatcar.autologin", "fips=1"], []),
    ("already compliant: unchanged", IGNITION_REWRITTEN_FIPS, FIPS, [], IGNITION_REWRITTEN_FIPS,
     ["flatcar.autologin", "fips=1"], []),
    ("already compliant on an OEM-style line: unchanged",
     'set oem_id="qemu"\nset linux_append="flatcar.autologin fips=1"\n', FIPS, [],
     'set oem_id="qemu"\nset linux_append="flatcar.autologin fips=1"\n',
     ["flatcar.autologin", "fips=1"], []),
    ("a later line without $linux_append resets an earlier one",
     'set linux_append="quiet"\nset oem_id="x"\nset linux_append="flatcar.autologin"\n', FIPS, [],
     'set oem_id="x"\nset linux_append="$linux_append flatcar.autologin fips=1"\n',
     ["flatcar.autologin", "fips=1"], []),
    ("several lines that append",
     'set linux_append="flatcar.autologin"\nset linux_append="$linux_append quiet"\n', FIPS, [],
     'set linux_append="$linux_append flatcar.autologin quiet fips=1"\n',
     ["flatcar.autologin", "quiet", "fips=1"], []),
    ("brace form ${linux_append}",
     'set linux_append="${linux_append} quiet"\n', FIPS, [],
     'set linux_append="$linux_append quiet fips=1"\n', ["quiet", "fips=1"], []),
    ("indented append inside an if block stays in place", CONDITIONAL_APPEND, FIPS, [],
     'set oem_id="qemu"\n'
     'if [ "$grub_platform" = efi ]; then\n'
     '    set linux_append="$linux_append console=ttyS1"\n'
     "fi\n"
     'set linux_append="$linux_append flatcar.autologin fips=1"\n',
     ["flatcar.autologin", "fips=1"], ["console=ttyS1"]),
    ("unindented append inside an if block is conditional, not consolidated",
     'if [ "$x" = y ]; then\nset linux_append="$linux_append quiet"\nfi\n', FIPS, [],
     'if [ "$x" = y ]; then\nset linux_append="$linux_append quiet"\nfi\n'
     'set linux_append="$linux_append fips=1"\n', FIPS, ["quiet"]),
    ("one-line if block",
     'set oem_id="q"\nif [ "$x" = y ]; then set linux_append="$linux_append quiet"; fi\n',
     FIPS, [],
     'set oem_id="q"\nif [ "$x" = y ]; then set linux_append="$linux_append quiet"; fi\n'
     'set linux_append="$linux_append fips=1"\n', FIPS, ["quiet"]),
    ("commented-out linux_append lines are ignored",
     '# set linux_append="fips=0"\n  # set linux_append="$linux_append fips=0"\n'
     'set linux_append="flatcar.autologin"\n', FIPS, [],
     '# set linux_append="fips=0"\n  # set linux_append="$linux_append fips=0"\n'
     'set linux_append="$linux_append flatcar.autologin fips=1"\n',
     ["flatcar.autologin", "fips=1"], []),
    ("CRLF line endings are kept and used for the new line",
     'set oem_id="qemu"\r\nset linux_append="flatcar.autologin"\r\n', FIPS, [],
     'set oem_id="qemu"\r\nset linux_append="$linux_append flatcar.autologin fips=1"\r\n',
     ["flatcar.autologin", "fips=1"], []),
    ("no trailing newline, OEM line last",
     'set oem_id="qemu"\nset linux_append="flatcar.autologin"', FIPS, [],
     'set oem_id="qemu"\nset linux_append="$linux_append flatcar.autologin fips=1"\n',
     ["flatcar.autologin", "fips=1"], []),
    ("no trailing newline, other line last",
     'set linux_append="flatcar.autologin"\nset oem_id="qemu"', FIPS, [],
     'set oem_id="qemu"\nset linux_append="$linux_append flatcar.autologin fips=1"\n',
     ["flatcar.autologin", "fips=1"], []),
    ("absent bare key removes any value", QEMU_FIPS, [], ["fips"],
     '# Flatcar GRUB settings\n\nset oem_id="qemu"\n'
     'set linux_append="$linux_append flatcar.autologin"\n', ["flatcar.autologin"], []),
    ("absent exact value leaves other values", QEMU_FIPS, [], ["fips=0"], QEMU_FIPS,
     ["flatcar.autologin", "fips=1"], []),
    ("absent removes the only argument and the line with it",
     'set oem_id="qemu"\nset linux_append="fips=1"\n', [], ["fips"],
     'set oem_id="qemu"\n', [], []),
    ("absent edits a conditional line in place",
     'if [ "$x" = y ]; then\n  set linux_append="$linux_append fips=1 quiet"\nfi\n', [], ["fips"],
     'if [ "$x" = y ]; then\n  set linux_append="$linux_append quiet"\nfi\n', [], ["quiet"]),
    ("present key=value replaces another value of the key",
     'set linux_append="flatcar.autologin fips=0"\n', FIPS, [],
     'set linux_append="$linux_append flatcar.autologin fips=1"\n',
     ["flatcar.autologin", "fips=1"], []),
    ("several values of a key are kept when all are listed",
     'set linux_append="console=tty0 console=ttyS1"\n', ["console=tty0", "console=ttyS0"], [],
     'set linux_append="$linux_append console=tty0 console=ttyS0"\n',
     ["console=tty0", "console=ttyS0"], []),
    ("trailing whitespace after the OEM line",
     'set linux_append="flatcar.autologin"  \n', FIPS, [],
     'set linux_append="$linux_append flatcar.autologin fips=1"\n',
     ["flatcar.autologin", "fips=1"], []),
]


@pytest.mark.parametrize(
    ("text", "present", "absent", "expected", "args", "conditional"),
    [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_edit(text, present, absent, expected, args, conditional):
    edit = grub_cfg.GrubCfg(text).edit(present, absent)
    assert edit.text == expected
    assert edit.changed == (text != expected)
    assert edit.configured_args == args
    assert edit.conditional_args == conditional
    # What was written evaluates to the same arguments, and editing again changes nothing.
    again = grub_cfg.GrubCfg(edit.text)
    assert again.configured_args() == args
    assert again.conditional_args() == conditional
    assert not again.edit(present, absent).changed


def test_enough_real_shaped_inputs():
    assert len({c[1] for c in CASES}) >= 20


def test_only_managed_lines_change():
    """Every line that is not a linux_append line survives byte for byte, in order."""
    edit = grub_cfg.GrubCfg(EC2).edit(FIPS)
    kept = [line for line in EC2.splitlines(True) if "linux_append" not in line]
    assert [line for line in edit.text.splitlines(True) if "linux_append" not in line] == kept


def test_added_and_removed_are_reported():
    edit = grub_cfg.GrubCfg('set linux_append="fips=0 quiet"\n').edit(FIPS, ["quiet"])
    assert edit.added == ["fips=1"]
    assert sorted(edit.removed) == ["fips=0", "quiet"]


def test_ignition_helper_sees_exactly_one_line():
    """Ignition's helper reads unindented ^set linux_append="..."$ lines: after our rewrite
    there is one, it carries $linux_append, and its words are our arguments."""
    edit = grub_cfg.GrubCfg(PACKET).edit(FIPS)
    lines = [m.group(1) for m in re.finditer(r'(?m)^set linux_append="(.*)"$', edit.text)]
    assert lines == ["$linux_append flatcar.autologin fips=1"]


# (id, input, present, absent, line, fragment of the message)
REFUSED = [
    ("another variable in the value", 'set linux_append="$linux_append $extra"\n', FIPS, [], 1,
     "another variable"),
    ("comment after the value", 'set oem_id="q"\nset linux_append="a" # why\n', FIPS, [], 2,
     "comment"),
    ("replacing assignment inside an if block",
     'set linux_append="a"\nif [ x ]; then\n  set linux_append="console=ttyS1"\nfi\n', FIPS, [], 3,
     "inside an if"),
    ("unset", 'unset linux_append\n', FIPS, [], 1, "unset"),
    ("escaped quotes", 'set linux_append="a \\"b c\\""\n', FIPS, [], 1, "contains"),
    ("unterminated quote", 'set linux_append="a\n', FIPS, [], 1, "unterminated"),
    ("text after the value", 'set linux_append="a" b\n', FIPS, [], 1, "unexpected text"),
    ("$linux_append twice", 'set linux_append="$linux_append $linux_append a"\n', FIPS, [], 1,
     "more than once"),
]


@pytest.mark.parametrize(("text", "present", "absent", "line", "fragment"),
                         [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refuses_with_line(text, present, absent, line, fragment):
    with pytest.raises(grub_cfg.GrubCfgError) as e:
        grub_cfg.GrubCfg(text).edit(present, absent)
    assert e.value.lineno == line
    assert fragment in e.value.message
    assert str(e.value).startswith("line %d: " % line)


def test_refuses_to_revive_an_overridden_line():
    """An indented append that a later OEM line overrides would start to count after
    consolidation: refuse, naming the line."""
    text = 'if [ x ]; then\n  set linux_append="$linux_append console=ttyS1"\nfi\n' \
           'set linux_append="flatcar.autologin"\n'
    cfg = grub_cfg.GrubCfg(text)
    assert cfg.configured_args() == ["flatcar.autologin"]
    assert cfg.conditional_args() == []
    with pytest.raises(grub_cfg.GrubCfgError) as e:
        cfg.edit(FIPS)
    assert "console=ttyS1 (conditional) would start to reach the kernel" in str(e.value)
    assert "line 2" in str(e.value)


def test_no_change_needed_reads_even_unconsolidated_files():
    """Like Ignition, nothing is rewritten when the arguments are already right."""
    text = 'set linux_append="fips=1"\nset linux_append="$linux_append quiet"\n'
    assert not grub_cfg.GrubCfg(text).edit(FIPS).changed


@pytest.mark.parametrize("arg", [
    "fips=1 quiet", "a\tb", "a\nb", 'x="y"', "x='y'", "$x", "a\\b", "a;b", "", "a\x01",
])
def test_invalid_args_are_refused(arg):
    assert grub_cfg.validate_arg(arg)
    with pytest.raises(ValueError):
        grub_cfg.GrubCfg(QEMU).edit([arg])


@pytest.mark.parametrize("arg", ["fips=1", "quiet", "console=ttyS0,115200n8",
                                 "ignition.config.path=config/user-data", "a#b", "x={y}"])
def test_valid_args(arg):
    assert grub_cfg.validate_arg(arg) is None


def test_conflicting_present_and_absent():
    with pytest.raises(ValueError, match="present and matched by absent"):
        grub_cfg.GrubCfg(QEMU).edit(["fips=1"], ["fips"])


@pytest.mark.parametrize(("cmdline", "words"), [
    ("BOOT_IMAGE=/flatcar/vmlinuz-a root=LABEL=ROOT fips=1\n",
     ["BOOT_IMAGE=/flatcar/vmlinuz-a", "root=LABEL=ROOT", "fips=1"]),
    ('a  b="c d"   e\n', ["a", 'b="c d"', "e"]),
    ("", []),
])
def test_split_cmdline(cmdline, words):
    assert grub_cfg.split_cmdline(cmdline) == words


@pytest.mark.parametrize(("word", "absent", "expected"), [
    ("fips=1", ["fips"], True), ("fips", ["fips"], True), ("fips=1", ["fips=0"], False),
    ("fipsx=1", ["fips"], False), ("fips=0", ["fips=0"], True),
])
def test_matches_absent(word, absent, expected):
    assert grub_cfg.matches_absent(word, absent) is expected


def test_proc_cmdline_init_args_are_not_kernel_args():
    kernel, init = grub_cfg.split_proc_cmdline(
        'BOOT_IMAGE=/vmlinuz root=LABEL=ROOT quiet -- fips=1 --init-flag\n')
    assert kernel == ["BOOT_IMAGE=/vmlinuz", "root=LABEL=ROOT", "quiet"]
    assert init == ["fips=1", "--init-flag"]
    assert grub_cfg.split_proc_cmdline("a b") == (["a", "b"], [])
