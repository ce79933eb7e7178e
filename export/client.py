"""A small TF Serving client for exported keras-ae models: REST by default, gRPC optional.

Needs only NumPy and the standard library for REST (no TensorFlow, no keras_ae); gRPC needs
``pip install tensorflow-serving-api`` (which brings TensorFlow).

    python -m export.client --model ae-digits --signature reconstruct --npy batch.npy
    python -m export.client --model vae-digits --signature sample --n 4
    python -m export.client --model ae-digits --body exports/ae-digits/1/requests/score.json

Example::

    from export.client import RestClient
    client = RestClient("http://localhost:8501", "ae-digits")
    recon = client.predict("reconstruct", x=batch)["reconstruction"]   # numpy [B, 8, 8, 1]
    samples = client.predict("sample", n=4, temperature=1.0)["x"]
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

import numpy as np


class ServingError(RuntimeError):
    """TF Serving answered with an error (e.g. a NaN input: ``x contains NaN or infinite values``)."""


def _as_arrays(outputs):
    if isinstance(outputs, dict):
        return {k: np.asarray(v, np.float32) for k, v in outputs.items()}
    return np.asarray(outputs, np.float32)


class RestClient:
    """``:predict`` over TF Serving's REST API (port 8501).

    Args:
        url: server root, default ``http://localhost:8501``.
        model: the model name in ``models.config``.
        version: a version number, default: the latest the server has loaded.
        timeout: seconds, default 30.
    """

    def __init__(self, url="http://localhost:8501", model="ae", version=None, timeout=30.0):
        path = f"/v1/models/{model}" + (f"/versions/{int(version)}" if version is not None else "")
        self.endpoint = url.rstrip("/") + path + ":predict"
        self.status_url = url.rstrip("/") + path
        self.timeout = timeout

    def post(self, body):
        """Send a request body (dict) and return the decoded JSON response."""
        data = json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.endpoint, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise ServingError(f"HTTP {e.code}: {detail}") from None

    def predict(self, signature, **inputs):
        """Run one signature; batched inputs go in the columnar format. Returns ``{output: array}``.

        ``signature``: encode, decode, reconstruct, score or sample; inputs ``x=`` (a batch),
        ``z=`` (codes) or ``n=`` (number of samples).
        """
        body = {"signature_name": signature,
                "inputs": {k: (int(v) if k == "n" else np.asarray(v, np.float32).tolist()) for k, v in inputs.items()}}
        outputs = self.post(body)["outputs"]
        if not isinstance(outputs, dict):  # one output: TF Serving drops its name
            outputs = {_SINGLE_OUTPUT.get(signature, "output"): outputs}
        return _as_arrays(outputs)

    def status(self):
        with urllib.request.urlopen(self.status_url, timeout=self.timeout) as response:
            return json.loads(response.read())


_SINGLE_OUTPUT = {"decode": "reconstruction", "reconstruct": "reconstruction", "score": "score", "sample": "x"}


class GrpcClient:
    """``Predict`` over gRPC (port 8500); needs ``tensorflow-serving-api``.

    Example: ``GrpcClient("localhost:8500", "ae-digits").predict("encode", x=batch)["code"]``.
    """

    def __init__(self, target="localhost:8500", model="ae", version=None, timeout=30.0):
        try:
            import grpc
            from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
        except ImportError as e:
            raise ImportError("the gRPC client needs `pip install tensorflow-serving-api grpcio`") from e
        import tensorflow as tf

        self._tf, self._predict_pb2 = tf, predict_pb2
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(target))
        self.model, self.version, self.timeout = model, version, timeout

    def predict(self, signature, **inputs):
        request = self._predict_pb2.PredictRequest()
        request.model_spec.name = self.model
        request.model_spec.signature_name = signature
        if self.version is not None:
            request.model_spec.version.value = int(self.version)
        for key, value in inputs.items():
            dtype = self._tf.int32 if key == "n" else self._tf.float32
            request.inputs[key].CopyFrom(self._tf.make_tensor_proto(value, dtype=dtype))
        response = self._stub.Predict(request, self.timeout)
        return {k: self._tf.make_ndarray(v) for k, v in response.outputs.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.client", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model name in models.config")
    parser.add_argument("--signature", default="reconstruct", help="encode, decode, reconstruct, score, sample")
    parser.add_argument("--npy", help="input batch (.npy) for x (or z for decode)")
    parser.add_argument("--n", type=int, default=4, help="number of samples for --signature sample")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sampling temperature for --signature sample (> 0; 1.0 is the model's distribution)")
    parser.add_argument("--body", help="send this JSON request body as is (e.g. exports/NAME/1/requests/score.json)")
    parser.add_argument("--url", default="http://localhost:8501", help="REST root (default http://localhost:8501)")
    parser.add_argument("--grpc", help="use gRPC at HOST:PORT instead of REST (needs tensorflow-serving-api)")
    args = parser.parse_args(argv)
    try:
        if args.body:
            with open(args.body) as f:
                print(json.dumps(RestClient(args.url, args.model).post(json.load(f)))[:2000])
            return 0
        if args.signature == "sample":
            inputs = {"n": args.n, "temperature": args.temperature}
        elif args.npy:
            inputs = {"z" if args.signature == "decode" else "x": np.load(args.npy)}
        else:
            parser.error("--npy is needed for every signature except sample")
        client = GrpcClient(args.grpc, args.model) if args.grpc else RestClient(args.url, args.model)
        for key, value in client.predict(args.signature, **inputs).items():
            print(f"{key}: shape {tuple(value.shape)}, min {value.min():.4g}, max {value.max():.4g}")
        return 0
    except (ServingError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
