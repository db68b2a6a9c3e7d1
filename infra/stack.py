"""The stack: composes the capability constructs and wires their names and grants together."""

from __future__ import annotations

from aws_cdk import Annotations, AssetHashType, CfnOutput, Stack, Tags, aws_lambda, aws_s3, aws_ssm
from constructs import Construct
from exhaust.resources import CREDENTIALS_TABLE

from infra.api import AUTHORIZER_FUNCTION, Api
from infra.builder import Builder
from infra.cdn import Cdn
from infra.config import StackSettings
from infra.console import Console
from infra.image_function import ImageServiceFunction
from infra.indexer import LakeIndex
from infra.layer import (
    LAYER_PYTHON_VARIABLE,
    RUNTIME_PYTHON,
    asset_hash,
    layer_has_bytecode,
    runtime_python,
    stage_dependencies,
    stage_layer,
)
from infra.monitoring import Monitoring
from infra.pipeline import ExhaustWorkflow
from infra.scheduler import Scheduler
from infra.service_function import ARCHITECTURE, RUNTIME, ServiceFunction, powertools_layer_parameter
from infra.storage import Storage

PROJECT = "exhaust"
LAYER_WITHOUT_BYTECODE = "exhaust:layer-without-bytecode"


def shared_package_layer(scope: Construct) -> aws_lambda.LayerVersion:
    """The exhaust package as a layer, with bytecode when this machine has the runtime's Python (a warning if not)."""
    layer_dir = stage_layer(python=runtime_python())
    layer = aws_lambda.LayerVersion(
        scope,
        "SharedPackageLayer",
        code=aws_lambda.Code.from_asset(
            str(layer_dir), asset_hash=asset_hash(layer_dir), asset_hash_type=AssetHashType.CUSTOM
        ),
        compatible_runtimes=[RUNTIME],
        description="exhaust shared package",
    )
    if not layer_has_bytecode(layer_dir):
        Annotations.of(layer).add_warning_v2(
            LAYER_WITHOUT_BYTECODE,
            f"no Python {RUNTIME_PYTHON} found to compile the shared layer: every cold start compiles it "
            f"(about 50-60 ms); install python{RUNTIME_PYTHON} or set {LAYER_PYTHON_VARIABLE}",
        )
    return layer


def dependencies_layer(scope: Construct, settings: StackSettings) -> aws_lambda.ILayerVersion:
    """Powertools, pydantic and the X-Ray SDK: a layer of our own from the lock (default), or the official one."""
    if settings.powertools_layer == "public":
        return aws_lambda.LayerVersion.from_layer_version_arn(
            scope,
            "PowertoolsLayer",
            aws_ssm.StringParameter.value_for_string_parameter(scope, powertools_layer_parameter()),
        )
    layer_dir = stage_dependencies(python=runtime_python())
    return aws_lambda.LayerVersion(
        scope,
        "DependenciesLayer",
        code=aws_lambda.Code.from_asset(
            str(layer_dir), asset_hash=layer_dir.name, asset_hash_type=AssetHashType.CUSTOM
        ),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="exhaust dependencies: Powertools, pydantic, fastjsonschema, X-Ray SDK (requirements.lock)",
    )


class ExhaustStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        # Every taggable resource (and the stack itself) says what it belongs to: cost reports, clean-up, IAM.
        Tags.of(self).add("project", PROJECT)
        Tags.of(self).add("stage", settings.stage)
        storage = Storage(self, "Storage", settings=settings)
        self.monitoring = Monitoring(
            self, "Monitoring", dead_letter_queue=storage.dead_letter_queue, alarm_email=settings.alarm_email
        )
        self.cdn = Cdn(self, "Cdn", bucket=storage.public_bucket, log_bucket=storage.access_logs)

        shared_layer = shared_package_layer(self)
        powertools_layer = dependencies_layer(self, settings)
        environment = {
            **storage.environment(),
            "EXHAUST_LINK_EXPIRY_SECONDS": str(settings.link_expiry_minutes * 60),
            "EXHAUST_MAX_OPEN_REQUESTS_PER_CHANNEL": str(settings.max_open_requests_per_channel),
            "EXHAUST_MAX_RUNNING_PER_CHANNEL": str(settings.max_running_per_channel),
            "EXHAUST_MAX_RUNNING_TOTAL": str(settings.running_total),
            "EXHAUST_REQUEST_RETENTION_DAYS": str(settings.request_retention_days),
            "EXHAUST_OUTPUT_RETENTION_DAYS": str(settings.output_retention_days),
            "EXHAUST_BATCH_EXPIRY_DAYS": str(settings.batch_expiry_days),
            "EXHAUST_CORS_ALLOWED_ORIGINS": settings.cors_allowed_origins,
            "EXHAUST_CDN_BASE_URL": self.cdn.base_url,
        }
        self.api = Api(
            self,
            "Api",
            settings=settings,
            storage=storage,
            layers=[powertools_layer, shared_layer],
            environment=environment,
        )
        self.console = Console(
            self,
            "Console",
            rest_api=self.api.rest_api,
            access_logs=storage.access_logs,
            retain=settings.retain,
        )
        # The console's chart reads summary-rollup files through their presigned links, from the console's origin:
        # the signature is the permission, so any origin may GET them (no cycle through the distribution's name).
        storage.exhaust_bucket.add_cors_rule(
            allowed_methods=[aws_s3.HttpMethods.GET, aws_s3.HttpMethods.HEAD], allowed_origins=["*"], max_age=3600
        )
        self.monitoring.watch_api(self.api.rest_api)
        self.monitoring.watch_function(self.api.functions[AUTHORIZER_FUNCTION], "Authorizer")
        self.builder = Builder(
            self,
            "Builder",
            storage=storage,
            environment=environment,
            reserved_concurrency=settings.reserved_concurrency.get("builder"),
        )
        self.pipeline = ExhaustWorkflow(
            self,
            "Pipeline",
            settings=settings,
            storage=storage,
            layers=[powertools_layer, shared_layer],
            environment=environment,
            builder=self.builder.function,
            plan=self.builder.plan_function,
            monitoring=self.monitoring,
        )
        self.pipeline.allow_lifecycle(cancel=self.api.functions["cancel"], delete=self.api.functions["delete"])
        self.scheduler = Scheduler(
            self,
            "Scheduler",
            settings=settings,
            storage=storage,
            environment=environment,
            monitoring=self.monitoring,
            distribution=self.cdn.distribution,
        )
        self.lake_index = LakeIndex(
            self,
            "LakeIndex",
            settings=settings,
            storage=storage,
            environment=environment,
            monitoring=self.monitoring,
            schedule_group=self.scheduler.group.ref,
        )
        functions = [c for c in self.node.find_all() if isinstance(c, ServiceFunction | ImageServiceFunction)]
        self.monitoring.watch_throttles(functions)
        self.monitoring.watch_tables(list(storage.tables.values()))
        self.monitoring.add_dashboard(
            settings.stack_name, builder=self.builder.function, state_machine=self.pipeline.state_machine
        )
        CfnOutput(self, "ApiUrl", value=self.api.rest_api.url).override_logical_id("ApiUrl")
        CfnOutput(
            self, "ConsoleUrl", value=self.console.url, description="The browser console (sign in with a token)"
        ).override_logical_id("ConsoleUrl")
        CfnOutput(
            self, "CdnDomainName", value=self.cdn.domain_name, description="CloudFront domain of public datasets"
        ).override_logical_id("CdnDomainName")
        CfnOutput(
            self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn, description="SNS topic of the alarms"
        ).override_logical_id("AlarmTopicArn")
        credentials = storage.tables[CREDENTIALS_TABLE.name].table_name
        CfnOutput(
            self, "CredentialsTableName", value=credentials, description="exhaust token|license ... --table"
        ).override_logical_id("CredentialsTableName")
        CfnOutput(
            self, "LakeBucketName", value=storage.lake_bucket.bucket_name, description="the lake the builders read"
        ).override_logical_id("LakeBucketName")
