#!/usr/bin/python3
"""ke's Jupyter kernel: a thin wrapper around `ke --kernel-stdio`.

Started by the kernelspec that `ke --install-kernel` writes:

    /usr/bin/python3 ke_kernel.py --ke /abs/path/to/ke -f {connection_file}

ZeroMQ, message signing, the heartbeat and the Jupyter protocol are ipykernel's job
(`ipykernel.kernelbase.Kernel`, Debian's python3-ipykernel). This file only translates:
it starts one `ke --kernel-stdio` child (a persistent ke session: variables live across cells),
writes one JSON request per line to its stdin and maps the JSON lines it answers to Jupyter
messages (the protocol is described at the top of Sources/KEShell/Kernel.swift):

    stream   -> iopub `stream`           display -> iopub `display_data`
    result   -> iopub `execute_result`   error   -> iopub `error`, reply status "error"
    complete / inspect / is_complete -> the matching replies          done -> end of the request

Interrupts: Jupyter interrupts a kernel with SIGINT (interrupt_mode "signal"). The ke child runs
in a session of its own, so only this wrapper receives that signal; while a cell runs it forwards
one SIGINT to ke, which cancels the running statement (as Ctrl-C in the shell) and answers `done`
with status "aborted"; the ke session and its variables stay. The cell then ends with an error
("interrupted"), as IPython's KeyboardInterrupt does, so a front end stops its queue of cells.

If ke dies, the cell that was running gets an error saying so, and the next execute starts a fresh
ke session (after saying that earlier variables are gone). A line from ke that is not protocol
JSON is shown as stderr text, never dropped silently and never fatal.
"""

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading

from ipykernel.kernelbase import Kernel

__version__ = "1.0"

# How long the wrapper waits for ke to leave after `shutdown` (or closing its stdin) before it
# sends SIGTERM, then SIGKILL: ke answers shutdown at once unless a statement is still running.
SHUTDOWN_GRACE_SECONDS = 5.0

# ke's protocol gives every value as `application/json` too. JupyterLab (JSON renderer rank 0)
# and VS Code (display order led by application/json) would show that JSON tree instead of the
# plot, table or text, so front ends get it under ke's own type, as `ke --notebook` writes it
# (MIMEBundle.notebookJSON in Sources/KELang/MIMEBundle.swift).
NOTEBOOK_JSON = "application/vnd.ke.value+json"


def front_end_bundle(data):
    """The MIME bundle as sent to front ends: application/json renamed to NOTEBOOK_JSON."""
    if not isinstance(data, dict):
        return {}
    return {(NOTEBOOK_JSON if k == "application/json" else k): v for k, v in data.items()}


class KeProcess:
    """One `ke --kernel-stdio` child and the two threads that read its stdout and stderr.

    Everything the child says arrives, in order, on `self.items` as (kind, value) pairs:
    ("message", dict) for a protocol line, ("garbage", str) for a stdout line that is not a JSON
    object, ("stderr", str) for text on its stderr, ("eof", None) when its stdout closes.
    """

    def __init__(self, ke, cwd=None):
        self.items = queue.Queue()
        self.write_lock = threading.Lock()
        # start_new_session: Jupyter's SIGINT to the kernel's process group must not reach ke
        # directly; the wrapper forwards it only while a cell runs (see KeKernel._on_sigint).
        self.process = subprocess.Popen(
            [ke, "--kernel-stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
        )
        self._stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stdout_reader.start()
        self._stderr_reader.start()

    def _read_stdout(self):
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict):
                self.items.put(("message", message))
            else:
                self.items.put(("garbage", line))
        # stderr usually says why ke died; let its reader finish first so it comes before "eof".
        self._stderr_reader.join(timeout=1.0)
        self.items.put(("eof", None))

    def _read_stderr(self):
        while True:
            chunk = self.process.stderr.read1(65536)
            if not chunk:
                return
            self.items.put(("stderr", chunk.decode("utf-8", errors="replace")))

    @property
    def alive(self):
        return self.process.poll() is None

    def send(self, request):
        """Writes one request line. Returns False when ke no longer reads its stdin."""
        line = (json.dumps(request, ensure_ascii=False) + "\n").encode("utf-8")
        with self.write_lock:
            try:
                self.process.stdin.write(line)
                self.process.stdin.flush()
                return True
            except (BrokenPipeError, OSError, ValueError):
                return False

    def next_item(self, poll_seconds=0.2, on_idle=None):
        """The next thing ke said; blocks, but wakes every poll_seconds so signals are handled
        (and calls on_idle, when given, at each wake without news)."""
        while True:
            try:
                return self.items.get(timeout=poll_seconds)
            except queue.Empty:
                if on_idle is not None:
                    on_idle()

    def interrupt(self):
        try:
            self.process.send_signal(signal.SIGINT)
        except OSError:
            pass

    def stop(self, request_id):
        """Asks ke to leave (`shutdown`, then EOF on stdin); SIGTERM, then SIGKILL if it stays."""
        if self.alive:
            self.send({"id": request_id, "type": "shutdown"})
        with self.write_lock:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and self.alive:
                try:
                    self.process.send_signal(sig)
                except OSError:
                    pass
            try:
                self.process.wait(timeout=SHUTDOWN_GRACE_SECONDS)
                return
            except subprocess.TimeoutExpired:
                continue

    def exit_description(self):
        code = self.process.poll()
        if code is None:
            return "stopped answering"
        if code < 0:
            try:
                return "was killed by signal %s" % signal.Signals(-code).name
            except ValueError:
                return "was killed by signal %d" % -code
        return "exited with status %d" % code


class KeKernel(Kernel):
    implementation = "ke"
    implementation_version = __version__
    language = "ke"
    language_info = {
        "name": "ke",
        "file_extension": ".ke",
        "mimetype": "text/x-ke",
    }
    banner = (
        "ke: a shell for studying knowledge entropy in language models.\n"
        "`help` lists the commands, `help NAME` explains one; Tab completes, Shift-Tab inspects."
    )

    # Set from the command line before the app starts (see main()).
    ke_path = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._ke = None
        self._lost_session_note = None  # said at the next execute when ke died while idle
        self._ids = itertools.count(1)
        self._executing = False
        self._silent = False
        self._interrupted = False

    # -- the ke child -------------------------------------------------------------------------

    def _next_id(self):
        return str(next(self._ids))

    def _ensure_ke(self):
        """A live ke child, started when there is none. Raises OSError when ke cannot start."""
        if self._ke is not None and self._ke.alive:
            return self._ke
        if self._ke is not None:
            self._lost_session_note = (
                "ke %s; started a fresh ke session: the variables of earlier cells are gone.\n"
                % self._ke.exit_description()
            )
        self._ke = None
        self._ke = KeProcess(self.ke_path, cwd=os.getcwd())
        return self._ke

    def _request(self, request, on_message):
        """Sends one request and hands each answer line to on_message until its `done`.

        Returns the `done` status, or None when ke died first. Lines with another id (left over
        from an earlier request) are skipped; garbage and stderr go to on_garbage.
        """
        ke = self._ke
        if not ke.send(request):
            return None
        rid = request["id"]

        def repeat_interrupt():
            # ke cancels only a request it is running: a SIGINT that reached it before it read
            # this request was ignored there. Repeat it until the cell ends (ke ignores SIGINT
            # between requests, so a late one is harmless).
            if self._interrupted and self._executing:
                ke.interrupt()

        while True:
            kind, value = ke.next_item(on_idle=repeat_interrupt)
            if kind == "eof":
                return None
            if kind in ("garbage", "stderr"):
                self._on_noise(kind, value)
                continue
            # id null: ke's answer to a request line it could not read, which can only be ours.
            if value.get("id") not in (rid, None):
                continue
            if value.get("type") == "done":
                return value.get("status", "ok")
            on_message(value)

    def _on_noise(self, kind, text):
        """ke's stderr and any stdout line that is not protocol JSON: shown as stderr text while
        a cell runs (nothing hidden), logged otherwise."""
        if kind == "garbage":
            text = "ke wrote a line that is not kernel protocol JSON: %s\n" % text
        if self._executing and not self._silent:
            self._stream("stderr", text)
        else:
            self.log.warning("%s", text.rstrip("\n"))

    def _stream(self, name, text):
        self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})

    # -- SIGINT ---------------------------------------------------------------------------------

    def pre_handler_hook(self):
        # ipykernel installs Python's default_int_handler (KeyboardInterrupt) around every shell
        # handler; here a SIGINT is forwarded to ke instead, which cancels the running statement.
        self.saved_sigint_handler = signal.signal(signal.SIGINT, self._on_sigint)

    def post_handler_hook(self):
        signal.signal(signal.SIGINT, self.saved_sigint_handler)

    def _on_sigint(self, signum, frame):
        if self._executing and self._ke is not None and self._ke.alive:
            self._interrupted = True
            self._ke.interrupt()

    # -- Jupyter requests -------------------------------------------------------------------------

    def do_execute(self, code, silent, store_history=True, user_expressions=None,
                   allow_stdin=False, *, cell_id=None):
        self._silent = silent
        count = self.execution_count
        try:
            self._ensure_ke()
        except OSError as e:
            return self._error_reply("ke did not start",
                                     "cannot run %s --kernel-stdio: %s" % (self.ke_path, e),
                                     silent)
        if self._lost_session_note and not silent:
            self._stream("stderr", self._lost_session_note)
        self._lost_session_note = None

        error = {}

        def on_message(m):
            kind = m.get("type")
            if kind == "error":
                error.update(m)
                if not silent:
                    self.send_response(self.iopub_socket, "error", self._error_content(m))
                return
            if silent:
                return
            if kind == "stream":
                name = m.get("name") if m.get("name") in ("stdout", "stderr") else "stdout"
                self._stream(name, str(m.get("text", "")))
            elif kind == "display":
                self.send_response(self.iopub_socket, "display_data",
                                   {"data": front_end_bundle(m.get("data", {})), "metadata": {}})
            elif kind == "result":
                self.send_response(self.iopub_socket, "execute_result",
                                   {"execution_count": count,
                                    "data": front_end_bundle(m.get("data", {})),
                                    "metadata": {}})
            else:
                self._on_noise("garbage", json.dumps(m))

        self._interrupted = False
        self._executing = True
        try:
            status = self._request({"id": self._next_id(), "type": "execute", "code": code},
                                   on_message)
        finally:
            self._executing = False

        if status is None:
            ke = self._ke
            self._ke = None  # the next execute starts a fresh one, without a second note
            ke.stop(self._next_id())
            return self._error_reply(
                "ke exited",
                "ke %s while running this cell; the next cell starts a fresh ke session "
                "(the variables of earlier cells are gone)" % ke.exit_description(),
                silent)
        if status == "ok" and not error:
            return {"status": "ok", "execution_count": count, "payload": [],
                    "user_expressions": {}}
        if error:
            content = self._error_content(error)
        elif status == "aborted" or self._interrupted:
            content = {"ename": "interrupted", "evalue": "the cell was interrupted",
                       "traceback": ["interrupted"]}
            if not silent:
                self.send_response(self.iopub_socket, "error", content)
        else:
            content = {"ename": "ke error", "evalue": "the cell failed (status %s)" % status,
                       "traceback": ["the cell failed (status %s)" % status]}
            if not silent:
                self.send_response(self.iopub_socket, "error", content)
        # "error" (not "aborted") also for an interrupt, as IPython does for KeyboardInterrupt:
        # front ends then stop the cells queued after this one.
        return dict(content, status="error", execution_count=count)

    @staticmethod
    def _error_content(m):
        message = str(m.get("message", "error"))
        traceback = m.get("traceback")
        if not isinstance(traceback, list) or not traceback:
            traceback = [message]
        return {"ename": str(m.get("ename", "ke error")), "evalue": message,
                "traceback": [str(t) for t in traceback]}

    def _error_reply(self, ename, evalue, silent):
        content = {"ename": ename, "evalue": evalue, "traceback": ["error: " + evalue]}
        if not silent:
            self.send_response(self.iopub_socket, "error", content)
        return dict(content, status="error", execution_count=self.execution_count)

    def _ask(self, request, answer_type):
        """The answer line of type answer_type to a non-execute request, or None when ke is not
        running (these requests never start ke: a dead session is reported by the next execute)."""
        if self._ke is None or not self._ke.alive:
            return None
        self._silent = True
        answers = []

        def on_message(m):
            if m.get("type") == answer_type:
                answers.append(m)
            elif m.get("type") == "error":
                self.log.warning("ke: %s", m.get("message"))

        status = self._request(dict(request, id=self._next_id()), on_message)
        return answers[0] if status is not None and answers else None

    def do_complete(self, code, cursor_pos):
        if cursor_pos is None:
            cursor_pos = len(code)
        if self._ke is None:
            self._start_quietly()
        m = self._ask({"type": "complete", "code": code, "cursor": cursor_pos}, "complete")
        if m is None:
            return {"status": "ok", "matches": [], "cursor_start": cursor_pos,
                    "cursor_end": cursor_pos, "metadata": {}}
        return {"status": "ok", "matches": [str(x) for x in m.get("matches", [])],
                "cursor_start": int(m.get("cursor_start", cursor_pos)),
                "cursor_end": int(m.get("cursor_end", cursor_pos)), "metadata": {}}

    def do_inspect(self, code, cursor_pos, detail_level=0, omit_sections=()):
        if cursor_pos is None:
            cursor_pos = len(code)
        if self._ke is None:
            self._start_quietly()
        m = self._ask({"type": "inspect", "code": code, "cursor": cursor_pos}, "inspect")
        if m is None:
            return {"status": "ok", "found": False, "data": {}, "metadata": {}}
        found = bool(m.get("found"))
        return {"status": "ok", "found": found, "data": m.get("data", {}) if found else {},
                "metadata": {}}

    def do_is_complete(self, code):
        if self._ke is None:
            self._start_quietly()
        m = self._ask({"type": "is_complete", "code": code}, "is_complete")
        if m is None:
            return {"status": "unknown"}
        status = m.get("status")
        if status not in ("complete", "incomplete", "invalid"):
            return {"status": "unknown"}
        reply = {"status": status}
        if status == "incomplete":
            reply["indent"] = str(m.get("indent", ""))
        return reply

    def _start_quietly(self):
        """The first request of a fresh kernel may be a completion (a console asks is_complete
        before the first cell): start ke for it. A ke that died is left to the next execute."""
        try:
            self._ensure_ke()
        except OSError as e:
            self.log.error("cannot run %s --kernel-stdio: %s", self.ke_path, e)

    def do_shutdown(self, restart):
        if self._ke is not None:
            self._ke.stop(self._next_id())
            self._ke = None
        return {"status": "ok", "restart": restart}


def main(argv):
    """`ke_kernel.py --ke PATH [ipykernel options such as -f CONNECTION_FILE]`."""
    args = list(argv)
    ke = None
    if "--ke" in args:
        i = args.index("--ke")
        if i + 1 >= len(args):
            sys.exit("ke_kernel.py: error: --ke needs the path of the ke binary")
        ke = args[i + 1]
        del args[i:i + 2]
    ke = ke or os.environ.get("KE_BINARY")
    if not ke:
        sys.exit("ke_kernel.py: error: give the ke binary with --ke PATH (or KE_BINARY)")
    if not (os.path.isfile(ke) and os.access(ke, os.X_OK)):
        sys.exit("ke_kernel.py: error: %s: not an executable file" % ke)
    KeKernel.ke_path = os.path.abspath(ke)
    # ipykernel's app imports debugpy, which warns on stderr about Python's frozen modules; this
    # kernel has no debugger, so the warning is only noise in consoles and CI logs.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    from ipykernel.kernelapp import IPKernelApp
    IPKernelApp.launch_instance(argv=args, kernel_class=KeKernel)


if __name__ == "__main__":
    main(sys.argv[1:])
