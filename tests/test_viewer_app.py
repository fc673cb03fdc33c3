"""The Streamlit page, driven by `streamlit.testing.v1.AppTest` against tiny untrained models."""

from __future__ import annotations

import io
import pathlib

import pytest
from PIL import Image

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(pathlib.Path(__file__).resolve().parents[1] / "apps" / "viewer.py")
TIMEOUT = 120  # first run imports TensorFlow and loads the model on 2 shared cores


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    from segtf.viewer.testing import make_tiny_zoo

    folder = tmp_path_factory.mktemp("zoo")
    make_tiny_zoo(folder)
    return folder


@pytest.fixture
def app(tiny_zoo, monkeypatch):
    monkeypatch.setenv("SEGTF_ZOO", str(tiny_zoo))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def _click_example(at: AppTest, title: str) -> None:
    button = next(b for b in at.button if b.label == title)
    button.click().run()
    assert not at.exception, at.exception


def _captions(at: AppTest) -> list[str]:
    return [caption for image in at.image for caption in image.captions if caption]


def test_page_loads_with_models_and_examples(app):
    assert app.title[0].value == "segtf viewer"
    picker = app.selectbox(key="model")
    assert picker.options == ["tiny_person (foreground cut-out)", "tiny_road (3 classes)"]
    assert picker.value == "tiny_person"
    titles = [b.label for b in app.button]
    assert {"Street person", "Astronaut", "Cat", "Coffee"} <= set(titles)
    assert "Upload images or click an example" in app.info[0].value


def test_page_without_models_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGTF_ZOO", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "No models found" in at.warning[0].value


def test_choosing_an_example_produces_a_mask_legend_and_downloads(app):
    app.selectbox(key="model").set_value("tiny_road").run()
    _click_example(app, "Street person")
    captions = _captions(app)
    assert {"Input", "Mask", "Overlay"} <= set(captions)
    legend = next(m.value for m in app.markdown if "segtf-legend" in m.value)
    assert any(name in legend for name in ("sky", "road", "car"))
    assert any("inference" in c.value for c in app.caption)
    labels = {d.label for d in app.get("download_button")}
    assert {"Mask PNG", "Overlay PNG", "Class areas CSV"} <= labels

    app.slider(key="opacity").set_value(0.9).run()  # re-draws without a new inference
    assert not app.exception and "Overlay" in _captions(app)


def test_changing_the_model_reruns_with_its_options(app):
    app.selectbox(key="model").set_value("tiny_road").run()
    _click_example(app, "Astronaut")
    assert "Cut-out (transparent)" not in _captions(app)
    assert not [s for s in app.slider if s.key == "threshold"]

    app.selectbox(key="model").set_value("tiny_person").run()
    assert not app.exception, app.exception
    assert {"Mask", "Cut-out (transparent)", "Cut-out on a colour"} <= set(_captions(app))
    app.slider(key="threshold").set_value(0.8).run()
    assert not app.exception
    assert "Cut-out PNG" in {d.label for d in app.get("download_button")}


def test_options_tta_and_tiles_rerun(app):
    app.selectbox(key="model").set_value("tiny_road").run()
    _click_example(app, "Cat")
    app.toggle(key="tta").set_value(True).run()
    assert not app.exception and any("with TTA" in c.value for c in app.caption)
    app.toggle(key="tta").set_value(False)
    app.toggle(key="tiled").set_value(True).run()
    assert not app.exception and any("px tiles" in c.value for c in app.caption)


def _png_bytes(size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 100, 50)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("notes.png", b"this is not an image at all", "could not be read"),
        ("cut.png", _png_bytes()[:50], "could not be read"),
        ("empty.jpg", b"", "empty"),
    ],
)
def test_a_bad_upload_shows_a_message_and_the_app_keeps_working(app, name, data, words):
    app.file_uploader[0].set_value((name, data, "image/png")).run()
    assert not app.exception, app.exception
    assert app.error, "expected an error message in the page"
    assert name in app.error[0].value and words in app.error[0].value
    assert "Traceback" not in app.error[0].value

    app.file_uploader[0].set_value(("ok.png", _png_bytes(), "image/png")).run()
    assert not app.exception and not app.error
    assert "Mask" in _captions(app)


def test_a_large_photo_is_shrunk_and_says_so(app):
    app.selectbox(key="model").set_value("tiny_road").run()
    app.file_uploader[0].set_value(("wide.png", _png_bytes((2400, 600)), "image/png")).run()
    assert not app.exception, app.exception
    assert any("shrunk from 2400×600" in c.value for c in app.caption)


def test_a_broken_model_folder_shows_a_message(tiny_zoo, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(tiny_zoo / "tiny_road", tmp_path / "broken_road")
    (tmp_path / "broken_road" / "model.weights.h5").write_bytes(b"not weights")
    monkeypatch.setenv("SEGTF_ZOO", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    _click_example(at, "Street person")
    assert not at.exception, at.exception
    assert "Could not load the model broken_road" in at.error[0].value


def test_two_models_side_by_side_on_the_same_photo(app):
    app.selectbox(key="model").set_value("tiny_person").run()
    assert app.selectbox(key="compare").options == ["(none)", "tiny_road"]
    _click_example(app, "Cat")
    app.selectbox(key="compare").set_value("tiny_road").run()
    assert not app.exception, app.exception
    assert any("Side by side: tiny_person and tiny_road" in h.value for h in app.subheader)
    captions = _captions(app)
    assert any(c.startswith("tiny_person · ") for c in captions)
    assert any(c.startswith("tiny_road · ") for c in captions)
    legends = [m.value for m in app.markdown if "segtf-legend" in m.value]
    assert len(legends) == 3  # the main result's and one per compared model
    # a foreground legend names both classes even where one has no pixels (an untrained model)
    assert all(n in legends[0] and n in legends[1] for n in ("background", "person"))
    assert any(n in legends[2] for n in ("sky", "road", "car"))


def test_several_uploads_give_a_gallery_failures_and_one_zip(app):
    app.selectbox(key="model").set_value("tiny_road").run()
    files = [
        ("a.png", _png_bytes(), "image/png"),
        ("broken.png", b"not an image", "image/png"),
        ("b.png", _png_bytes((50, 20)), "image/png"),
    ]
    app.file_uploader[0].set_value(files).run()
    assert not app.exception, app.exception
    assert any("2 of 3 images segmented" in h.value for h in app.subheader)
    assert len(app.error) == 1 and "broken.png" in app.error[0].value
    captions = _captions(app)
    assert [c.split(" · ")[0] for c in captions] == ["a.png", "b.png"]
    assert "All results (ZIP)" in {d.label for d in app.get("download_button")}
