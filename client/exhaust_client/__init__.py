"""The partner client of the data exhaust service: a library (`exhaust_client.client`) and the `exhaust-client`
command (`exhaust_client.cli`). Standard library only, so it installs alone: `pip install ./client`."""

__version__ = "0.1.0"
