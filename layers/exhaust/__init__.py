"""The data exhaust service's runtime: the shared package of the Lambdas, the builder image and the Spark job.

Local mode and the `exhaust` command are the dev kit's (exhaust_devkit), the partner client its own (exhaust_client)."""

__version__ = "0.1.0"
