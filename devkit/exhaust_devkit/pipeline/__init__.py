"""The workflow runner: Step Functions' definitions run in-process (local mode and the tests)."""
