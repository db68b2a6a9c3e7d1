"""The lake on a machine: the synthetic generators, the sample lake of local mode, `exhaust lake ...`."""
