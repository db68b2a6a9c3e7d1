"""`exhaust local` as the e2e_local suite runs it: the same command, with its API answers logged for the contract test.

Run as a script by LocalServiceProcess; the log is the file named by EXHAUST_CONTRACT_ANSWER_LOG (tests/contract.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exhaust_devkit.cli import main

from tests.contract import ANSWER_LOG_VARIABLE, append_to_log, record_gateway_answers

if __name__ == "__main__":
    record_gateway_answers(append_to_log(Path(os.environ[ANSWER_LOG_VARIABLE])))
    sys.exit(main(sys.argv[1:]))
