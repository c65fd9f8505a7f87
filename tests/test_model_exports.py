"""Downloading a model's network for phones and ONNX Runtime from the app
(``GET /api/v1/models/NAME/export``, web/model_exports.py): a ZIP of the exported file and its
model card, which the runtime reads as the Keras model does. The app serves a tiny untrained
model, so that converting it takes a second, not the shipped network's half a minute."""

import io
import zipfile

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # converts networks (a few seconds each)


@pytest.fixture(scope="module")
def app(tiny_model_dir, tmp_path_factory):
    from app import create_app

    return create_app({
        "TESTING": True, "HTR_MODEL": str(tiny_model_dir), "HTR_DECODERS": ["greedy"],
        "HTR_TESSERACT": False, "HTR_WARMUP": False, "HTR_BACKGROUND_LOAD": False,
        "HTR_JOBS": False, "HTR_MODELS_DIR": str(tmp_path_factory.mktemp("models"))})


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("HTR_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.mark.parametrize("fmt,quantize", [("tflite", None), ("onnx", None), ("tflite", "float16")])
def test_a_model_downloads_as_a_network_with_its_card(client, tiny_model_dir, tmp_path, fmt, quantize):
    from conftest import draw_text
    from htr.image import preprocess
    from htr.recognizer import Recognizer
    from htr.runtimes import load_network

    query = f"format={fmt}" + (f"&quantize={quantize}" if quantize else "")
    r = client.get(f"/api/v1/models/{tiny_model_dir.name}/export?{query}")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert r.headers["Content-Disposition"].endswith(f"-{fmt}.zip")
    with zipfile.ZipFile(io.BytesIO(r.data)) as z:
        names = sorted(z.namelist())
        z.extractall(tmp_path)
    network = next(n for n in names if n.endswith("." + fmt))
    assert names == sorted([network, network + ".card.json", network + ".card.md"])
    # What the file reads is what the model reads.
    keras = Recognizer.load(tiny_model_dir, decoder="greedy", backend="tensorflow")
    inputs = [preprocess(draw_text("a line"), keras.height)]
    got = load_network(tmp_path / network).probabilities(inputs)[0]
    want = keras.probabilities(inputs)[0]
    assert got.shape == want.shape and np.abs(got - want).max() < (1e-2 if quantize else 1e-4)


def test_a_second_download_is_the_same_file(client, tiny_model_dir):
    url = f"/api/v1/models/{tiny_model_dir.name}/export?format=onnx"
    first, second = client.get(url), client.get(url)
    network = lambda r: zipfile.ZipFile(io.BytesIO(r.data)).read(  # noqa: E731
        next(n for n in zipfile.ZipFile(io.BytesIO(r.data)).namelist() if n.endswith(".onnx")))
    assert network(first) == network(second)


def test_bad_requests_say_what_is_offered(client, tiny_model_dir, openapi):
    import jsonschema

    schema = {"$ref": "#/components/schemas/ModelError", "components": openapi["components"]}
    for url, status, words in [
            (f"/api/v1/models/{tiny_model_dir.name}/export?format=coreml", 400, "onnx, tflite"),
            (f"/api/v1/models/{tiny_model_dir.name}/export?quantize=int4", 400, "float16, int8"),
            ("/api/v1/models/nobody/export", 404, "nobody")]:
        r = client.get(url)
        assert r.status_code == status and words in r.get_json()["message"]
        jsonschema.validate(r.get_json(), schema)


def test_the_models_page_offers_each_download(client, tiny_model_dir):
    page = client.get("/models").get_data(as_text=True)
    for query in ("format=tflite", "format=tflite&amp;quantize=int8", "format=onnx"):
        assert f"/api/v1/models/{tiny_model_dir.name}/export?{query}" in page
