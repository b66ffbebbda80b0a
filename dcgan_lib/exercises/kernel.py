"""A Jupyter kernel in a temporary folder of its own, running one piece of code at a time.

The grader's only way into the learner's code. The kernel starts in an empty folder with its
own copy of ``dcgan_lib`` (nothing beside it), its stdout and stderr dropped, and only the
shell channel connected: each request ends in an execute reply that says ``ok`` or names the
error, and whatever the code prints is never read. Code that runs past its deadline is
interrupted; code that ignores the interrupt, or kills the kernel, gets a fresh kernel.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import time
from pathlib import Path

import zmq
from jupyter_client.manager import KernelManager

import dcgan_lib

MAX_MESSAGE = 128 * 2**20  # bytes; a larger message from the kernel drops the connection


class Outcome:
    """How one request ended: ok, error (with the name and message) or timeout."""

    def __init__(self, status: str, ename: str = "", evalue: str = "",
                 restarted: bool = False, expressions: dict | None = None):
        self.status, self.ename, self.evalue = status, ename, evalue
        self.restarted = restarted  # the kernel had to be replaced: its state is gone
        self.expressions = expressions or {}


class Kernel:
    """A kernel in its own temporary folder that runs one piece of code at a time."""

    def __init__(self, root: Path):
        self.root = root
        self.work, self.lib = root / "work", root / "lib"
        self.work.mkdir()
        # The kernel's own copy of the package: nothing beside it, so no solutions are
        # reachable from dcgan_lib.__file__, and the learner cannot edit the grader's copy.
        shutil.copytree(Path(dcgan_lib.__file__).parent, self.lib / "dcgan_lib",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "weights"))
        self._start()

    def _start(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTHON", "JUPYTER", "IPYTHON"))}
        env.update(PYTHONPATH=str(self.lib), PYTHONDONTWRITEBYTECODE="1",
                   IPYTHONDIR=str(self.work / ".ipython"), MPLCONFIGDIR=str(self.work / ".mpl"),
                   XDG_CACHE_HOME=str(self.work / ".cache"), HOME=str(self.work))
        self.manager = KernelManager(kernel_name="python3")
        # The kernel's own stdout and stderr (learner code can write there with os.write)
        # are not the grader's: drop them.
        self.manager.start_kernel(cwd=str(self.work), env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        context = zmq.Context()
        context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        self.context = context
        self.client = self.manager.client(context=context)
        # Only the shell channel: execute replies say how each request ended. IOPub (the
        # output) is never subscribed to, so whatever a cell prints is dropped in the kernel.
        self.client.start_channels(shell=True, iopub=False, stdin=False, hb=False,
                                   control=False)
        deadline = time.monotonic() + 120
        self.client.kernel_info()
        while True:
            try:
                msg = self.client.get_shell_msg(timeout=1)
            except queue.Empty:
                if not self.manager.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the grading kernel did not start") from None
                self.client.kernel_info()
                continue
            if msg["msg_type"] == "kernel_info_reply":
                break

    def restart(self):
        self.shutdown()
        self._start()

    def shutdown(self):
        try:
            self.client.stop_channels()
            self.manager.shutdown_kernel(now=True)
            self.context.destroy(linger=0)
        except Exception:  # already gone
            pass

    def run(self, code: str, deadline: float, expressions: dict | None = None) -> Outcome:
        """Run ``code`` until ``deadline`` (``time.monotonic()``): ``ok``, ``error`` (with the
        exception's name and message, from the execute reply) or ``timeout``; ``restarted``
        when the code hung past an interrupt or killed the kernel."""
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False,
                                     stop_on_error=False, user_expressions=expressions or {})
        interrupted_at = None
        while True:
            now = time.monotonic()
            if now >= deadline and interrupted_at is None:
                self.manager.interrupt_kernel()
                interrupted_at = now
            if interrupted_at is not None and now - interrupted_at > 5:
                self.restart()  # the code ignored the interrupt (e.g. a bare except)
                return Outcome("timeout", restarted=True)
            wait = 0.5 if interrupted_at is not None else max(0.05, min(deadline - now, 0.5))
            try:
                msg = self.client.get_shell_msg(timeout=wait)
            except queue.Empty:
                if not self.manager.is_alive():  # e.g. os._exit() or a crash
                    self.restart()
                    return Outcome("error", "KernelDied", "the kernel died", restarted=True)
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if interrupted_at is not None:
                return Outcome("timeout")
            content = msg["content"]
            if content.get("status") == "ok":
                found = content.get("user_expressions")
                return Outcome("ok", expressions=found if isinstance(found, dict) else {})
            return Outcome("error", str(content.get("ename", "")),
                            str(content.get("evalue", "")))
