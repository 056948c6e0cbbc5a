"""The carrier-photos stand-in and the local photo fetcher: real TLS on loopback, trusting only its certificate."""

from __future__ import annotations

import pytest

from herald.adapters.https_photos import HttpsPhotoFetcher
from herald.usecases.ports import PhotoUnavailable
from herald_tools.local.ports import carrier_photos_stand_in
from herald_tools.local.standins.carrier_photos import CarrierPhotosStandIn


def test_every_carrier_host_is_the_stand_in_over_tls_locally() -> None:
    with CarrierPhotosStandIn() as standin:
        fetcher = carrier_photos_stand_in(standin.url, str(standin.ca_path))
        # When the order page fetches a carrier's photo
        photo = fetcher.fetch("https://pod.carrier.example/photos/1Z999.jpg")
        # Then the stand-in served it, as that host's path, and it is a JPEG
        assert photo.content_type == "image/jpeg"
        assert photo.body.startswith(b"\xff\xd8\xff")
        assert standin.requests == ["/pod.carrier.example/photos/1Z999.jpg"]
        # And a URL that is not https is still refused, as deployed
        with pytest.raises(PhotoUnavailable, match="not https"):
            fetcher.fetch("http://pod.carrier.example/photos/1Z999.jpg")


def test_the_production_fetcher_refuses_the_stand_in_and_an_untrusted_certificate() -> None:
    with CarrierPhotosStandIn() as standin:
        # The deployed fetcher never reaches a loopback host
        with pytest.raises(PhotoUnavailable, match="not a public address"):
            HttpsPhotoFetcher().fetch(f"{standin.url}/x.jpg")
        # And a fetcher allowed the host but not trusting the stand-in's certificate fails the TLS handshake
        import urllib3

        untrusting = HttpsPhotoFetcher(urllib3.PoolManager(retries=False), allow_host=lambda host: True)
        with pytest.raises(PhotoUnavailable, match="could not be fetched"):
            untrusting.fetch(f"{standin.url}/x.jpg")
        assert standin.requests == []
