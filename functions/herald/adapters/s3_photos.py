"""The proof photos Herald keeps (the order page serves these copies, never the carrier's link)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from herald.usecases.ports import Photo

PREFIX = "proof-photos/"


class S3PhotoCopies:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def get(self, key: str) -> Photo | None:
        try:
            found = self._s3.get_object(Bucket=self._bucket, Key=PREFIX + key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return Photo(str(found["ContentType"]), found["Body"].read())

    def put(self, key: str, photo: Photo) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=PREFIX + key,
            Body=photo.body,
            ContentType=photo.content_type,
            ServerSideEncryption="AES256",
        )
