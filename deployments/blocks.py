"""Register the S3 blocks autoslo's storage uses: an AwsCredentials block and an S3Bucket block.

Credentials are read from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional
AWS_SESSION_TOKEN and AWS_DEFAULT_REGION) and stored in the Prefect API, never under data/.

    python deployments/blocks.py --bucket my-bucket [--folder autoslo] [--name autoslo-data] \
        [--endpoint-url http://127.0.0.1:9000]
    export AUTOSLO_STORAGE=s3-bucket/autoslo-data
"""

from __future__ import annotations

import argparse
import os

from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket


def register(bucket: str, name: str, folder: str = "", endpoint_url: str | None = None) -> None:
    """Save `<name>-credentials` and `<name>` (overwriting blocks of the same names)."""
    missing = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not os.environ.get(k)]
    if missing:
        raise SystemExit(f"set {' and '.join(missing)} first (they go into the Prefect block)")
    credentials = AwsCredentials(
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN"),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint_url))
    credentials.save(f"{name}-credentials", overwrite=True)
    S3Bucket(bucket_name=bucket, bucket_folder=folder, credentials=credentials).save(
        name, overwrite=True)
    print(f"registered S3Bucket block {name!r} (bucket {bucket}); "
          f"export AUTOSLO_STORAGE=s3-bucket/{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--name", default="autoslo-data")
    parser.add_argument("--folder", default="")
    parser.add_argument("--endpoint-url", default=None)
    args = parser.parse_args()
    register(args.bucket, args.name, args.folder, args.endpoint_url)


if __name__ == "__main__":
    main()
