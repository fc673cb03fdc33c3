"""Building requests for a TF Serving server running a `segtf export` SavedModel: the REST
`:predict` body and the gRPC `PredictRequest` (see docs/export.md)."""

from __future__ import annotations

from segtf.export import DEFAULT_SIGNATURE, INPUT_NAME


def rest_body(encoded_images: list[bytes], signature_name: str = DEFAULT_SIGNATURE) -> dict:
    """A TF Serving REST `:predict` body (row format) for encoded images.

    POST it as JSON to `http://HOST:8501/v1/models/<name>:predict`.
    """
    import base64

    return {
        "signature_name": signature_name,
        "instances": [{"b64": base64.b64encode(bytes(b)).decode("ascii")} for b in encoded_images],
    }


def grpc_request(
    model_name: str,
    encoded_images: list[bytes],
    signature_name: str = DEFAULT_SIGNATURE,
    version: int | None = None,
):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` for encoded images.

    Needs `tensorflow-serving-api`; send it with `PredictionServiceStub(channel).Predict`.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    request.inputs[INPUT_NAME].CopyFrom(
        tf.make_tensor_proto([bytes(b) for b in encoded_images], dtype=tf.string)
    )
    return request
