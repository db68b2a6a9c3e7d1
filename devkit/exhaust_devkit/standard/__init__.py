"""The daily datasets on a machine: `exhaust produce`, the sample days and the daily schedule of local mode."""
