# The lake index's Spark job on EMR Serverless (infra/indexer.py), not a Lambda: the EMR release's public Spark
# image with Python 3.11 and the runtime distribution (layers/exhaust) with its `builder` and `spark` extras (pyarrow, pandas: what the
# job's rules and Arrow payloads use) at the versions of the lock file, and the job's entry point, which runs
# `python -m exhaust.lake.spark_index`. spark-submit puts the release's own pyspark first on the path (the extra pins
# the same version). A custom image is built FROM the base image of the application's
# release and architecture and runs as the hadoop user (EMR Serverless user guide, "Customizing an EMR Serverless
# image"). Built by CDK from the repository root at `cdk deploy`; only the files below are in its context.
ARG EMR_RELEASE
FROM public.ecr.aws/emr-serverless/spark/${EMR_RELEASE}:latest

USER root
RUN dnf install -y python3.11 python3.11-pip && dnf clean all
COPY pyproject.toml README.md requirements.lock /build/
COPY layers/exhaust /build/layers/exhaust
RUN python3.11 -m pip install --no-cache-dir --constraint /build/requirements.lock "/build[builder,spark]" \
    && rm -rf /build \
    && mkdir -p /opt/exhaust \
    && printf 'import runpy\n\nrunpy.run_module("exhaust.lake.spark_index", run_name="__main__", alter_sys=True)\n' \
       > /opt/exhaust/spark_index.py

USER hadoop:hadoop
