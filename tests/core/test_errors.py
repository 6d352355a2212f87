from aerial_landuse.core.errors import plain_error_message, storage_outage_in


def _chained(*messages: str) -> BaseException:
    error = None
    for message in messages:
        try:
            raise RuntimeError(message) from error
        except RuntimeError as raised:
            error = raised
    return error


def test_the_endpoint_of_an_outage_is_named_wherever_the_text_names_it():
    aiohttp = "ClientConnectorError: Cannot connect to host 127.0.0.1:10000 ssl:default"
    assert storage_outage_in(_chained(aiohttp)) == "127.0.0.1:10000"
    azure = (
        "azure.core.exceptions.ServiceRequestError: Cannot connect to host 127.0.0.1:5500 "
        "ssl:default [Connect call failed ('127.0.0.1', 5500)]"
    )
    assert storage_outage_in(_chained("Job aborted", azure)) == "127.0.0.1:5500"
    by_url = "ServiceRequestError: <urllib3 ...> https://acct.blob.core.windows.net/c/x.png"
    assert storage_outage_in(_chained(by_url)) == "acct.blob.core.windows.net"
    assert storage_outage_in(_chained("ServiceRequestError: timed out")) == "storage"
    assert storage_outage_in(_chained("ValueError: https://example.org/ not an outage")) is None
    assert "kedro run --only-missing-outputs" in plain_error_message(_chained(azure))
