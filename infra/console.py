"""The browser console in AWS: its built files in a private bucket behind a CloudFront distribution of its own,
at /console, with the API under /api on the same domain (so the console calls it without CORS).

A distribution of its own, not the public datasets' one: every API function is told the public CDN's domain
(EXHAUST_CDN_BASE_URL), so an API origin on that distribution would make the distribution and the API depend on
each other. `make console` builds console/ into build/console/ (hashed asset names); a BucketDeployment copies
index.html (revalidated at every load) and assets/ (cached for a year: a new build has new names) to the bucket's
console/ prefix. A CloudFront Function answers /, /console and /console/ with index.html. The API behaviour caches
nothing and passes every viewer header but Host, the Authorization header included (allowed when caching is off).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack, aws_apigateway, aws_cloudfront, aws_cloudfront_origins, aws_s3
from aws_cdk import aws_s3_deployment as deployment
from constructs import Construct, IConstruct

from infra.nag import acknowledge, iam5_resource

CONSOLE_BUILD = Path(__file__).resolve().parent.parent / "build" / "console"
CONSOLE_PREFIX = "console"
API_PATH_PATTERN = "/api/*"
# The index names the current assets: a browser asks for it again each time; assets never change under a name.
INDEX_CACHE = deployment.CacheControl.from_string("no-cache")
ASSETS_CACHE = deployment.CacheControl.from_string("public, max-age=31536000, immutable")
INDEX_REWRITE = """
function handler(event) {
  var request = event.request;
  if (request.uri === "/" || request.uri === "/console" || request.uri === "/console/") {
    request.uri = "/console/index.html";
  }
  return request;
}
"""


class ConsoleNotBuilt(RuntimeError):
    pass


def console_assets(build: Path = CONSOLE_BUILD) -> Path:
    """The built console, or a clear refusal: a deployment without it would serve nothing at /console."""
    if not (build / "index.html").is_file() or not (build / "assets").is_dir():
        raise ConsoleNotBuilt(f"the console is not built in {build}: run `make console` (make synth/deploy do)")
    return build


class Console(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: aws_apigateway.RestApi,
        access_logs: aws_s3.IBucket,
        retain: bool,
        build: Path = CONSOLE_BUILD,
    ) -> None:
        super().__init__(scope, construct_id)
        assets = console_assets(build)
        self.bucket = aws_s3.Bucket(
            self,
            "Bucket",
            block_public_access=aws_s3.BlockPublicAccess.BLOCK_ALL,
            encryption=aws_s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="ConsoleBucket/",
            # Kept with the stack's other buckets (`retain`): going with the stack, it would have to be emptied
            # first, which needs CDK's bucket-emptying function in every stack. Its files are only the built console.
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            auto_delete_objects=not retain,
        )
        index = deployment.BucketDeployment(
            self,
            "Index",
            sources=[deployment.Source.asset(str(assets), exclude=["assets", "assets/*"])],
            destination_bucket=self.bucket,
            destination_key_prefix=f"{CONSOLE_PREFIX}/",
            cache_control=[INDEX_CACHE],
            prune=False,
        )
        files = deployment.BucketDeployment(
            self,
            "Assets",
            sources=[deployment.Source.asset(str(assets / "assets"))],
            destination_bucket=self.bucket,
            destination_key_prefix=f"{CONSOLE_PREFIX}/assets/",
            cache_control=[ASSETS_CACHE],
            prune=True,
        )
        # The index must never name assets that are not there yet (its copy waits for theirs).
        index.node.find_child("CustomResource").node.add_dependency(files)
        rewrite = aws_cloudfront.Function(
            self,
            "IndexRewrite",
            code=aws_cloudfront.FunctionCode.from_inline(INDEX_REWRITE),
            runtime=aws_cloudfront.FunctionRuntime.JS_2_0,
            comment="/console and /console/ are the console's index.html",
        )
        self.distribution = aws_cloudfront.Distribution(
            self,
            "Distribution",
            comment="exhaust console and its API",
            default_behavior=aws_cloudfront.BehaviorOptions(
                origin=aws_cloudfront_origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=aws_cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=aws_cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=aws_cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=aws_cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                compress=True,
                function_associations=[
                    aws_cloudfront.FunctionAssociation(
                        function=rewrite, event_type=aws_cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            http_version=aws_cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=aws_cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=access_logs,
            log_file_prefix="console-cdn/",
        )
        self.distribution.add_behavior(
            API_PATH_PATTERN,
            aws_cloudfront_origins.RestApiOrigin(rest_api, read_timeout=Duration.seconds(30)),
            viewer_protocol_policy=aws_cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=aws_cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=aws_cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=aws_cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=aws_cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
        )
        self.url = f"https://{self.distribution.distribution_domain_name}/{CONSOLE_PREFIX}"
        acknowledge_distribution(self.distribution)
        for construct in Stack.of(self).node.children:
            if construct.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge_deployment_handler(construct, self.bucket)


def acknowledge_distribution(distribution: aws_cloudfront.Distribution) -> None:
    acknowledge(
        distribution,
        "AwsSolutions-CFR1",
        "The console serves partners' staff wherever they are; the API behind it authenticates every call.",
    )
    acknowledge(
        distribution,
        "AwsSolutions-CFR2",
        "No WAF by default (cost): the API's own stage throttling applies behind /api; docs/deploy.md shows how to "
        "attach a web ACL.",
    )
    acknowledge(
        distribution,
        "AwsSolutions-CFR4",
        "The distribution uses the default *.cloudfront.net certificate, for which CloudFront fixes the minimum "
        "viewer protocol; a custom domain with TLSv1.2_2021 is the documented upgrade path.",
    )


def acknowledge_deployment_handler(handler: IConstruct, bucket: aws_s3.IBucket) -> None:
    """CDK's own BucketDeployment function (one per stack): what cdk-nag finds in it is CDK's design."""
    acknowledge(
        handler,
        "AwsSolutions-IAM4",
        "CDK's BucketDeployment handler logs with the AWS managed basic execution role; it runs only at deploy time.",
        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    reason = (
        "CDK's BucketDeployment handler reads the CDK asset bucket's objects and replaces the console bucket's (CDK's "
        "own grants, by object wildcard); it runs only at deploy time."
    )
    findings = [
        "Action::s3:GetObject*",
        "Action::s3:GetBucket*",
        "Action::s3:List*",
        "Action::s3:Abort*",
        "Action::s3:DeleteObject*",
        "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
        iam5_resource(handler, f"{bucket.bucket_arn}/*"),
    ]
    for finding in findings:
        acknowledge(handler, "AwsSolutions-IAM5", reason, finding)
    acknowledge(
        handler,
        "AwsSolutions-L1",
        "CDK chooses the BucketDeployment handler's runtime; it runs only at deploy time, with no user input.",
    )
