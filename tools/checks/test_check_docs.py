#!/usr/bin/env python3
"""Tests of check_docs.py, each on a small tree in a temporary folder.

Tests alike in shape make their own small tree on purpose: each reads alone.

Run: python3 -m unittest tools/checks/test_check_docs.py   (or python3 tools/checks/test_check_docs.py)
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("check_docs", HERE / "check_docs.py")
check_docs = importlib.util.module_from_spec(_spec)
sys.modules["check_docs"] = check_docs  # dataclasses look their module up by name
_spec.loader.exec_module(check_docs)
wire_blocks = sys.modules["wire_blocks"]  # check_docs imported it from beside itself


class TreeTest(unittest.TestCase):
    """A temporary project folder (not a git checkout, so check_docs walks it)."""

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def links(self) -> list[str]:
        return check_docs.check_links(self.root)


class LinksTest(TreeTest):
    def test_a_good_link_with_an_anchor_passes(self) -> None:
        self.write("docs/a.md", "# A\n\nSee [b](b.md#the-send_all-loop) and [top](#a).\n")
        self.write("docs/b.md", "# B\n\n## The `send_all` loop\n")
        self.assertEqual(self.links(), [])

    def test_a_link_to_a_missing_file_is_reported_with_file_and_line(self) -> None:
        self.write("docs/a.md", "# A\n\ntext\nSee [gone](missing.md).\n")
        problems = self.links()
        self.assertEqual(len(problems), 1)
        self.assertTrue(problems[0].startswith("docs/a.md:4: "), problems[0])
        self.assertIn("docs/missing.md", problems[0])

    def test_a_link_to_a_missing_anchor_is_reported(self) -> None:
        self.write("docs/a.md", "# A\n\n[b](b.md#no-such-section)\n[self](#nowhere)\n")
        self.write("docs/b.md", "# B\n\n## A section\n")
        problems = self.links()
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("no section #no-such-section in docs/b.md", problems[0])
        self.assertIn("#nowhere", problems[1])

    def test_a_repeated_heading_gets_numbered_anchors(self) -> None:
        self.write("docs/a.md", """\
            # Errors
            ## Example
            ## Example
            ## Example
            [second](#example-1) [third](#example-2) [fourth](#example-3)
            """)
        problems = self.links()
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("#example-3", problems[0])

    def test_links_in_code_blocks_and_inline_code_are_ignored(self) -> None:
        self.write("docs/a.md", """\
            # A
            ```cpp
            // [not a link](missing.md)
            ```
            ~~~
            [nor this](missing.md#x)
            ~~~
            Write `[text](missing.md)` to link.
            """)
        self.assertEqual(self.links(), [])

    def test_reference_definitions_are_checked_and_footnotes_are_not(self) -> None:
        self.write("docs/a.md", "# A\n\nSee [the guide][g].[^1]\n\n[g]: gone.md\n[^1]: A note, not a link.\n")
        problems = self.links()
        self.assertEqual(len(problems), 1, problems)
        self.assertTrue(problems[0].startswith("docs/a.md:5: "), problems[0])

    def test_web_links_are_not_checked(self) -> None:
        self.write("README.md", "[a](https://example.invalid/x) [b](mailto:x@example.invalid)\n")
        self.assertEqual(self.links(), [])

    def test_explicit_anchors_and_setext_headings_count(self) -> None:
        self.write("docs/a.md", """\
            Setext title
            ============

            <a id="custom"></a>
            [one](#setext-title) [two](#custom)
            """)
        self.assertEqual(self.links(), [])

    def test_a_link_to_a_folder_or_source_file_passes(self) -> None:
        self.write("labs/01/src/x.cpp", "int x;\n")
        self.write("README.md", "[lab](labs/01) [code](labs/01/src/x.cpp#L1)\n")
        self.assertEqual(self.links(), [])

    def test_build_folders_are_skipped(self) -> None:
        self.write("build/notes.md", "[gone](missing.md)\n")
        self.write("build-solution/x/notes.md", "[gone](missing.md)\n")
        self.assertEqual(self.links(), [])

    def test_the_command_line_exits_1_with_one_line_per_problem(self) -> None:
        self.write("docs/a.md", "[x](nope.md)\n[y](#nope)\n")
        run = subprocess.run([sys.executable, str(HERE / "check_docs.py"), "links", str(self.root)],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 1)
        self.assertEqual(len(run.stdout.splitlines()), 2, run.stdout)


class SlugTest(unittest.TestCase):
    def test_slugs_follow_github(self) -> None:
        self.assertEqual(check_docs.slug("Step 4: parse and classify a port"), "step-4-parse-and-classify-a-port")
        self.assertEqual(check_docs.slug("Why `SO_REUSEADDR`?"), "why-so_reuseaddr")
        self.assertEqual(check_docs.slug("connect() -- refused"), "connect----refused")
        self.assertEqual(check_docs.slug("See [the RFC](https://x)"), "see-the-rfc")


class SkeletonsTest(TreeTest):
    def test_a_skeleton_naming_a_missing_section_is_reported(self) -> None:
        self.write("docs/labs/01.md", "# Lab 01\n## Step 1: parse\n")
        self.write("labs/01/src/a.cpp", """\
            void f() { throw NotImplemented("f", "docs/labs/01.md#step-1-parse"); }
            void g() { throw NotImplemented("g", "docs/labs/01.md#step-9"); }
            void h() { throw NotImplemented{"h", "later"}; }
            """)
        problems = check_docs.check_skeletons(self.root)
        self.assertEqual(len(problems), 2, problems)
        self.assertTrue(problems[0].startswith("labs/01/src/a.cpp:2: "), problems[0])
        self.assertIn("labs/01/src/a.cpp:3: NotImplemented names no docs section", problems[1])


class CoverageTest(TreeTest):
    TESTS = {"lab01: Ipv4Address parses 192.168.1.5", "lab01: parse_port rejects 65536"}

    def test_a_good_table_passes(self) -> None:
        self.write("docs/concepts/addresses.md", "# Addresses\n## Dotted decimal\n")
        self.write("docs/coverage.md", """\
            # Coverage
            | Cheatsheet point | Taught in | Checked by |
            |---|---|---|
            | IPv4 addresses | [dotted](concepts/addresses.md#dotted-decimal) | `lab01: Ipv4Address parses 192.168.1.5` |
            | Ports | [ports](concepts/addresses.md) | planned |
            """)
        self.assertEqual(check_docs.check_coverage(self.root, self.TESTS), [])

    def test_unknown_tests_bad_links_and_empty_cells_are_reported(self) -> None:
        self.write("docs/concepts/addresses.md", "# Addresses\n")
        self.write("docs/coverage.md", """\
            | Cheatsheet point | Taught in | Checked by |
            |---|---|---|
            | IPv4 | [x](concepts/addresses.md#nope) | `lab01: no such test` |
            | Ports | nowhere | |
            """)
        problems = check_docs.check_coverage(self.root, self.TESTS)
        self.assertEqual(len(problems), 4, problems)
        self.assertTrue(all(p.startswith("docs/coverage.md:") for p in problems))
        self.assertIn("#nope", problems[0])
        self.assertIn("`lab01: no such test`", problems[1])
        self.assertIn("no relative link", problems[2])
        self.assertIn("planned", problems[3])

    def test_a_missing_coverage_file_is_an_error(self) -> None:
        problems = check_docs.check_coverage(self.root, self.TESTS)
        self.assertEqual(len(problems), 1)
        self.assertIn("docs/coverage.md", problems[0])


class SessionsTest(TreeTest):
    PAGE = """\
        # A page

        ```text
        $ python3 -c '
        print("one")
        print("two")'
        one
        {second}
        ```
        """

    def test_a_session_that_prints_what_the_page_shows_passes(self) -> None:
        self.write("docs/page.md", self.PAGE.format(second="two"))
        self.assertEqual(check_docs.check_sessions(self.root, ["docs/page.md"]), ([], 1))

    def test_a_session_that_prints_something_else_is_reported(self) -> None:
        self.write("docs/page.md", self.PAGE.format(second="three"))
        problems, count = check_docs.check_sessions(self.root, ["docs/page.md"])
        self.assertEqual(count, 1)
        self.assertEqual(len(problems), 1)
        self.assertIn("docs/page.md:3: the Python session printed", problems[0])



class WireBlocksTest(TreeTest):
    """The commands are small bash scripts in the tree's bin/ that print what socklab-wire would."""

    PAGE = """\
        # A page

        <!-- wire: fake-wire -->
        ```text
            0.000 ms  client 127.0.0.1:40000 -> server 127.0.0.1:9      SYN      seq 0
            0.010 ms  server 127.0.0.1:9     -> client 127.0.0.1:40000  RST ACK  seq 0
        ```
        """
    REFUSED = "==> the wire\n  0.000 ms  client 127.0.0.1:1 -> server 127.0.0.1:9  SYN  seq 0\n" \
              "  0.020 ms  server 127.0.0.1:9 -> client 127.0.0.1:1  RST ACK  seq 0\n"
    TIMEOUT = "==> the wire\n  0.000 ms  client 127.0.0.1:1 -> server 127.0.0.1:9  SYN  seq 0\n"

    def fake(self, body: str) -> None:
        tool = self.write("bin/fake-wire", "#!/bin/bash\n" + body)
        tool.chmod(0o755)

    def check(self) -> tuple[list[str], int, str]:
        self.write("docs/page.md", self.PAGE)
        return check_docs.check_wire_blocks(self.root, self.root / "bin", ["docs/page.md"])

    def test_a_command_that_prints_the_same_segments_passes(self) -> None:
        self.fake(f"printf '%s' '{self.REFUSED}'\n")
        self.assertEqual(self.check(), ([], 1, ""))

    def test_a_command_that_prints_other_segments_every_time_is_reported(self) -> None:
        self.fake(f"printf '%s' '{self.TIMEOUT}'\n")
        problems, count, _ = self.check()
        self.assertEqual(count, 1)
        self.assertEqual(len(problems), 1)
        self.assertIn("docs/page.md:3: `fake-wire` now prints", problems[0])
        self.assertIn("client -> server SYN\n  where the page shows", problems[0])

    def test_a_command_that_differs_once_and_then_agrees_passes(self) -> None:
        self.fake(f"if [ -e once ]; then printf '%s' '{self.REFUSED}'; "
                  f"else touch once; printf '%s' '{self.TIMEOUT}'; fi\n")
        self.assertEqual(self.check(), ([], 1, ""))

    def test_a_machine_that_cannot_capture_gives_the_reason_and_checks_nothing(self) -> None:
        self.fake("echo 'socklab-wire: no network namespace here' >&2; exit 77\n")
        self.assertEqual(self.check(), ([], 0, "socklab-wire: no network namespace here"))

    def test_bare_acks_and_a_segment_sent_again_are_not_compared(self) -> None:
        self.assertEqual(wire_blocks.shape(
            "  0.0 ms  client a -> server b  SYN  seq 0\n  1.0 ms  client a -> server b  SYN  seq 0\n"
            "  2.0 ms  server b -> client a  ACK  seq 1\n  3.0 ms  server b -> client a  ACK  seq 1  3 bytes \"hi\\n\"\n"),
            ["client -> server SYN", "server -> client ACK"])


class MistakesTest(TreeTest):
    CATALOGUE = """\
        [[mutant]]
        id = "05-caught"
        caught_by = "lab05/A test that catches it"

        [[mutant]]
        id = "05-left-out"
        uncaught = "a race no test can place"
        """
    KNOWN = {"lab05/A test that catches it"}

    def check(self, bullets: str) -> list[str]:
        self.write("instructor/mutants/05-x.toml", self.CATALOGUE)
        self.write("docs/page.md", "# Page\n\n**Usual mistakes**\n\n" + textwrap.dedent(bullets) + "\n## Next\n")
        problems, count = check_docs.check_mistakes(self.root, ["docs/page.md"], self.KNOWN)
        self.assertEqual(count, sum(1 for line in textwrap.dedent(bullets).splitlines() if line.startswith("- ")))
        return problems

    def test_a_caught_mistake_that_names_its_test_passes(self) -> None:
        self.assertEqual(self.check("""\
            - Forgetting it: `A test that catches it`
              fails. <!-- mistake: 05-caught -->
            - A race: no test can place it. <!-- mistake: 05-left-out -->
            """), [])

    def test_a_bullet_without_a_marker_is_reported(self) -> None:
        problems = self.check("- Forgetting it.\n")
        self.assertEqual(len(problems), 1)
        self.assertIn("names no catalogue entry", problems[0])

    def test_a_bullet_that_does_not_name_the_catching_test_is_reported(self) -> None:
        problems = self.check("- Forgetting it. <!-- mistake: 05-caught -->\n")
        self.assertEqual(len(problems), 1)
        self.assertIn("does not name `A test that catches it`", problems[0])

    def test_an_uncaught_mistake_must_say_so(self) -> None:
        problems = self.check("- A race. <!-- mistake: 05-left-out -->\n")
        self.assertEqual(len(problems), 1)
        self.assertIn("caught by no test", problems[0])

    def test_an_unknown_id_is_reported(self) -> None:
        problems = self.check("- Something. <!-- mistake: 05-nowhere -->\n")
        self.assertEqual(problems, ["docs/page.md:5: no mistake 05-nowhere in instructor/mutants/"])


class NamedTestsTest(TreeTest):
    TESTS = {"lab01/parse_port rejects 65536"}

    def test_a_prefixed_test_name_in_any_page_must_exist(self) -> None:
        self.write("docs/labs/01.md", """\
            Tests: `lab01/parse_port rejects 65536`, `lab01/parse_port rejects 65537`.

            ```
            `lab01/inside a code block is not checked`
            ```
            """)
        problems = check_docs.check_named_tests(self.root, self.TESTS)
        self.assertEqual(len(problems), 1, problems)
        self.assertTrue(problems[0].startswith("docs/labs/01.md:1: "), problems[0])
        self.assertIn("`lab01/parse_port rejects 65537`", problems[0])
        self.assertIn("did you mean `lab01/parse_port rejects 65536`", problems[0])

    def test_a_lab_test_without_a_doc_tag_is_reported(self) -> None:
        self.write("docs/labs/01.md", "# Lab 01\n## Step 1: parse\n")
        self.write("labs/01-x/tests/test_1.cpp", """\
            TEST_CASE("parses", "[docs/labs/01.md#step-1-parse]") {}
            TEST_CASE("untagged") {}
            TEST_CASE("dangling", "[docs/labs/01.md#step-2]") {}
            """)
        problems = check_docs.check_test_tags(self.root, check_docs.AnchorCache())
        self.assertEqual(len(problems), 2, problems)
        self.assertIn('"untagged" has no', problems[0])
        self.assertIn("#step-2", problems[1])


if __name__ == "__main__":
    unittest.main()
