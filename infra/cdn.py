"""The CDN: CloudFront in front of the public bucket, through Origin Access Control, HTTPS only.

The bucket stays private (block public access); only this distribution may read it (the bucket policy names
the distribution). It may also list the bucket: S3 answers a principal without s3:ListBucket 403 for a key that
does not exist, so a public dataset file not produced yet would read as "forbidden" instead of 404.
The public dataset API answers `https://<domain>/<key>` URLs (EXHAUST_CDN_BASE_URL).
"""

from __future__ import annotations

from aws_cdk import aws_cloudfront, aws_cloudfront_origins, aws_s3
from constructs import Construct

from infra.nag import acknowledge


class Cdn(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: aws_s3.IBucket,
        log_bucket: aws_s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.distribution = aws_cloudfront.Distribution(
            self,
            "Distribution",
            comment="exhaust public datasets",
            default_behavior=aws_cloudfront.BehaviorOptions(
                origin=aws_cloudfront_origins.S3BucketOrigin.with_origin_access_control(
                    bucket, origin_access_levels=[aws_cloudfront.AccessLevel.READ, aws_cloudfront.AccessLevel.LIST]
                ),
                viewer_protocol_policy=aws_cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=aws_cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=aws_cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=aws_cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                compress=True,
            ),
            http_version=aws_cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=aws_cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix="cdn/",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "Public datasets are open data meant for analysts anywhere; there is no country to restrict.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "No WAF by default (cost): the distribution serves static, aggregated public files read-only "
            "(GET/HEAD), cached; docs/deploy.md shows how to attach a web ACL.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The distribution uses the default *.cloudfront.net certificate, for which CloudFront fixes the "
            "minimum viewer protocol; a custom domain with TLSv1.2_2021 is the documented upgrade path.",
        )

    @property
    def domain_name(self) -> str:
        return self.distribution.distribution_domain_name

    @property
    def base_url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"
