# Copyright: flatcar.fips contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sshd configuration trees shaped like Flatcar's releases (flatcar.md section 3), in a temp dir.

Each tree has ROOT/etc/ssh/sshd_config (+ sshd_config.d/50-flatcar-sshd.conf) as Flatcar ships
them. Tests need sshd to run unprivileged paths, so the main file also carries test-only lines
at the top (HostKey, AuthorizedKeysFile, StrictModes, PidFile) that point into the tree; none of
them is a crypto keyword.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import time

import pytest

UPSTREAM_HEAD = """#	$OpenBSD: sshd_config,v 1.104 2021/07/02 05:11:21 dtucker Exp $

# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.
"""
UPSTREAM_BODY = """
#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0

# Ciphers and keying
#RekeyLimit default none

# Authentication:
#LoginGraceTime 2m
#PermitRootLogin prohibit-password
#MaxAuthTries 6

#PubkeyAuthentication yes
#PasswordAuthentication yes
#PermitEmptyPasswords no

# override default of no subsystems
#Subsystem	sftp	/usr/libexec/sftp-server
"""
UPSTREAM_TAIL = """
# Example of overriding settings on a per-user basis
#Match User anoncvs
#	X11Forwarding no
#	AllowTcpForwarding no
#	PermitTTY no
#	ForceCommand cvs server
"""
FLATCAR_DROP_IN_STABLE = """# Flatcar's defaults
Subsystem sftp internal-sftp
ClientAliveInterval 180
UseDNS no
UsePAM yes
PrintLastLog no
PrintMotd no
HostkeyAlgorithms +ssh-rsa
PubkeyAcceptedAlgorithms +ssh-rsa
"""
# The crypto lines Flatcar LTS ships in 50-flatcar-sshd.conf.
LTS_CRYPTO = "".join("%s %s\n" % (keyword, ",".join(values)) for keyword, values in (
    ("Ciphers", ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr",
                 "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]),
    ("MACs", ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256",
              "hmac-sha2-512", "umac-128-etm@openssh.com", "umac-128@openssh.com"]),
    ("KexAlgorithms", ["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
                       "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
                       "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512",
                       "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256"]),
))
KINDS = ("stable", "lts", "legacy", "before_include", "match", "syntax_error")


def keygen(path, kind):
    args = ["ssh-keygen", "-q", "-N", "", "-f", path, "-t", kind]
    if kind == "rsa":
        args += ["-b", "3072"]
    subprocess.run(args, check=True, capture_output=True, timeout=60)


class Keys:
    """Host and client keys, generated once per test session and copied into each tree."""

    def __init__(self, directory):
        self.dir = directory
        for name, kind in (("host_ecdsa", "ecdsa"), ("host_ed25519", "ed25519"),
                           ("client_ecdsa", "ecdsa"), ("client_ed25519", "ed25519")):
            keygen(os.path.join(directory, name), kind)

    def path(self, name):
        return os.path.join(self.dir, name)


class Layout:
    def __init__(self, root, kind, keys, host_keys=("host_ecdsa", "host_ed25519")):
        self.root = root
        self.kind = kind
        self.ssh = os.path.join(root, "etc/ssh")
        self.main = os.path.join(self.ssh, "sshd_config")
        self.dropin_dir = os.path.join(self.ssh, "sshd_config.d")
        self.drop_in = os.path.join(self.dropin_dir, "05-fips.conf")
        self.flatcar_drop_in = os.path.join(self.dropin_dir, "50-flatcar-sshd.conf")
        self.authorized_keys = os.path.join(root, "authorized_keys")
        self.passwd = os.path.join(root, "passwd")
        # this tree's own ssh -Q cache (sshd_crypto's default is /var/cache/flatcar-fips)
        self.supported_cache = os.path.join(root, "var/cache/flatcar-fips/ssh-supported.json")
        os.makedirs(self.dropin_dir)
        host_key_lines = []
        for name in host_keys:
            for suffix in ("", ".pub"):
                shutil.copy(keys.path(name) + suffix,
                            os.path.join(self.ssh, "ssh_%s_key%s" % (name, suffix)))
            os.chmod(os.path.join(self.ssh, "ssh_%s_key" % name), 0o600)
            host_key_lines.append("HostKey %s" % os.path.join(self.ssh, "ssh_%s_key" % name))
        with open(keys.path("client_ecdsa.pub")) as f:
            client = f.read()
        with open(self.authorized_keys, "w") as f:
            f.write(client)
        with open(self.passwd, "w") as f:
            f.write("root:x:0:0:root:%s:/bin/bash\n" % os.path.join(root, "home/root"))
        test_lines = "\n".join([
            *host_key_lines,
            "AuthorizedKeysFile %s" % self.authorized_keys,
            "StrictModes no",
            "PidFile %s" % os.path.join(root, "sshd.pid"),
        ]) + "\n"
        include = 'Include "%s/*.conf"\n' % self.dropin_dir
        flatcar = FLATCAR_DROP_IN_STABLE
        if kind in ("lts", "legacy"):
            flatcar = FLATCAR_DROP_IN_STABLE.replace("HostkeyAlgorithms +ssh-rsa\n", "") + \
                LTS_CRYPTO
        with open(self.flatcar_drop_in, "w") as f:
            f.write(flatcar)
        body = UPSTREAM_BODY
        if kind == "before_include":
            body = UPSTREAM_BODY.replace("# Ciphers and keying\n",
                                         "# Ciphers and keying\nCiphers chacha20-poly1305@"
                                         "openssh.com,aes128-ctr\n")
        tail = UPSTREAM_TAIL
        if kind == "match":
            tail += "Match User core\n\tPubkeyAcceptedAlgorithms +ssh-ed25519\n"
        if kind == "syntax_error":
            body += "NoSuchKeyword yes\n"
        text = UPSTREAM_HEAD + "\n" + test_lines + body + "\n" + include + tail
        if kind == "legacy":
            # a symlink into read-only /usr, no Include: drop-ins are ignored
            usr = os.path.join(root, "usr/share/ssh")
            os.makedirs(usr)
            with open(os.path.join(usr, "sshd_config"), "w") as f:
                f.write(UPSTREAM_HEAD + "\n" + test_lines + body + LTS_CRYPTO + tail)
            os.symlink(os.path.join(usr, "sshd_config"), self.main)
            self.usr_main = os.path.join(usr, "sshd_config")
        else:
            with open(self.main, "w") as f:
                f.write(text)
            os.chmod(self.main, 0o600)
        os.makedirs("/run/sshd", exist_ok=True)  # sshd -t/-T need its privsep directory

    def module_args(self, **extra):
        args = dict(sshd_config=self.main, drop_in=self.drop_in, passwd_file=self.passwd,
                    socket_activated=True, supported_cache=self.supported_cache)
        args.update(extra)
        return args

    def effective(self, spec=None):
        args = ["/usr/sbin/sshd", "-T", "-f", self.main]
        if spec:
            args += ["-C", spec]
        out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout
        result = {}
        for line in out.splitlines():
            key, _sep, value = line.partition(" ")
            result.setdefault(key, value)
        return result


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _serving(argv, layout, port, what):
    """Run ``argv`` until the block ends; yields once 127.0.0.1:``port`` accepts connections."""
    log = open(os.path.join(layout.root, "sshd-%d.log" % port), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    with open(log.name) as f:
                        pytest.fail("%s did not start: %s" % (what, f.read()))
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@contextlib.contextmanager
def sshd(layout):
    """A real sshd on 127.0.0.1 with the layout's configuration; stopped by PID afterwards."""
    port = free_port()
    with _serving(["/usr/sbin/sshd", "-D", "-e", "-f", layout.main, "-o", "Port=%d" % port,
                   "-o", "ListenAddress=127.0.0.1"], layout, port, "sshd") as p:
        yield p


@contextlib.contextmanager
def socket_activated_sshd(layout):
    """sshd on 127.0.0.1 as Flatcar runs it: socket-activated, one ``sshd -i`` per connection
    (systemd-socket-activate stands in for sshd.socket), so every connection reads the
    configuration as it is at that moment. A listening ``sshd -D`` would hand each connection the
    configuration it loaded at start, and hide what the next Flatcar login meets."""
    port = free_port()
    with _serving(["systemd-socket-activate", "--inetd", "-a", "-l", "127.0.0.1:%d" % port,
                   "/usr/sbin/sshd", "-i", "-e", "-f", layout.main], layout, port,
                  "systemd-socket-activate") as p:
        yield p
