"""The REST API, built route by route from the shared route table."""

from __future__ import annotations

from aws_cdk import aws_apigateway, aws_lambda, aws_logs
from constructs import Construct
from exhaust.api.routes import ROUTES, Route

from infra.service_function import ServiceFunction


def _construct_id(function: str) -> str:
    return "".join(part.title() for part in function.replace("_", "-").split("-")) + "Function"


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        layers: list[aws_lambda.ILayerVersion],
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = aws_logs.LogGroup(self, "AccessLogs", retention=aws_logs.RetentionDays.THREE_MONTHS)
        self.rest_api = aws_apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=f"exhaust-{stage}",
            description="Data exhaust service API",
            cloud_watch_role=True,
            deploy_options=aws_apigateway.StageOptions(
                stage_name=stage,
                tracing_enabled=True,
                throttling_rate_limit=50,
                throttling_burst_limit=100,
                logging_level=aws_apigateway.MethodLoggingLevel.ERROR,
                access_log_destination=aws_apigateway.LogGroupLogDestination(access_logs),
                access_log_format=aws_apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        self.functions: dict[str, aws_lambda.Function] = {}
        for route in ROUTES:
            self._add_route(route, layers, environment)

    def _add_route(
        self, route: Route, layers: list[aws_lambda.ILayerVersion], environment: dict[str, str]
    ) -> None:
        function = self.functions.get(route.function)
        if function is None:
            function = ServiceFunction(
                self,
                _construct_id(route.function),
                function=route.function,
                layers=layers,
                environment=environment,
                description=route.summary,
            )
            self.functions[route.function] = function
        resource = self.rest_api.root.resource_for_path(route.path)
        resource.add_method(route.method, aws_apigateway.LambdaIntegration(function))
