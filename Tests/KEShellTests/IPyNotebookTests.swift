import Foundation
import XCTest
import KECore
@testable import KELang
@testable import KEShell

/// `.ipynb` notebooks: the writer (nbformat 4.5 fields, deterministic text), the text form
/// `--check` compares, `--check` failing on a tampered output, the kernelspec and HTML tables.
final class IPyNotebookTests: XCTestCase {
    let script = """
        ## Squares
        # A list and its summary.

        let xs = [1, 2, 3, 4]
        xs
        spark xs
        sum xs

        # Means are decimals.
        mean [1, 2]
        """

    func temporaryFolder() throws -> String {
        let dir = NSTemporaryDirectory() + "ke-ipynb-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func testNotebookFieldsAndCells() throws {
        let (markdown, text, ok) = Notebook.renderBoth(script: script, file: "/somewhere/squares.ke")
        XCTAssertTrue(ok)
        XCTAssertEqual(markdown, Notebook.render(script: script, file: "/somewhere/squares.ke").markdown)
        XCTAssertTrue(text.hasSuffix("}\n"))
        let nb = try JSONValue.parse(text)
        XCTAssertEqual(nb["nbformat"], .int(4))
        XCTAssertEqual(nb["nbformat_minor"], .int(5))
        XCTAssertEqual(nb["metadata"]?["kernelspec"], .object([("display_name", .string("ke")), ("language", .string("ke")),
                                                              ("name", .string("ke"))]))
        XCTAssertEqual(nb["metadata"]?["language_info"]?["name"], .string("ke"))
        XCTAssertEqual(nb["metadata"]?["language_info"]?["file_extension"], .string(".ke"))
        XCTAssertEqual(nb["metadata"]?["language_info"]?["mimetype"], .string("text/x-ke"))
        let cells = try XCTUnwrap(nb["cells"]?.arrayValue)
        XCTAssertEqual(cells.map { $0["cell_type"]?.stringValue ?? "" },
                       ["markdown", "code", "code", "code", "code", "markdown", "code"])
        // Ids are unique and valid (nbformat 4.5: 1-64 of [a-zA-Z0-9-_]).
        let ids = cells.compactMap { $0["id"]?.stringValue }
        XCTAssertEqual(Set(ids).count, cells.count)
        XCTAssertTrue(ids.allSatisfy { !$0.isEmpty && $0.count <= 64 && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } })
        XCTAssertEqual(IPyNotebook.joined(cells[0]["source"]), "# Squares\nA list and its summary.")
        // Code cells: counts in order; a value-less statement has no outputs.
        XCTAssertEqual(cells.compactMap { $0["execution_count"]?.intValue }, [1, 2, 3, 4, 5])
        XCTAssertEqual(cells[1]["outputs"], .array([]))
        let result = try XCTUnwrap(cells[2]["outputs"]?.arrayValue?.first)
        XCTAssertEqual(result["output_type"], .string("execute_result"))
        XCTAssertEqual(result["execution_count"], .int(2))
        XCTAssertEqual(IPyNotebook.joined(result["data"]?["text/plain"]), "[1, 2, 3, 4]")
        XCTAssertEqual(result["data"]?["application/vnd.ke.value+json"], .array([1, 2, 3, 4].map { .int($0) }))
        let spark = try XCTUnwrap(cells[3]["outputs"]?.arrayValue?.first)
        XCTAssertEqual(spark["data"]?["application/vnd.ke.value+json"]?["type"], .string("spark"))
        // Deterministic: the same script gives the same bytes.
        XCTAssertEqual(Notebook.renderBoth(script: script, file: "squares.ke").notebook, text)
    }

    func testTextFormMatchesTheTranscriptCells() throws {
        let (markdown, text, _) = Notebook.renderBoth(script: script, file: "squares.ke")
        let form = try IPyNotebook.transcript(of: JSONValue.parse(text), file: "squares.ipynb")
        // The Markdown transcript without its header comment is the notebook's text form.
        let body = markdown.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)[2]
        XCTAssertEqual(form, String(body))
    }

    func testErrorsAreErrorOutputsAndEndTheNotebook() throws {
        let (_, text, ok) = Notebook.renderBoth(script: "1 + 1\nlet y = 1 + \"x\"\n3\n", file: "bad.ke")
        XCTAssertFalse(ok)
        let cells = try XCTUnwrap(JSONValue.parse(text)["cells"]?.arrayValue)
        XCTAssertEqual(cells.count, 2)
        let error = try XCTUnwrap(cells[1]["outputs"]?.arrayValue?.first)
        XCTAssertEqual(error["output_type"], .string("error"))
        XCTAssertEqual(error["ename"], .string("ke error"))
        // Located within its cell (line 2 of the script is line 1 of the second cell), as the
        // kernel reports it, so a notebook executed through the kernel compares equal.
        XCTAssertEqual(error["traceback"]?.arrayValue?.first?.stringValue?.hasPrefix("<cell>:1:11: error: "), true)
        XCTAssertEqual(error["traceback"]?.arrayValue?.count, 3)  // message, source line, caret
    }

    func testSerializationIsNBFormatStyle() {
        let v: JSONValue = .object([("b", .array([.int(1), .string("x\n")])), ("a", .object([])), ("c", .array([]))])
        XCTAssertEqual(IPyNotebook.serialized(v), "{\n \"a\": {},\n \"b\": [\n  1,\n  \"x\\n\"\n ],\n \"c\": []\n}\n")
        XCTAssertEqual(IPyNotebook.lines("a\nb\n"), .array([.string("a\n"), .string("b\n")]))
        XCTAssertEqual(IPyNotebook.lines("a\nb"), .array([.string("a\n"), .string("b")]))
        XCTAssertEqual(IPyNotebook.lines(""), .array([]))
    }

    func testCheckAgainstNotebookFailsOnTamperedOutput() throws {
        let dir = try temporaryFolder()
        let path = dir + "/squares.ke"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertTrue(try Notebook.write(scriptPath: path, to: dir + "/out.ipynb"))
        let (ok, diff) = try Notebook.check(scriptPath: path, against: dir + "/out.ipynb")
        XCTAssertTrue(ok, diff)

        // Numbers within the tolerance pass; a changed value fails with a diff naming the file.
        let stored = try String(contentsOfFile: dir + "/out.ipynb", encoding: .utf8)
        XCTAssertTrue(stored.contains("\"text/plain\": [\n       \"10\"\n      ]"), stored)
        try stored.replacingOccurrences(of: "\"text/plain\": [\n       \"10\"", with: "\"text/plain\": [\n       \"10.000001\"")
            .write(toFile: dir + "/close.ipynb", atomically: true, encoding: .utf8)
        XCTAssertTrue(try Notebook.check(scriptPath: path, against: dir + "/close.ipynb").ok)
        try stored.replacingOccurrences(of: "\"text/plain\": [\n       \"10\"", with: "\"text/plain\": [\n       \"11\"")
            .write(toFile: dir + "/tampered.ipynb", atomically: true, encoding: .utf8)
        let tampered = try Notebook.check(scriptPath: path, against: dir + "/tampered.ipynb")
        XCTAssertFalse(tampered.ok)
        XCTAssertTrue(tampered.diff.contains("-11\n+10\n"), tampered.diff)
        XCTAssertTrue(tampered.diff.contains("tampered.ipynb"), tampered.diff)

        // Beside the script: --check reads squares.md and, when present, squares.ipynb.
        XCTAssertTrue(try Notebook.update(scriptPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/squares.ipynb"))
        try stored.write(toFile: dir + "/squares.ipynb", atomically: true, encoding: .utf8)
        XCTAssertTrue(try Notebook.check(scriptPath: path).ok)
        try FileManager.default.removeItem(atPath: dir + "/squares.ipynb")
        try FileManager.default.copyItem(atPath: dir + "/tampered.ipynb", toPath: dir + "/squares.ipynb")
        XCTAssertFalse(try Notebook.check(scriptPath: path).ok)
        // --update rewrites both.
        XCTAssertTrue(try Notebook.update(scriptPath: path))
        XCTAssertEqual(try String(contentsOfFile: dir + "/squares.ipynb", encoding: .utf8), stored)
        XCTAssertTrue(try Notebook.check(scriptPath: path).ok)

        // A file that is not a notebook is an error naming it.
        try "{\"cells\": 3}".write(toFile: dir + "/junk.ipynb", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Notebook.check(scriptPath: path, against: dir + "/junk.ipynb")) { error in
            XCTAssertTrue("\(error)".contains("junk.ipynb: not a Jupyter notebook"), "\(error)")
        }
        try "{".write(toFile: dir + "/broken.ipynb", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Notebook.check(scriptPath: path, against: dir + "/broken.ipynb"))
    }

    func testCommandLineFlags() throws {
        XCTAssertEqual(try CLI.parse(["--notebook", "o.ipynb", "s.ke"]).notebook, .render(output: "o.ipynb"))
        XCTAssertEqual(try CLI.parse(["--kernel-stdio"]).kernelStdio, true)
        XCTAssertEqual(try CLI.parse(["--install-kernel"]).installKernel, .user)
        XCTAssertEqual(try CLI.parse(["--install-kernel", "--user"]).installKernel, .user)
        XCTAssertEqual(try CLI.parse(["--install-kernel", "--prefix", "/opt/x"]).installKernel, .prefix("/opt/x"))
        XCTAssertThrowsError(try CLI.parse(["--prefix", "/opt/x"]))
        XCTAssertThrowsError(try CLI.parse(["--install-kernel", "--prefix"]))
        XCTAssertThrowsError(try CLI.parse(["--install-kernel", "--user", "--prefix", "p"]))
        XCTAssertThrowsError(try CLI.parse(["--kernel-stdio", "s.ke"]))
        XCTAssertThrowsError(try CLI.parse(["--kernel-stdio", "--install-kernel"]))
        XCTAssertTrue(CLI.usage.contains("--kernel-stdio"))
        XCTAssertTrue(CLI.usage.contains("--install-kernel"))
    }

    func testKernelSpec() throws {
        XCTAssertEqual(try KernelSpec.folder(.prefix("/opt/j")), "/opt/j/share/jupyter/kernels/ke")
        XCTAssertEqual(try KernelSpec.folder(.user, environment: ["HOME": "/home/a"]), "/home/a/.local/share/jupyter/kernels/ke")
        XCTAssertEqual(try KernelSpec.folder(.user, environment: ["HOME": "/home/a", "XDG_DATA_HOME": "/x"]), "/x/jupyter/kernels/ke")
        XCTAssertEqual(try KernelSpec.folder(.user, environment: ["HOME": "/home/a", "JUPYTER_DATA_DIR": "/j"]), "/j/kernels/ke")
        let spec = try JSONValue.parse(KernelSpec.kernelJSON(wrapper: "/r/Scripts/jupyter/ke_kernel.py", ke: "/r/.build/release/ke"))
        XCTAssertEqual(spec["argv"], .array(["/usr/bin/python3", "/r/Scripts/jupyter/ke_kernel.py", "--ke", "/r/.build/release/ke",
                                             "-f", "{connection_file}"].map { .string($0) }))
        XCTAssertEqual(spec["display_name"], .string("ke"))
        XCTAssertEqual(spec["language"], .string("ke"))

        // The wrapper is found in a folder above the binary.
        let dir = try temporaryFolder()
        try FileManager.default.createDirectory(atPath: dir + "/Scripts/jupyter", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/.build/x86_64/release", withIntermediateDirectories: true)
        XCTAssertNil(KernelSpec.wrapper(near: dir + "/.build/x86_64/release/ke"))
        try "# wrapper\n".write(toFile: dir + "/Scripts/jupyter/ke_kernel.py", atomically: true, encoding: .utf8)
        XCTAssertEqual(KernelSpec.wrapper(near: dir + "/.build/x86_64/release/ke"), dir + "/Scripts/jupyter/ke_kernel.py")
    }

    /// `ke --install-kernel --prefix DIR` through the binary: a kernelspec naming this binary and
    /// the repository's wrapper, or (before the wrapper exists) a clear error.
    func testInstallKernelThroughTheBinary() throws {
        let binary = try XCTUnwrap(BinaryTerminalTests.binary, "the ke binary was not built next to the tests")
        let dir = try temporaryFolder()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["--install-kernel", "--prefix", dir]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let real = try XCTUnwrap(KernelSpec.realPath(binary))
        if let wrapper = KernelSpec.wrapper(near: real) {
            XCTAssertEqual(p.terminationStatus, 0, message)
            let spec = try JSONValue.parse(String(contentsOfFile: dir + "/share/jupyter/kernels/ke/kernel.json", encoding: .utf8))
            XCTAssertEqual(spec["argv"]?.arrayValue?.compactMap(\.stringValue),
                           ["/usr/bin/python3", wrapper, "--ke", real, "-f", "{connection_file}"])
        } else {
            XCTAssertEqual(p.terminationStatus, 1)
            XCTAssertTrue(message.contains("cannot find Scripts/jupyter/ke_kernel.py"), message)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/share"))
        }
    }
}

/// HTML tables: escaped, deterministic, numbers right-aligned.
final class HTMLTableTests: XCTestCase {
    func testEscapingAndLayout() {
        let t = HTMLTable(caption: "a <b> & \"c\"", header: ["task", "score"], rows: [["x<y", "0.5"], ["it's", "nan"]],
                          notes: ["mean 0.5"])
        XCTAssertEqual(t.html, """
            <table class="ke-table">
            <caption>a &lt;b&gt; &amp; &quot;c&quot;</caption>
            <thead><tr><th>task</th><th>score</th></tr></thead>
            <tbody>
            <tr><td>x&lt;y</td><td style="text-align:right">0.5</td></tr>
            <tr><td>it&#39;s</td><td style="text-align:right">nan</td></tr>
            </tbody>
            <tfoot>
            <tr><td colspan="2">mean 0.5</td></tr>
            </tfoot>
            </table>
            """)
    }
}
