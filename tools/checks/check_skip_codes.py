#!/usr/bin/env python3
"""Every lab test that CTest runs skips with the test kit's own code, whichever Catch2 built it.

The test kit ends a test that cannot run on this machine with exit code 77 (report_skip in
labs/common/testkit/src/catch_main.cpp), which cmake/SocklabLab.cmake gives CTest as the tests'
SKIP_RETURN_CODE. Catch2 v3's catch_discover_tests sets its own (4) after ours unless told
SKIP_IS_FAILURE: then a test that should skip (no network namespace for a non-root user, say)
fails instead, and a student can never finish the lab. This check reads what CTest was told.

Usage: check_skip_codes.py BUILD_DIR
"""
import json
import re
import subprocess
import sys


def main() -> int:
    build = sys.argv[1]
    listing = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"], capture_output=True,
                             text=True, check=True).stdout
    wrong = []
    counted = 0
    for test in json.loads(listing)["tests"]:
        command = test.get("command") or []
        if not command or not re.search(r"/lab[0-9]{2}_tests$", command[0]):
            continue  # a conversation script or another kind of test: no skip code of the kit's
        counted += 1
        codes = [p["value"] for p in test.get("properties", []) if p["name"] == "SKIP_RETURN_CODE"]
        if codes != [77]:
            wrong.append(f"{test['name']}: SKIP_RETURN_CODE {codes or 'unset'}, expected 77")
    for line in wrong[:10]:
        print(line)
    if counted == 0:
        print(f"no lab test found in {build}: is it configured?")
        return 1
    print(f"{counted - len(wrong)} of {counted} lab tests skip with the test kit's code 77")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
