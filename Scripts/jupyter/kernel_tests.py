#!/usr/bin/python3
"""The tests of the Jupyter stage (Scripts/jupyter/test runs them; run from the repository root
with JUPYTER_PATH pointing at a prefix where `ke --install-kernel --prefix` put the kernelspec).

- KernelProtocolTests: Jupyter's own kernel conformance suite (jupyter_kernel_test) on the
  installed ke kernel, plus the error's traceback and caret and variables living across cells;
- InterruptTests: an interrupt (SIGINT, as JupyterLab's stop button sends) ends a long cell and
  leaves the kernel alive with its variables;
- RestartTests: a ke process killed under the kernel is reported, and the next cell runs in a
  fresh ke session;
- ConsoleTests: `jupyter console --kernel ke` runs the README's entropy line;
- SVGTests: the SVG of a line chart and a bar chart is well-formed XML with the chart's
  dimensions and one mark per series;
- NotebookTests: every Tutorials/*.ipynb executed headless through the kernel (nbclient, working
  directory Tutorials/); its text/plain outputs checked against the script with
  `ke --check SCRIPT.ke --against EXECUTED.ipynb` (the transcript rules: one definition, in ke),
  its charts (and entropy and coefficients results) carrying image/svg+xml that parses as SVG.

The last line printed is "jupyter: P passed, F failed" (one count per test; a skipped test counts
as neither). KE_BINARY overrides the ke binary (default .build/release/ke);
KE_JUPYTER_NOTEBOOKS=PATTERN limits the tutorials (a glob on the file name, e.g. '0[13]*').
"""

import fnmatch
import glob
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import jupyter_kernel_test
import nbformat
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KE = os.environ.get("KE_BINARY", os.path.join(ROOT, ".build", "release", "ke"))
TUTORIALS = os.path.join(ROOT, "Tutorials")
MODEL = "Tests/Fixtures/models/olmo"
CORPUS = "Tests/Fixtures/corpus.txt"
SVG_NS = "{http://www.w3.org/2000/svg}"
# Values drawn as charts, by the "kind" of their JSON form (application/vnd.ke.value+json): charts, and entropy and coefficients
# results (their layer bars).
CHART_KINDS = {"chart", "entropy", "coefficients"}

# The first cell of a kernel starts ke and may build nothing; 60 s is far above its ~0.1 s start.
START_TIMEOUT = 60
# A tutorial cell may pretrain the built-in tiny run on a fresh machine (a few minutes).
CELL_TIMEOUT = 1800


def execute(kc, code, timeout=START_TIMEOUT):
    """Runs code on a kernel client; returns (reply content, [(msg_type, content), ...])."""
    msg_id = kc.execute(code)
    outputs = []
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "status" and msg["content"]["execution_state"] == "idle":
            break
        if kind not in ("status", "execute_input"):
            outputs.append((kind, msg["content"]))
    while True:
        reply = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"], outputs


def results(outputs, kind="execute_result"):
    return [c for k, c in outputs if k == kind]


def parse_svg(text):
    """The root of an SVG document; fails the test's assertion when it is not one."""
    root = ET.fromstring(text)
    if root.tag != SVG_NS + "svg":
        raise AssertionError("root element is %s, not svg" % root.tag)
    return root


def svg_size(root):
    """(width, height) of an svg element, in user units (px)."""
    def number(attribute):
        value = root.get(attribute)
        if value is None:
            return None
        return float(value.removesuffix("px"))
    width, height = number("width"), number("height")
    if (width is None or height is None) and root.get("viewBox"):
        _, _, width, height = (float(v) for v in root.get("viewBox").replace(",", " ").split())
    return width, height


class KernelProtocolTests(jupyter_kernel_test.KernelTests):
    kernel_name = "ke"
    language_name = "ke"
    file_extension = ".ke"

    # ke has no statement that writes to stdout: a value is an execute result or display data
    # (as `"hello, world"` in IPython), so jupyter_kernel_test's stdout hello world is skipped.
    code_hello_world = None
    # A warning is a stderr stream.
    code_stderr = ('let r = rescale (load "%s") bottom 90%% by 1000 on corpus "%s"'
                   % (MODEL, CORPUS))
    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "let x = [1, 2, 3]\nsum x", "result": "6"},
        {"code": "[1, 2]", "mime": "application/vnd.ke.value+json"},
    ]
    code_display_data = [
        {"code": "plot [1, 4, 9]\n1", "mime": "image/svg+xml"},
        {"code": "bar [3, 1, 2] labels [\"a\", \"b\", \"c\"]\n1", "mime": "image/svg+xml"},
    ]
    completion_samples = [
        {"text": "entr", "matches": {"entropy"}},
        {"text": "let c = corpus \"Tests/Fixtures/corpus.t", "matches": {"Tests/Fixtures/corpus.txt"}},
    ]
    complete_code_samples = ["1 + 2", "let x = 1", "for i in [1, 2] { i }", "plot [1, 2]"]
    incomplete_code_samples = ["for i in [1, 2] {", "let x = [1,", "plot [1, 2"]
    code_generate_error = "entrpy"
    code_inspect_sample = "entropy"

    def test_error_traceback_names_the_place(self):
        self.flush_channels()
        reply, outputs = self.execute_helper(code="let a = 1\nlet b = a +* 2")
        self.assertEqual(reply["content"]["status"], "error")
        errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1)
        text = "\n".join(errors[0]["traceback"])
        self.assertIn("let b = a +* 2", text)       # the source line of the error (line 2)
        self.assertRegex(text, r"\n +\^")           # and a caret under the place

    def test_variables_persist_across_cells(self):
        self.flush_channels()
        self.execute_helper(code="let kept = 41")
        reply, outputs = self.execute_helper(code="kept + 1")
        self.assertEqual(reply["content"]["status"], "ok")
        shown = [m["content"]["data"]["text/plain"] for m in outputs
                 if m["msg_type"] == "execute_result"]
        self.assertEqual(shown, ["42"])

    def test_complete_reply_counts_code_points(self):
        # Jupyter's cursor positions count code points: "é" is one, though two UTF-8 bytes.
        code = "let é = 1\nentr"
        msg_id = self.kc.complete(code, len(code))
        reply = self.get_non_kernel_info_reply(timeout=START_TIMEOUT)
        self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
        self.assertEqual(reply["content"]["cursor_start"], len(code) - len("entr"))
        self.assertEqual(reply["content"]["cursor_end"], len(code))


class InterruptTests(unittest.TestCase):
    # A loop long enough to be still running when interrupted (minutes uninterrupted) and silent
    # (a `let` shows nothing), on the fixture model.
    LONG_CELL = ("let m = load \"%s\"\nlet c = corpus \"%s\"\n"
                 "for i in range 1000000 { let t = entropy m on c }" % (MODEL, CORPUS))

    def test_interrupt_keeps_the_kernel_and_its_variables(self):
        km, kc = start_new_kernel(kernel_name="ke", cwd=ROOT)
        try:
            reply, _ = execute(kc, "let kept = 7")
            self.assertEqual(reply["status"], "ok")
            msg_id = kc.execute(self.LONG_CELL)
            time.sleep(3)
            started = time.monotonic()
            km.interrupt_kernel()
            while True:
                reply = kc.get_shell_msg(timeout=60)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            elapsed = time.monotonic() - started
            self.assertEqual(reply["content"]["status"], "error")
            # One entropy of 70 tokens takes milliseconds; the cell must end well within 10 s.
            self.assertLess(elapsed, 10, "the interrupted cell took %.1f s to end" % elapsed)
            self.assertTrue(km.is_alive())
            # The interrupted cell ends with an error reply, so ipykernel aborts the requests that
            # reach it within its stop-on-error window (as a front end's queued cells); a request
            # answered "aborted" is sent again, as a person would run the cell again.
            reply, outputs = execute(kc, "kept * 6")
            if reply["status"] == "aborted":
                time.sleep(1)
                reply, outputs = execute(kc, "kept * 6")
            self.assertEqual(reply["status"], "ok")
            self.assertEqual([r["data"]["text/plain"] for r in results(outputs)], ["42"])
            # The loop's own variable `m` is alive too (the ke session was not restarted).
            reply, _ = execute(kc, "let again = entropy m on c")
            self.assertEqual(reply["status"], "ok")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=False)


class RestartTests(unittest.TestCase):
    def test_a_killed_ke_is_reported_and_restarted(self):
        import psutil
        km, kc = start_new_kernel(kernel_name="ke", cwd=ROOT)
        try:
            reply, _ = execute(kc, "let gone = 1")
            self.assertEqual(reply["status"], "ok")
            wrapper = psutil.Process(km.provisioner.process.pid)
            children = [p for p in wrapper.children() if "--kernel-stdio" in p.cmdline()]
            self.assertEqual(len(children), 1)
            children[0].kill()
            # Dead once a zombie: only the wrapper, its parent, reaps it (at the next cell).
            for _ in range(100):
                try:
                    if children[0].status() == psutil.STATUS_ZOMBIE:
                        break
                except psutil.NoSuchProcess:
                    break
                time.sleep(0.1)
            reply, outputs = execute(kc, "1 + 1")
            self.assertEqual(reply["status"], "ok")
            notes = "".join(c["text"] for c in results(outputs, "stream"))
            self.assertIn("ke was killed by signal SIGKILL", notes)
            self.assertIn("variables of earlier cells are gone", notes)
            self.assertEqual([r["data"]["text/plain"] for r in results(outputs)], ["2"])
            reply, _ = execute(kc, "gone")
            self.assertEqual(reply["status"], "error")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=False)


class ConsoleTests(unittest.TestCase):
    def test_console_runs_entropy(self):
        line = 'entropy (load "%s") on corpus "%s"' % (MODEL, CORPUS)
        # --simple-prompt reads stdin line by line and leaves at EOF (--no-confirm-exit: without
        # asking). 120 s: the kernel starts in ~2 s and the entropy takes milliseconds.
        run = subprocess.run(
            ["jupyter", "console", "--kernel", "ke", "--simple-prompt", "--no-confirm-exit"],
            input=line + "\n", capture_output=True, text=True, cwd=ROOT, timeout=120)
        self.assertIn("knowledge entropy over 70 tokens", run.stdout, run.stdout + run.stderr)
        self.assertIn("total 8.14715", run.stdout)


class SVGTests(unittest.TestCase):
    """Two chart kinds through the kernel: a line chart of 3 series and bar charts of 4 and 8 bars.

    Sizes follow KECharts' SVGOptions defaults: 640 px wide; a line chart 400 px high; a bar
    chart's height grows by one 22 px row per bar (BarRows.svgRowHeight). Series are counted by
    the renderer's classes: one `<path class="series">` per line, one `<rect class="bar">` per bar.
    """

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name="ke", cwd=ROOT)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=False)

    def svg_of(self, code):
        reply, outputs = execute(self.kc, code)
        self.assertEqual(reply["status"], "ok", reply)
        bundles = [r["data"] for r in results(outputs)]
        self.assertEqual(len(bundles), 1)
        self.assertIn("text/plain", bundles[0])
        self.assertIn("image/svg+xml", bundles[0])
        root = parse_svg(bundles[0]["image/svg+xml"])
        width, height = svg_size(root)
        self.assertEqual(root.get("viewBox").split(), ["0", "0", "%g" % width, "%g" % height])
        return root, width, height

    @staticmethod
    def marks(root, tag, css_class):
        return [e for e in root.iter(SVG_NS + tag) if css_class in e.get("class", "").split()]

    def test_line_chart(self):
        root, width, height = self.svg_of(
            'plot [[1, 2, 3], [3, 2, 1], [2, 2, 2]] labels ["a", "b", "c"] title "three"')
        self.assertEqual((width, height), (640, 400))
        self.assertEqual(len(self.marks(root, "path", "series")), 3)
        text = " ".join(root.itertext())
        for word in ("three", "a", "b", "c"):            # the title and the legend
            self.assertIn(word, text)

    def test_bar_chart(self):
        root4, width4, height4 = self.svg_of('bar [3, 1, 2, 5] labels ["a", "b", "c", "d"] title "four"')
        root8, width8, height8 = self.svg_of("bar [1, 2, 3, 4, 5, 6, 7, 8] title \"eight\"")
        self.assertEqual((width4, width8), (640, 640))
        self.assertEqual(height8 - height4, 4 * 22)       # four more rows of 22 px
        self.assertEqual(len(self.marks(root4, "rect", "bar")), 4)
        self.assertEqual(len(self.marks(root8, "rect", "bar")), 8)
        self.assertIn("four", " ".join(root4.itertext()))


class NotebookTests(unittest.TestCase):
    """One test per tutorial notebook (added below)."""

    def run_notebook(self, path):
        name = os.path.splitext(os.path.basename(path))[0]
        script = os.path.join(TUTORIALS, name + ".ke")
        nb = nbformat.read(path, as_version=4)
        self.assertEqual(nb.metadata.kernelspec.name, "ke")
        client = NotebookClient(nb, kernel_name="ke", timeout=CELL_TIMEOUT,
                                resources={"metadata": {"path": TUTORIALS}})
        started = time.monotonic()
        client.execute()
        seconds = time.monotonic() - started
        with tempfile.TemporaryDirectory(prefix="ke-nb-") as tmp:
            executed = os.path.join(tmp, name + ".ipynb")
            nbformat.write(nb, executed)
            check = subprocess.run([KE, "--check", script, "--against", executed],
                                   capture_output=True, text=True, cwd=ROOT)
            self.assertEqual(check.returncode, 0,
                             "ke --check %s --against the executed notebook:\n%s%s"
                             % (script, check.stdout, check.stderr))
        charts = 0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                value = data.get("application/vnd.ke.value+json")
                kind = value.get("kind") if isinstance(value, dict) else None
                if kind in CHART_KINDS and "image/svg+xml" not in data:
                    self.fail("a %s without image/svg+xml in %s:\n%s"
                              % (kind, name, data.get("text/plain", "")))
                if "image/svg+xml" in data:
                    parse_svg(data["image/svg+xml"])
                    charts += 1
        print("  %s: executed in %.0f s, %d SVG charts" % (name, seconds, charts), file=sys.stderr)


def _add_notebook_tests():
    pattern = os.environ.get("KE_JUPYTER_NOTEBOOKS", "*")
    for path in sorted(glob.glob(os.path.join(TUTORIALS, "*.ipynb"))):
        base = os.path.basename(path)
        if not fnmatch.fnmatch(base, pattern):
            continue
        name = "test_" + re.sub(r"\W", "_", os.path.splitext(base)[0])
        setattr(NotebookTests, name, lambda self, p=path: self.run_notebook(p))


_add_notebook_tests()


class CountingResult(unittest.TextTestResult):
    """Counts each test (and each failing subtest) once, for the closing summary line."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passed = 0
        self.failed_tests = set()

    def addSuccess(self, test):
        super().addSuccess(test)
        if test.id() not in self.failed_tests:
            self.passed += 1

    def addSubTest(self, test, subtest, outcome):
        super().addSubTest(test, subtest, outcome)
        if outcome is not None:
            self.failed_tests.add(test.id())

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.failed_tests.add(test.id())

    def addError(self, test, err):
        super().addError(test, err)
        self.failed_tests.add(test.id())


def main(argv):
    loader = unittest.TestLoader()
    if argv:
        suite = loader.loadTestsFromNames(argv, sys.modules[__name__])
    else:
        suite = loader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(resultclass=CountingResult, verbosity=2, stream=sys.stdout)
    result = runner.run(suite)
    # A test class whose setUpClass fails counts as one failure.
    print("jupyter: %d passed, %d failed" % (result.passed, len(result.failed_tests)))
    return 0 if not result.failed_tests else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
