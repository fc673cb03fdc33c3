"""segtf viewer: upload a photo (or pick an example), choose a model, see the segmentation.

Run with `streamlit run apps/viewer.py` or `segtf viewer`. `$SEGTF_ZOO` points the page at
another folder of models. The logic lives in `segtf.viewer`; this file only lays out the page.
"""

from __future__ import annotations

import hashlib
import logging
import pathlib
import sys

import streamlit as st

try:
    import segtf  # noqa: F401
except ImportError:  # running from a clone without `pip install -e .`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from segtf.imageio import InvalidImageError
from segtf.viewer import batch, compose, gallery, inputs, legend, models, runner

logger = logging.getLogger("segtf.viewer")

st.set_page_config(page_title="segtf viewer", page_icon="🎨", layout="wide")


# ---- Cached work: the model loads once per process, each result once per input + options.
@st.cache_resource(show_spinner="Loading the model (first time only)…", max_entries=3)
def load_segmenter(path: str, weights_stamp: float):
    return runner.load_segmenter(path)


@st.cache_data(show_spinner=False, max_entries=8)
def segment(
    image_key: str, _image, model_path: str, weights_stamp: float, tta: bool, tile: int | None
) -> runner.ViewerResult:
    return runner.run(load_segmenter(model_path, weights_stamp), _image, tta=tta, tile=tile)


@st.cache_data(show_spinner=False)
def thumbnail(path: str) -> bytes:
    return compose.thumbnail_bytes(path)


def run_model(entry: models.ZooEntry, data: bytes, image) -> runner.ViewerResult:
    """The (cached) result of `entry` on one decoded upload with the sidebar's options."""
    stamp = entry.weights_stamp()
    load_segmenter(str(entry.path), stamp)
    key = hashlib.sha1(data).hexdigest()
    return segment(key, image, str(entry.path), stamp, tta, tile)


def failure_text(entry: models.ZooEntry, err: Exception) -> str:
    """What the page says when a model cannot segment an image (never a traceback)."""
    if isinstance(err, InvalidImageError):
        return f"**That image can't be segmented.** {err}"
    logger.error("%s failed", entry.path, exc_info=err)
    return f"**Segmentation failed** with {entry.name}: {err}"


def show_batch(entry: models.ZooEntry, files) -> None:
    """Several uploads: a gallery of overlays, each bad file named, one zip of all results."""
    outcomes = []
    progress = st.progress(0.0, text=f"Segmenting {len(files)} images with {entry.name}…")
    for done, upload in enumerate(files, start=1):
        try:
            data = upload.getvalue()
            image = inputs.decode_upload(data, upload.name)
            outcomes.append(batch.BatchOutcome(upload.name, run_model(entry, data, image)))
        except Exception as err:  # noqa: BLE001  (one bad file is one failed item)
            message = str(err) if isinstance(err, InvalidImageError) else failure_text(entry, err)
            outcomes.append(batch.BatchOutcome(upload.name, error=message))
        progress.progress(done / len(files), text=f"{done} of {len(files)} segmented")
    progress.empty()
    good = [o for o in outcomes if o.result is not None]
    st.subheader(f"{len(good)} of {len(outcomes)} images segmented with {entry.name}")
    for outcome in outcomes:
        if outcome.error:
            st.error(f"**{outcome.name}** can't be used: {outcome.error}", icon="🚫")
    columns = st.columns(3)
    for i, outcome in enumerate(good):
        result = outcome.result
        view = compose.make_views(result.labels, result.alpha, entry.palette, threshold)
        overlay = compose.blend(result.image, view.mask_rgb, 0.5, view.overlay_alpha)
        columns[i % 3].image(
            overlay,
            caption=f"{outcome.name} · {result.seconds:.2f} s",
            width="stretch",
            alt=f"mask over {outcome.name}",
        )
    st.download_button(
        "All results (ZIP)",
        lambda: batch.results_zip(outcomes, entry.class_names, entry.palette, threshold=threshold),
        f"segtf_{entry.name}_results.zip",
        "application/zip",
        on_click="ignore",
        icon=":material/download:",
        disabled=not good,
    )


def legend_areas(view, model: models.ZooEntry) -> list[legend.ClassArea]:
    """The legend rows of a result; a foreground model's legend names both classes ("person 0.0%"
    says nothing was found)."""
    return legend.class_areas(
        view.labels, model.class_names, view.palette, include_absent=model.task == "foreground"
    )


def show_comparison(data: bytes, image, first, second: models.ZooEntry, opacity: float) -> None:
    """The same photo through two models (`first` is the main (entry, result)), overlays and
    legends side by side."""
    st.subheader(f"Side by side: {first[0].name} and {second.name}")
    try:
        other = run_model(second, data, image)
    except Exception as err:  # noqa: BLE001  (the first model's result stays on the page)
        st.error(failure_text(second, err), icon="⚠️")
        return
    for column, (model, result) in zip(st.columns(2), (first, (second, other)), strict=True):
        view = compose.make_views(result.labels, result.alpha, model.palette, threshold)
        overlay = compose.blend(result.image, view.mask_rgb, opacity, view.overlay_alpha)
        column.image(
            overlay,
            caption=f"{model.name} · {result.seconds:.2f} s",
            width="stretch",
            alt=f"{model.name} overlay",
        )
        if result.warning:
            column.warning(f"**Outside this model's domain?** {result.warning}", icon="🤔")
        column.markdown(legend.legend_html(legend_areas(view, model)), unsafe_allow_html=True)


def pick(source: str) -> None:
    if source != "upload":
        st.session_state.upload_round += 1  # a new uploader widget: the old upload is cleared
    st.session_state.source = source


st.session_state.setdefault("source", None)
st.session_state.setdefault("upload_round", 0)

# ---- Sidebar: the model and the options.
entries = models.list_entries()
with st.sidebar:
    st.header("Model")
    if not entries:
        st.warning(
            f"No models found in `{models.zoo_dir()}`. Train one (`segtf train`) or set "
            "`SEGTF_ZOO` to a folder of model folders, then reload this page."
        )
        st.stop()
    by_name = {e.name: e for e in entries}
    entry = by_name[
        st.selectbox("Model", list(by_name), format_func=lambda n: by_name[n].label, key="model")
    ]
    st.caption(
        f"**Task** {entry.task} · **Dataset** {entry.info.dataset or 'n/a'} · "
        f"**Classes** {', '.join(entry.class_names)}"
    )
    metric_rows = models.format_metrics(entry.info.metrics)
    if metric_rows:
        st.markdown("\n".join(f"- **{label}**: {value}" for label, value in metric_rows))
    else:
        st.caption("No measured metrics in this model's card yet.")
    if entry.card():
        with st.expander("Model card"):
            st.markdown(entry.card())

    others = [name for name in by_name if name != entry.name]
    compare_name = st.selectbox(
        "Compare with",
        ["(none)", *others],
        key="compare",
        help="Segment the same photo with a second model and show both side by side.",
    )
    compare = by_name.get(compare_name)

    st.header("Options")
    tta = st.toggle(
        "Test-time augmentation",
        help="Average passes at scales 0.75, 1 and 1.25, each also flipped: slightly better "
        "masks, about 6x slower.",
        key="tta",
    )
    tiled = st.toggle(
        "Tiled high-resolution mode",
        key="tiled",
        help=f"Segment large photos tile by tile at full resolution. Off: photos "
        f"are shrunk to {inputs.MAX_SIDE} px on the long side.",
    )
    tile = (
        st.select_slider(
            "Tile size (px)", [256, 384, 512, 768, 1024], value=512, disabled=not tiled, key="tile"
        )
        if tiled
        else None
    )
    threshold = 0.5
    if entry.task == "foreground":
        threshold = st.slider(
            "Foreground threshold",
            0.05,
            0.95,
            0.5,
            0.05,
            key="threshold",
            help="Pixels whose matte is below this count as background.",
        )

# ---- Main: choose an image.
st.title("segtf viewer")
st.write("Upload a photo or pick an example, and see what the model segments.")
uploads = st.file_uploader(
    "Upload images",
    type=list(inputs.UPLOAD_TYPES),
    key=f"upload_{st.session_state.upload_round}",
    max_upload_size=inputs.MAX_UPLOAD_MB,
    on_change=pick,
    args=("upload",),
    accept_multiple_files=True,
    help=f"PNG, JPEG, WebP, BMP, TIFF or GIF, up to {inputs.MAX_UPLOAD_MB} MB each. Several "
    "files give a gallery and one zip with every result.",
)

examples = gallery.order_for(gallery.find_examples(), entry.info.dataset)
with st.expander("Examples", expanded=True):
    shelf = st.container(horizontal=True, wrap=True)  # flows: 6 a row on desktops, 2 on phones
    for i, example in enumerate(examples):
        with shelf.container(width=140, gap="small"):
            st.image(thumbnail(str(example.path)), width="stretch", alt=example.title)
            st.button(
                example.title,
                key=f"example_{i}",
                width="stretch",
                on_click=pick,
                args=(str(example.path),),
                type="primary" if st.session_state.source == str(example.path) else "secondary",
            )

# ---- Decode the chosen image: a bad upload is a message, never a traceback.
source = st.session_state.source
if source == "upload" and not uploads:
    source = None
if source is None:
    st.info("⬆️ Upload images or click an example to start.")
    st.stop()
if source == "upload" and len(uploads) > 1:
    show_batch(entry, uploads)
    st.stop()
try:
    if source == "upload":
        data, name = uploads[0].getvalue(), uploads[0].name
    else:
        data, name = pathlib.Path(source).read_bytes(), pathlib.Path(source).name
    image = inputs.decode_upload(data, name)
except InvalidImageError as err:
    st.error(f"**That file can't be used.** {err}", icon="🚫")
    st.stop()

# ---- Load the model (once per process), then segment (cached: sliders do not re-run it).
try:
    load_segmenter(str(entry.path), entry.weights_stamp())
except Exception as err:  # noqa: BLE001  (a broken model folder is a message, not a crash)
    logger.exception("loading %s failed", entry.path)
    st.error(f"**Could not load the model {entry.name}** from `{entry.path}`: {err}", icon="⚠️")
    st.stop()
try:
    with st.spinner(f"Segmenting with {entry.name}…"):
        result = run_model(entry, data, image)
except Exception as err:  # noqa: BLE001  (the page must stay usable whatever the model does)
    st.error(failure_text(entry, err), icon="⚠️")
    st.stop()

if result.warning:
    st.warning(f"**Outside this model's domain?** {result.warning}", icon="🤔")
view = compose.make_views(result.labels, result.alpha, entry.palette, threshold)
height, width = result.image.shape[:2]
note = ""
if (height, width) != result.original_size:
    oh, ow = result.original_size
    note = f" (shrunk from {ow}×{oh}; turn on tiled mode for full resolution)"
st.caption(
    f"**{name}** · {width}×{height}{note} · inference **{result.seconds:.2f} s**"
    f"{' with TTA' if tta else ''}{f', {tile} px tiles' if tile else ''}"
)

# ---- Results: input, mask, overlay (+ cut-outs for foreground models), all the same size.
controls = st.container(horizontal=True, gap="large")
opacity = controls.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="opacity", width=320)
if entry.task == "foreground":
    colour = controls.color_picker("Cut-out background", "#1e90ff", key="background")
overlay = compose.blend(result.image, view.mask_rgb, opacity, view.overlay_alpha)
pictures = [
    (result.image, "Input", "input image"),
    (view.mask_rgb, "Mask", "segmentation mask"),
    (overlay, "Overlay", "mask over the image"),
]
if entry.task == "foreground":
    board = compose.checkerboard(height, width)
    pictures += [
        (compose.composite(result.image, view.alpha, board), "Cut-out (transparent)", "cut-out"),
        (
            compose.composite(result.image, view.alpha, compose.hex_to_rgb(colour)),
            "Cut-out on a colour",
            "cut-out on the chosen colour",
        ),
    ]
for row in range(0, len(pictures), 3):
    for column, (picture, caption, alt) in zip(
        st.columns(3), pictures[row : row + 3], strict=False
    ):
        column.image(picture, caption=caption, width="stretch", alt=alt)

# ---- Legend and downloads.
areas = legend_areas(view, entry)
st.subheader("Classes in this image")
st.markdown(legend.legend_html(areas), unsafe_allow_html=True)

stem = pathlib.Path(name).stem
downloads = st.container(horizontal=True)
downloads.download_button(
    "Mask PNG",
    lambda: compose.png_bytes(view.labels, view.palette),
    f"{stem}_mask.png",
    "image/png",
    on_click="ignore",
    icon=":material/download:",
)
downloads.download_button(
    "Overlay PNG",
    lambda: compose.png_bytes(overlay),
    f"{stem}_overlay.png",
    "image/png",
    on_click="ignore",
    icon=":material/download:",
)
if entry.task == "foreground":
    downloads.download_button(
        "Cut-out PNG",
        lambda: compose.png_bytes(compose.cutout_rgba(result.image, view.alpha)),
        f"{stem}_cutout.png",
        "image/png",
        on_click="ignore",
        icon=":material/download:",
    )
downloads.download_button(
    "Class areas CSV",
    legend.areas_csv(areas),
    f"{stem}_areas.csv",
    "text/csv",
    on_click="ignore",
    icon=":material/download:",
)

# ---- Optional: a second model on the same photo.
if compare is not None:
    show_comparison(data, image, (entry, result), compare, opacity)
