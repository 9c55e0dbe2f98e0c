#!/usr/bin/env python3
"""Tests of instructor/tools/instructor.py's docs check: a handout's pages send students to nothing it lacks.

Run: python3 instructor/tools/test_instructor.py
"""
from __future__ import annotations

import json
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import instructor  # noqa: E402


class HandoutDocsTest(unittest.TestCase):
    """A handout folder with a student CMakePresets.json and one page."""

    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.handout = Path(self._tmp.name)
        presets = {"version": 6, "configurePresets": [{"name": "student"}, {"name": "asan"}]}
        (self.handout / "CMakePresets.json").write_text(json.dumps(presets))

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def problems(self, page: str) -> list[str]:
        path = self.handout / "docs" / "page.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(page))
        return instructor.missing_in_docs(self.handout, [path], ["docs/page.md"])

    def test_a_preset_the_handout_has_is_fine(self) -> None:
        self.assertEqual(self.problems("Run `cmake --preset asan -B build-asan`.\n"), [])

    def test_a_preset_the_handout_lacks_is_named_with_its_line(self) -> None:
        found = self.problems("Intro.\n\n```sh\ncmake --preset bench -B build-bench-mine\n```\n")
        self.assertIn("docs/page.md:4: names the preset 'bench', which the handout's CMakePresets.json "
                      "does not have", found)

    def test_a_command_in_a_left_out_folder_is_named(self) -> None:
        found = self.problems("```sh\nbuild/bin/lab04-server & instructor/bench/run.sh\n```\n")
        self.assertEqual(found, ["docs/page.md:2: a command uses instructor/, which the handout does not have"])

    def test_prose_about_a_left_out_folder_is_fine(self) -> None:
        self.assertEqual(self.problems("The benchmarks in instructor/bench/ stay with your instructor.\n"), [])

    def test_an_instructor_only_passage_leaves_the_handout_whole(self) -> None:
        page = ("Before.\n<!-- instructor-only -->\n```sh\ncmake --preset bench\n```\n"
                "<!-- /instructor-only -->\nAfter.\n")
        stripped = instructor.strip_instructor_only(page)
        self.assertEqual(stripped, "Before.\nAfter.\n")
        self.assertEqual(self.problems(stripped), [])


if __name__ == "__main__":
    unittest.main()
