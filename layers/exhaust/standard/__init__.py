"""Standard and public datasets: daily files a producer writes and two GET routes list (docs/datasets.md)."""
