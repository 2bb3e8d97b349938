# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fault-injection tier: the modules against hostile files, mounts and processes.

Each module runs as Ansible runs it on a host: its own Python process, arguments in a file, the
JSON result on stdout (no controller round trip, so a case costs a fraction of a second). Every
result is checked the way ansible-core 2.19's controller checks it: one JSON document whose
strings are valid UTF-8 (a lone surrogate is refused there, and the module's message is lost),
and no traceback anywhere.

Read-only mounts, tiny tmpfs file systems (disk full) and bind mounts are real. They need root
and a private mount namespace, which ``make faults`` provides (``unshare --mount``): mounts made
here vanish with the namespace even if a test dies. Without either, the tier fails loudly.
"""

import json
import os
import signal
import stat
import subprocess
import tempfile
import time

import pytest
import target_python
from sshd_layouts import Layout

from ansible_collections.flatcar.fips.plugins.module_utils import grub_cfg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = os.path.join(ROOT, "plugins", "modules")
# A module that blocks on a FIFO would hang forever; this is how long "forever" is here.
HANG = 20


def pytest_configure(config):
    if os.geteuid() != 0:
        pytest.exit("the fault-injection tier needs root (mounts, tmpfs, device nodes): run "
                    "'make faults' as root", returncode=1)
    # 'unshare --mount pytest' runs pytest in a new namespace; its parent stayed in the old one.
    if os.readlink("/proc/self/ns/mnt") == os.readlink("/proc/%d/ns/mnt" % os.getppid()):
        pytest.exit("the fault-injection tier mounts file systems: run it in a private mount "
                    "namespace ('make faults' does: unshare --mount --propagation private)",
                    returncode=1)


def _strict_utf8(value, where="result"):
    """Fail on any string the controller would refuse (not encodable as UTF-8)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            pytest.fail("%s carries a string that is not valid UTF-8: %r" % (where, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _strict_utf8(k, where)
            _strict_utf8(v, "%s.%s" % (where, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _strict_utf8(v, "%s[%d]" % (where, i))


class Result:
    def __init__(self, proc, duration):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.duration = duration
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        try:
            self.result = json.loads(proc.stdout)
        except ValueError:
            pytest.fail("the module printed no JSON result (rc %d):\n%s\n%s"
                        % (proc.returncode, proc.stdout, proc.stderr))
        _strict_utf8(self.result)
        assert "exception" not in self.result, self.result["exception"]

    @property
    def failed(self):
        return bool(self.result.get("failed"))

    @property
    def warnings(self):
        """Warning texts (ansible-core 2.19 returns structured warning summaries)."""
        texts = []
        for w in self.result.get("warnings", []):
            texts.append(w["event"]["msg"] if isinstance(w, dict) else w)
        return texts

    @property
    def msg(self):
        return self.result.get("msg", "")

    def __getitem__(self, key):
        return self.result[key]

    def get(self, key, default=None):
        return self.result.get(key, default)


def module_command(name, args, check=False, diff=True, tmpdir=None):
    path = tmpdir or tempfile.mkdtemp(prefix="fault-args-")
    args_file = os.path.join(path, "args-%s-%d.json" % (name, time.monotonic_ns()))
    module_args = dict(args, _ansible_check_mode=check, _ansible_diff=diff,
                       _ansible_remote_tmp=path, _ansible_tmpdir=path,
                       _ansible_keep_remote_files=False)
    with open(args_file, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": module_args}, f)
    return [target_python.PYTHON, os.path.join(MODULES, name + ".py"), args_file]


@pytest.fixture
def run(tmp_path):
    """``run(module, args, check=False, env=None)``: the module as its own process."""
    scratch = tmp_path / "module-tmp"
    scratch.mkdir()

    def go(name, args, check=False, env=None, timeout=HANG, diff=True, wrap=()):
        """Every run is preceded by the same run in check mode, which must leave everything
        under the test's directory exactly as it was (whatever the real run then does)."""
        if not check:
            before = snapshot(str(tmp_path), skip=("module-tmp",))
            go(name, args, check=True, env=env, timeout=timeout, diff=diff, wrap=wrap)
            after = snapshot(str(tmp_path), skip=("module-tmp",))
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            assert not changed, "check mode of %s changed %s" % (name, changed)
        cmd = [*wrap, *module_command(name, args, check=check, diff=diff, tmpdir=str(scratch))]
        started = time.monotonic()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env=target_python.module_env(dict(os.environ, **(env or {}))),
                                  check=False)
        except subprocess.TimeoutExpired:
            pytest.fail("%s did not finish within %d s: it hangs" % (name, timeout))
        return Result(proc, time.monotonic() - started)

    return go


def snapshot(root, skip=()):
    """Everything under root, exactly: bytes, mode, owner of files; link targets; dirs
    (``skip``: names of top-level entries left out)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        top = dirpath == root
        if top:
            dirnames[:] = [d for d in dirnames if d not in skip]
        for name in dirnames + [f for f in filenames if not (top and f in skip)]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(st.st_mode):
                state[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    state[rel] = ("file", f.read(), stat.S_IMODE(st.st_mode), st.st_uid)
            else:
                state[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode))
    return state


def assert_unchanged(before, root):
    after = snapshot(root)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, "changed under %s: %s" % (root, changed)


class Mounts:
    """Real mounts, undone at teardown (and by the private namespace in any case)."""

    def __init__(self):
        self.points = []

    def _mount(self, *args):
        subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)

    def tmpfs(self, path, size="64k"):
        """An empty tmpfs of ``size`` at ``path``; the old contents are copied in."""
        saved = snapshot(path) if os.path.isdir(path) else {}
        os.makedirs(path, exist_ok=True)
        self._mount("-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", path)
        self.points.append(path)
        for rel, entry in sorted(saved.items()):
            dest = os.path.join(path, rel)
            if entry[0] == "link":
                os.symlink(entry[1], dest)
            elif entry[0] == "file":
                with open(dest, "wb") as f:
                    f.write(entry[1])
                os.chmod(dest, entry[2])
            else:
                os.makedirs(dest, exist_ok=True)
        return path

    def fill(self, path):
        """Fill the file system of ``path`` up: nothing more can be written there."""
        filler = os.path.join(path, ".filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        return filler

    def readonly(self, path, keep_writable=()):
        """``path`` read-only (a bind mount on itself), except the directories below it in
        ``keep_writable`` (bind mounts of their own, which keep their write bit)."""
        self._mount("--bind", path, path)
        self.points.append(path)
        for sub in keep_writable:
            self.bind(sub)
        self._mount("-o", "remount,bind,ro", path)
        return path

    def bind(self, path):
        self._mount("--bind", path, path)
        self.points.append(path)

    def undo(self):
        for path in reversed(self.points):
            subprocess.run(["umount", "-l", path], check=False, capture_output=True, timeout=30)
        self.points = []


@pytest.fixture
def mounts():
    m = Mounts()
    yield m
    m.undo()


def fifo(path):
    if os.path.lexists(path):
        os.unlink(path)
    os.mkfifo(path)
    return path


def kill_after(cmd, delay, env=None):
    """Start ``cmd`` and SIGKILL it after ``delay`` seconds (if still running)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=target_python.module_env(dict(os.environ, **(env or {}))))
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return True
    return False


# --- trees shaped like Flatcar's, and the module arguments that point into them ---------------

QEMU_GRUB = ('# Flatcar GRUB settings for QEMU\n'
             'set linux_append="flatcar.autologin"\n')


def openssl_args(tree, **extra):
    args = dict(
        openssl_cnf=tree.openssl_cnf, fipsmodule_cnf=tree.fipsmodule_cnf, module=tree.module,
        system_fips_path=os.path.join(tree.root, "etc/system-fips"),
        update_guard_script=tree.guard,
        systemd_dir=os.path.join(tree.root, "etc/systemd/system"),
        distribution_openssl_cnf=[os.path.join(tree.root, "usr/share/flatcar/etc/ssl/openssl.cnf"),
                                  os.path.join(tree.root, "usr/share/ssl/openssl.cnf")])
    args.update(extra)
    return args


@pytest.fixture
def oem(tmp_path):
    """An OEM partition with QEMU's grub.cfg, and a running command line without fips=1."""
    root = tmp_path / "oem"
    root.mkdir()
    (root / "grub.cfg").write_text(QEMU_GRUB)
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("BOOT_IMAGE=/flatcar/vmlinuz-a root=LABEL=ROOT flatcar.autologin\n")
    return root, str(cmdline)


def grub_args(oem_dir, cmdline, **extra):
    return dict(dict(path=os.path.join(str(oem_dir), "grub.cfg"), present=["fips=1"],
                     proc_cmdline=cmdline), **extra)


def grub_reads(path):
    """What GRUB makes of grub.cfg: grub-script-check (GRUB's own parser) accepts it, and the
    arguments it appends, evaluated as GRUB does (module_utils.grub_cfg, tested on its own)."""
    proc = subprocess.run(["grub-script-check", path], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(path, "rb") as f:
        return grub_cfg.GrubCfg(f.read().decode("utf-8", "surrogateescape")).configured_args()


@pytest.fixture
def sshd_tree(tmp_path, keys):
    def make(kind="stable", **kwargs):
        return Layout(str(tmp_path / ("ssh-" + kind)), kind, keys, **kwargs)

    return make


def sshd_args(layout, **extra):
    return layout.module_args(**extra)


def effective_sshd(main, spec="user=core,host=localhost,addr=127.0.0.1"):
    """What the real sshd makes of the configuration (sshd -T), for a connection spec."""
    proc = subprocess.run(["/usr/sbin/sshd", "-T", "-f", main, "-C", spec], capture_output=True,
                          text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = {}
    for line in proc.stdout.splitlines():
        key, _sep, value = line.partition(" ")
        result.setdefault(key, value)
    return result
