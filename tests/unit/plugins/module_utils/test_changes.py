# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils.changes and the file primitives under it, with real files in tmp dirs."""

import os
import stat

import pytest

from ansible_collections.flatcar.fips.plugins.module_utils import changes as ch
from ansible_collections.flatcar.fips.plugins.module_utils import files


class FakeModule:
    """What Changes uses of AnsibleModule: check_mode and atomic_move (a plain rename here;
    the real one is exercised by every module test)."""

    def __init__(self, check_mode=False):
        self.check_mode = check_mode

    def atomic_move(self, src, dest):
        os.rename(src, dest)


def state(root):
    out = {}
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if os.path.islink(path):
            out[name] = ("link", os.readlink(path))
        elif os.path.isdir(path):
            out[name] = ("dir", state(path))
        else:
            st = os.stat(path)
            with open(path, "rb") as f:
                out[name] = ("file", f.read(), stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return out


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a.cnf").write_bytes(b"old a \xe9\n")
    os.chmod(tmp_path / "a.cnf", 0o640)
    (tmp_path / "b.cnf").write_bytes(b"old b\n")
    os.symlink("/usr/share/x.cnf", tmp_path / "link.cnf")
    return tmp_path


def test_rollback_restores_everything_newest_first(tree):
    before = state(str(tree))
    c = ch.Changes(FakeModule())
    c.write(str(tree / "a.cnf"), "new a\n", backup=True)
    c.copy(str(tree / "b.cnf"), str(tree / "b.cnf.pre-fips"))
    c.write(str(tree / "link.cnf"), "replaced link\n")
    c.makedirs(str(tree / "new/dir"))
    c.write(str(tree / "new/dir/unit"), "x")
    c.remove(str(tree / "b.cnf"))
    c.symlink("target", str(tree / "wants"))
    assert state(str(tree)) != before
    restored, errors = c.rollback()
    assert errors == [] and len(restored) == 7  # 6 paths + the backup file
    assert state(str(tree)) == before  # bytes, modes, times, links; created dirs removed


def test_check_mode_records_and_does_nothing(tree):
    before = state(str(tree))
    c = ch.Changes(FakeModule(check_mode=True))
    c.write(str(tree / "a.cnf"), "new\n", backup=True)
    c.remove(str(tree / "b.cnf"))
    c.copy(str(tree / "b.cnf"), str(tree / "b.cnf.pre-fips"))
    c.create_with([str(tree / "key")], lambda: pytest.fail("ran in check mode"))
    assert c.files_changed == [str(tree / n) for n in ("a.cnf", "b.cnf", "b.cnf.pre-fips",
                                                       "key")]
    assert state(str(tree)) == before and c.touched == []


def test_write_refuses_a_directory_and_leaves_no_temp_file(tree):
    os.mkdir(tree / "d.cnf")
    c = ch.Changes(FakeModule())
    with pytest.raises(files.FileError, match="is a directory, not a regular file"):
        c.write(str(tree / "d.cnf"), "x")
    assert sorted(os.listdir(tree)) == ["a.cnf", "b.cnf", "d.cnf", "link.cnf"]


def test_failed_validation_writes_nothing(tree):
    before = state(str(tree))

    def refuse(tmp):
        with open(tmp, "rb") as f:
            assert f.read() == b"candidate\n"  # the complete candidate is validated
        raise ch.Failure("rejected")

    with pytest.raises(ch.Failure):
        ch.Changes(FakeModule()).write(str(tree / "a.cnf"), "candidate\n", validate=refuse)
    assert state(str(tree)) == before


def test_read_bytes_refuses_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    os.symlink("loop2", tmp_path / "loop1")
    os.symlink("loop1", tmp_path / "loop2")
    os.mkdir(tmp_path / "dir")
    with pytest.raises(files.FileError, match="FIFO"):
        files.read_bytes(str(tmp_path / "fifo"))  # returns at once: never blocks
    with pytest.raises(files.FileError, match="symlink loop"):
        files.read_bytes(str(tmp_path / "loop1"))
    with pytest.raises(files.FileError, match="directory"):
        files.read_bytes(str(tmp_path / "dir"))
    assert files.read_bytes(str(tmp_path / "missing")) is None
    (tmp_path / "big").write_bytes(b"x" * 11)
    with pytest.raises(files.FileError, match="more than the 10"):
        files.read_bytes(str(tmp_path / "big"), limit=10)


def test_read_bytes_procfs():
    """/proc/sys refuses one large read (ENOMEM); chunks work."""
    assert files.read_bytes("/proc/sys/kernel/osrelease").strip()


def test_printable_escapes_only_undecodable_bytes():
    text = b"caf\xe9 \xc3\xa9 ok".decode("utf-8", "surrogateescape")
    assert files.printable(text) == "caf\\xe9 \u00e9 ok"
    expected = {"k\\xff": ["caf\\xe9 \u00e9 ok", 1, None]}
    assert files.printable({"k\udcff": [text, 1, None]}) == expected


def test_copy_verified_keeps_mode_and_times(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"data")
    os.chmod(src, 0o600)
    st = os.stat(src)
    files.copy_verified(b"data", str(tmp_path / "dst"), st)
    dst = os.stat(tmp_path / "dst")
    assert stat.S_IMODE(dst.st_mode) == 0o600 and dst.st_mtime_ns == st.st_mtime_ns
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]


def test_a_bug_halfway_still_rolls_back(tree):
    """Not a planned failure (a bug): the files are put back, and the error is raised for
    Ansible to show."""
    before = state(str(tree))
    c = ch.Changes(FakeModule())

    def buggy():
        c.write(str(tree / "a.cnf"), "new a\n")
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        ch.run(FakeModule(), c, buggy)
    assert state(str(tree)) == before


def test_one_writer_at_a_time(monkeypatch, tmp_path):
    """The host-wide lock: a second writer waits, and says so when it times out."""
    monkeypatch.setattr(ch, "LOCK_PATHS", (str(tmp_path / "flatcar-fips.lock"),))
    first = ch.lock_host(True)
    with pytest.raises(ch.Failure, match=r"Another flatcar\.fips task .*lock .* is held"):
        ch.lock_host(True, timeout=0.3)
    reader = None
    with pytest.raises(ch.Failure):
        reader = ch.lock_host(False, timeout=0.3)  # check mode waits for a writer too
    os.close(first)
    reader = ch.lock_host(False, timeout=0.3)
    second_reader = ch.lock_host(False, timeout=0.3)  # readers share
    os.close(reader)
    os.close(second_reader)


class ExitingModule(FakeModule):
    def exit_json(self, **result):
        raise SystemExit(0)

    def fail_json(self, **result):
        raise SystemExit(1)


def test_the_lock_is_released_when_the_module_exits(monkeypatch, tmp_path):
    """Modules run in-process (unit tests, or a caller that catches SystemExit) one after the
    other: each run must find the lock free again, however the previous one ended."""
    monkeypatch.setattr(ch, "LOCK_PATHS", (str(tmp_path / "flatcar-fips.lock"),))
    monkeypatch.setattr(ch, "LOCK_TIMEOUT", 0.5)

    def refuse():
        raise ch.Failure("no")

    for fn in (dict, refuse, dict):
        c = ch.Changes(ExitingModule())
        with pytest.raises(SystemExit):
            ch.run(c.module, c, fn)
        assert c._lock_fd is None


class RecordingModule(FakeModule):
    def fail_json(self, **result):
        self.failed = result
        raise SystemExit(1)


@pytest.mark.parametrize("changed, says_nothing", [(False, True), (True, False)])
def test_a_failure_says_nothing_changed_only_when_true(monkeypatch, tree, changed, says_nothing):
    """A kept file (a LUKS header backup) stays on a failure and is named in files_changed; a
    failure that reports changed=True (after a change Changes does not undo, such as a converted
    keyslot) never gets 'Nothing was changed.' appended."""
    monkeypatch.setattr(ch, "LOCK_PATHS", (str(tree / "flatcar-fips.lock"),))
    module = RecordingModule()
    c = ch.Changes(module)
    backup = tree / "header.bak"

    def fn():
        backup.write_bytes(b"header")
        c.keep(str(backup))
        raise ch.Failure("it broke after the backup.", changed=changed)

    with pytest.raises(SystemExit):
        ch.run(module, c, fn)
    msg = module.failed["msg"]
    assert ("Nothing was changed." in msg) is says_nothing
    assert backup.read_bytes() == b"header"
    assert module.failed["files_changed"] == [str(backup)]
