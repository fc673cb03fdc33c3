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


# --- TF Serving warm-up records, written without tensorflow-serving-api ----------------------
# A warm-up file is a TFRecord of `tensorflow.serving.PredictionLog` messages. Their few
# wrapping fields are encoded by hand (protobuf wire format, field numbers from
# tensorflow_serving/apis/*.proto) around TensorFlow's own TensorProto, so an export needs no
# extra package; the export test parses the result with the real protos.


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings, bytes and nested messages."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def warmup_record(model_name: str, signature_name: str, encoded_images: list[bytes]) -> bytes:
    """One serialised `PredictionLog` whose `predict_log.request` sends `encoded_images`."""
    import tensorflow as tf

    tensor = tf.make_tensor_proto([bytes(b) for b in encoded_images], dtype=tf.string)
    model_spec = _field(1, model_name.encode()) + _field(3, signature_name.encode())
    inputs_entry = _field(1, INPUT_NAME.encode()) + _field(2, tensor.SerializeToString())
    request = _field(1, model_spec) + _field(2, inputs_entry)
    predict_log = _field(1, request)
    return _field(6, predict_log)
