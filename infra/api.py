"""The REST API, built route by route from the shared route table.

Any route of `exhaust.api.routes.ROUTES` becomes a method backed by the Lambda of its function folder, which gets
the grants of infra/grants.py. Routes with auth "token" sit behind the REQUEST authorizer (functions/authorizer);
routes with auth "none" are public. Errors API Gateway answers itself (401, 403, 404, 429, 5xx) use the service's
JSON envelope, as the local gateway does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, aws_apigateway, aws_lambda, aws_logs
from constructs import Construct
from exhaust.api import cors
from exhaust.api.envelope import GATEWAY_API_ID, VERSION, Envelope, ResponseParams
from exhaust.api.operation import Operation
from exhaust.api.routes import ROUTES

from infra.config import StackSettings
from infra.grants import apply_grants, grants_for
from infra.image_function import ImageServiceFunction, has_image
from infra.nag import acknowledge
from infra.service_function import API_FUNCTION_TIMEOUT, ServiceFunction
from infra.storage import Storage

AUTHORIZER_FUNCTION = "authorizer"
AUTHORIZER_CACHE = Duration.seconds(60)
EXPORT_PATH = "/api/export/{format}"
EXPORT_SHARE = 5
# Lambda answers zips base64-encoded (legacy and export APIs). API Gateway turns such an answer back into bytes
# only when the request's first Accept type matches a binary media type; curl, browsers and Swagger UI send */*,
# so */* is the one entry that serves application/zip to every client. The cost: request bodies reach Lambda
# base64-encoded too (isBase64Encoded), which ApiRequest.from_event decodes for every handler; JSON answers
# (isBase64Encoded false) pass through unchanged.
BINARY_MEDIA_TYPES = ["*/*"]


def _construct_id(function: str) -> str:
    return "".join(part.title() for part in function.replace("_", "-").split("-")) + "Function"


def path_parameters(path: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", path)


def gateway_envelope(err: str, response_code: str, errmsg: str | None = None) -> str:
    """The body template of a gateway response: the envelope (exhaust.api.envelope), filled by API Gateway."""
    params = ResponseParams(resmsgid="$context.requestId", status="failed", err=err, errmsg="@MSG@")
    envelope = Envelope[None](id=GATEWAY_API_ID, ver=VERSION, ts="@TS@", params=params, responseCode=response_code)
    body = envelope.model_dump(mode="json", exclude_none=True)
    message = json.dumps(errmsg) if errmsg is not None else "$context.error.messageString"  # already quoted
    return json.dumps(body).replace('"@TS@"', '"$context.requestTime"').replace('"@MSG@"', message)


# (response type, HTTP status or None to keep API Gateway's, err, responseCode, fixed errmsg or None)
GATEWAY_RESPONSES: tuple[tuple[aws_apigateway.ResponseType, str | None, str, str, str | None], ...] = (
    (
        aws_apigateway.ResponseType.UNAUTHORIZED,
        "401",
        "UNAUTHORIZED",
        "UNAUTHORIZED",
        "Authorization: a valid Bearer token is required",
    ),
    (aws_apigateway.ResponseType.ACCESS_DENIED, "403", "FORBIDDEN", "FORBIDDEN", None),
    # API Gateway answers 403 "Missing Authentication Token" for a path or method it does not know.
    (
        aws_apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
        "404",
        "NOT_FOUND",
        "RESOURCE_NOT_FOUND",
        "No route for this method and path",
    ),
    (aws_apigateway.ResponseType.BAD_REQUEST_PARAMETERS, "400", "INVALID_REQUEST", "CLIENT_ERROR", None),
    (aws_apigateway.ResponseType.BAD_REQUEST_BODY, "400", "INVALID_REQUEST", "CLIENT_ERROR", None),
    (aws_apigateway.ResponseType.THROTTLED, "429", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS", None),
    # The methods that refuse other methods (ANY, a mock) take JSON or no body; another body type gets this.
    (
        aws_apigateway.ResponseType.UNSUPPORTED_MEDIA_TYPE,
        "415",
        "UNSUPPORTED_MEDIA_TYPE",
        "CLIENT_ERROR",
        "This method is not allowed on this path, and its body type is not one this API reads",
    ),
    (aws_apigateway.ResponseType.REQUEST_TOO_LARGE, "413", "PAYLOAD_TOO_LARGE", "CLIENT_ERROR", None),
    (aws_apigateway.ResponseType.DEFAULT_4_XX, None, "$context.error.responseType", "CLIENT_ERROR", None),
    (aws_apigateway.ResponseType.DEFAULT_5_XX, None, "INTERNAL_ERROR", "SERVER_ERROR", None),
)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        storage: Storage,
        layers: list[aws_lambda.ILayerVersion],
        environment: dict[str, str],
        routes: Sequence[Operation] = ROUTES,
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._layers = layers
        self._environment = environment
        access_logs = aws_logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=f"/{settings.stack_name}/api-access",
            retention=aws_logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.rest_api = aws_apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=f"exhaust-{settings.stage}",
            description="Data exhaust service API",
            # The role API Gateway logs with is one per account and region: setting it is opt-in, as a stack that
            # sets it replaces the one every other API of the region logs with (docs/deploy.md).
            cloud_watch_role=settings.api_cloudwatch_role,
            binary_media_types=BINARY_MEDIA_TYPES,
            endpoint_types=[aws_apigateway.EndpointType.REGIONAL],
            deploy_options=aws_apigateway.StageOptions(
                stage_name=settings.stage,
                tracing_enabled=True,
                throttling_rate_limit=settings.api_rate_limit,
                throttling_burst_limit=settings.api_burst_limit,
                # The export API is open to anyone and costly per call: it may use a fifth of the stage's capacity,
                # so anonymous exports cannot starve the partners' routes.
                method_options={
                    f"{EXPORT_PATH}/GET": aws_apigateway.MethodDeploymentOptions(
                        throttling_rate_limit=max(1, settings.api_rate_limit // EXPORT_SHARE),
                        throttling_burst_limit=max(1, settings.api_burst_limit // EXPORT_SHARE),
                    )
                },
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
        # API Gateway writes the stage's execution logs (logging_level) to a group it would create without a
        # retention; created here first, under the name it uses, the group keeps them three months like the access log.
        execution_logs = aws_logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{settings.stage}",
            retention=aws_logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.rest_api.deployment_stage.node.add_dependency(execution_logs)
        # Path parameters are declared required; bodies are validated by the handlers (pydantic), which name
        # the offending field in the envelope exactly as local mode does.
        self.validator = self.rest_api.add_request_validator(
            "ParametersValidator", validate_request_parameters=True, validate_request_body=False
        )
        for response_type, status, err, response_code, errmsg in GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                f"{response_type.response_type.title().replace('_', '')}Response",
                type=response_type,
                status_code=status,
                templates={"application/json": gateway_envelope(err, response_code, errmsg)},
            )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG2",
            "Request parameters are validated by API Gateway (required path parameters); bodies are validated "
            "by each handler's pydantic model, which names the offending field in the envelope as local mode "
            "does. The route table carries no body schemas for API Gateway models to enforce.",
        )
        self._acknowledge_api()

        self.functions: dict[str, aws_lambda.Function] = {}
        self.authorizer: aws_apigateway.RequestAuthorizer | None = None
        if any(route.auth == "token" for route in routes):
            self.authorizer = aws_apigateway.RequestAuthorizer(
                self,
                "TokenAuthorizer",
                handler=self._function(AUTHORIZER_FUNCTION, "Bearer token -> principal (REQUEST authorizer)"),
                identity_sources=[aws_apigateway.IdentitySource.header("Authorization")],
                results_cache_ttl=AUTHORIZER_CACHE,
            )
        for route in routes:
            self._add_route(route)
        for path in sorted({route.path for route in routes}):
            self._refuse_other_methods(path, sorted({route.method for route in routes if route.path == path}))
        origins = cors.parse_origins(settings.cors_allowed_origins)
        if origins:
            for path in sorted({route.path for route in routes}):
                self._answer_preflight(path, sorted({route.method for route in routes if route.path == path}), origins)

    def _function(self, name: str, description: str) -> aws_lambda.Function:
        function = self.functions.get(name)
        if function is None:
            if has_image(name):
                # Handlers that read Parquet (legacy, export) ship as container images with pyarrow.
                function = ImageServiceFunction(
                    self,
                    _construct_id(name),
                    function=name,
                    environment=self._environment,
                    description=description,
                    timeout=API_FUNCTION_TIMEOUT,
                )
            else:
                function = ServiceFunction(
                    self,
                    _construct_id(name),
                    function=name,
                    layers=self._layers,
                    environment=self._environment,
                    description=description,
                    timeout=API_FUNCTION_TIMEOUT,
                )
            apply_grants(function, grants_for(name) or (), self._storage)
            self.functions[name] = function
        return function

    def _add_route(self, route: Operation) -> None:
        function = self._function(route.function, route.summary)
        resource = self.rest_api.root.resource_for_path(route.path)
        private = route.auth == "token"
        method = resource.add_method(
            route.method,
            aws_apigateway.LambdaIntegration(function),
            authorizer=self.authorizer if private else None,
            authorization_type=(
                aws_apigateway.AuthorizationType.CUSTOM if private else aws_apigateway.AuthorizationType.NONE
            ),
            request_validator=self.validator,
            request_parameters={f"method.request.path.{name}": True for name in path_parameters(route.path)},
            operation_name=route.api_id,
        )
        acknowledge(
            method,
            "AwsSolutions-COG4",
            "Callers are partner systems holding service-issued API tokens, checked by the REQUEST Lambda "
            "authorizer (or public by design); there are no Cognito users.",
        )
        if not private:
            acknowledge(
                method,
                "AwsSolutions-APIG4",
                f"{route.method} {route.path} is public by design (route table auth='none': {route.summary}); "
                "its handler applies its own checks (license key, channel header) where the API defines them.",
            )

    def _answer_preflight(self, path: str, allowed: list[str], origins: tuple[str, ...]) -> None:
        """OPTIONS on a route's path: the CORS preflight of exhaust.api.cors (a mock, as the local gateway answers)."""
        method = self.rest_api.root.resource_for_path(path).add_cors_preflight(
            allow_origins=list(origins),
            allow_headers=list(cors.ALLOWED_HEADERS),
            allow_methods=allowed,
            max_age=Duration.seconds(cors.MAX_AGE_SECONDS),
            status_code=cors.PREFLIGHT_STATUS,
        )
        acknowledge(
            method,
            "AwsSolutions-APIG4",
            f"OPTIONS {path} only answers the CORS preflight (a mock integration, no backend); the methods it "
            "announces keep their own authorization.",
        )
        acknowledge(method, "AwsSolutions-COG4", "A mock that answers the CORS preflight; it reaches no data.")

    def _refuse_other_methods(self, path: str, allowed: list[str]) -> None:
        """ANY on a route's path: a 405 with Allow in the envelope, as the local gateway answers, with no Lambda.

        API Gateway matches a path's explicit methods before ANY, so only the methods the route table does not
        define reach this mock; without it API Gateway would answer them as unknown paths (404).
        """
        allow = ", ".join(allowed)
        body = gateway_envelope(
            "METHOD_NOT_ALLOWED", "CLIENT_ERROR", f"$context.httpMethod is not allowed on {path}; allowed: {allow}"
        )
        method = self.rest_api.root.resource_for_path(path).add_method(
            "ANY",
            aws_apigateway.MockIntegration(
                request_templates={"application/json": json.dumps({"statusCode": 405})},
                passthrough_behavior=aws_apigateway.PassthroughBehavior.NEVER,
                # Every body is binary to this API (BINARY_MEDIA_TYPES): as text, the template above applies.
                content_handling=aws_apigateway.ContentHandling.CONVERT_TO_TEXT,
                integration_responses=[
                    aws_apigateway.IntegrationResponse(
                        status_code="405",
                        response_parameters={"method.response.header.Allow": f"'{allow}'"},
                        response_templates={"application/json": body},
                    )
                ],
            ),
            authorization_type=aws_apigateway.AuthorizationType.NONE,
            method_responses=[
                aws_apigateway.MethodResponse(
                    status_code="405", response_parameters={"method.response.header.Allow": True}
                )
            ],
        )
        acknowledge(
            method,
            "AwsSolutions-APIG4",
            f"ANY {path} only answers 405 (a mock integration, no backend): the methods the path allows ({allow}) "
            "are defined beside it and keep their own authorization.",
        )
        acknowledge(method, "AwsSolutions-COG4", "A mock that answers 405; it reaches no backend and no data.")

    def _acknowledge_api(self) -> None:
        role = self.rest_api.node.try_find_child("CloudWatchRole")
        if role is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM4",
                "API Gateway's account-level logging role needs AmazonAPIGatewayPushToCloudWatchLogs (the "
                "policy AWS documents for it); it only writes API Gateway logs.",
                finding="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs",
            )
        acknowledge(
            self.rest_api.deployment_stage,
            "AwsSolutions-APIG3",
            "No WAF by default (cost): every private route needs a token checked by the authorizer, and stage "
            "throttling caps the rate; docs/deploy.md shows how to attach a web ACL.",
        )
