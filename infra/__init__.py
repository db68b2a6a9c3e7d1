"""CDK constructs of the data exhaust service, one capability per module, composed by stack.py."""
