"""Local mode: the whole service on one machine against moto (`exhaust local`, `make run`)."""
