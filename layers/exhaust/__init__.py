"""The data exhaust service: shared package of the Lambdas, the builder image, local mode and the CLI."""

__version__ = "0.1.0"
